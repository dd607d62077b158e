/**
 * Small web-standard helpers every function core uses: JSON responses, OAuth
 * style errors, and reading a request body without ever holding more than a
 * bounded number of bytes.
 */
import { WebSearchMcpError } from './errors.js';

export const JSON_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' } as const;

/**
 * The text of responses built here, so that the API Gateway adapter can hand it
 * on without reading it back through the body's stream (its costliest step for
 * a small JSON answer). Anything else is read from its body as usual.
 */
const knownText = new WeakMap<Response, string>();

export function textResponse(text: string, init: ResponseInit): Response {
  const response = new Response(text, init);
  knownText.set(response, text);
  return response;
}

/** The text a response was built with by `textResponse`, if it was and its body is untouched. */
export function builtText(response: Response): string | undefined {
  return response.bodyUsed ? undefined : knownText.get(response);
}

export function jsonResponse(status: number, body: unknown, headers?: HeadersInit): Response {
  const merged = new Headers(JSON_HEADERS);
  if (headers) new Headers(headers).forEach((value, name) => merged.set(name, value));
  return textResponse(JSON.stringify(body), { status, headers: merged });
}

/** An RFC 6749 / RFC 7591 style error body: `{"error": …, "error_description": …}`. */
export function errorResponse(status: number, error: string, description: string, headers?: HeadersInit): Response {
  return jsonResponse(status, { error, error_description: description }, headers);
}

export function methodNotAllowed(allowed: readonly string[]): Response {
  return errorResponse(405, 'method_not_allowed', `Use ${allowed.join(' or ')} on this path.`, {
    Allow: allowed.join(', '),
  });
}

/** A body that passed its size limit: reported, never buffered whole. */
export class BodyTooLargeError extends WebSearchMcpError {
  readonly code = 'ERR_TOO_LARGE' as const;

  constructor(readonly maxBytes: number) {
    super(`The body exceeds ${maxBytes} bytes.`);
  }
}

export type BodyReadResult = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly error: BodyTooLargeError };

/**
 * Read a body stream, giving up as soon as it exceeds `maxBytes`: an oversized
 * body is refused without being buffered whole.
 */
export async function readLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<BodyReadResult> {
  if (!body) return { ok: true, bytes: new Uint8Array(0) };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { ok: false, error: new BodyTooLargeError(maxBytes) };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode UTF-8 strictly: undefined for bytes that are not text. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Parse JSON without throwing; `undefined` means "not JSON". */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(contentType: string | null): string {
  return (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

export function isJsonMediaType(contentType: string | null): boolean {
  const type = mediaType(contentType);
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
