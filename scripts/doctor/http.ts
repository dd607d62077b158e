/**
 * Every request the doctor makes goes through here, so that each one has a
 * deadline, none follows redirects behind our back (an MCP client follows only
 * same-origin ones, and a redirect is itself worth reporting), and a failure
 * becomes one sentence an operator can act on instead of undici's "fetch failed".
 */

import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

export type Json = Record<string, unknown>;

/** Discovery documents and error bodies are small; a huge answer is a misconfiguration, not something to buffer. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpAnswer {
  readonly ok: true;
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

export type NetworkProblemKind = 'timeout' | 'refused' | 'dns' | 'tls' | 'reset' | 'invalid-url' | 'other';

export interface NetworkProblem {
  readonly ok: false;
  readonly url: string;
  readonly kind: NetworkProblemKind;
  /** One sentence, naming the URL. */
  readonly message: string;
}

export type HttpOutcome = HttpAnswer | NetworkProblem;

export interface HttpClient {
  readonly timeoutMs: number;
  request(url: string, init?: RequestInit): Promise<HttpOutcome>;
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'EPROTO',
]);

/** undici hides the system error a level or two down in `cause`. */
function errorCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_CONNECT_TIMEOUT') return code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'ETIMEDOUT';
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function innermostMessage(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  for (let current: unknown = error, depth = 0; current && depth < 4; depth += 1) {
    if (current instanceof Error && current.message) message = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return message;
}

/** `timedOut`: the request's own deadline passed, whatever error fetch reported it with. */
function describeNetworkError(url: string, error: unknown, timeoutMs: number, timedOut: boolean): NetworkProblem {
  if (timedOut) {
    return { ok: false, url, kind: 'timeout', message: `${url} did not answer within ${timeoutMs / 1000} s` };
  }
  const code = errorCode(error);
  const host = URL.canParse(url) ? new URL(url).host : url;
  switch (code) {
    case 'ECONNREFUSED':
      return { ok: false, url, kind: 'refused', message: `${url}: connection refused (nothing listens on ${host})` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { ok: false, url, kind: 'dns', message: `${url}: the host name ${new URL(url).hostname} does not resolve (DNS)` };
    case 'ETIMEDOUT':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return { ok: false, url, kind: 'timeout', message: `${url}: ${host} is unreachable (${code})` };
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return {
        ok: false,
        url,
        kind: 'reset',
        message: `${url}: the connection was closed before an answer (${code}); an http:// URL on an HTTPS port does this`,
      };
  }
  if (code && (TLS_CODES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL'))) {
    return { ok: false, url, kind: 'tls', message: `${url}: TLS failed (${code}: ${innermostMessage(error)})` };
  }
  return { ok: false, url, kind: 'other', message: `${url}: ${innermostMessage(error)}${code ? ` (${code})` : ''}` };
}

/** The body as text, or undefined when it is larger than anything the doctor reads. */
async function readCapped(response: Response): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createHttpClient(timeoutMs: number = DEFAULT_TIMEOUT_MS): HttpClient {
  return {
    timeoutMs,
    async request(url, init = {}) {
      if (!URL.canParse(url)) return { ok: false, url, kind: 'invalid-url', message: `"${url}" is not a URL` };
      // One deadline for headers and body together: a server that sends headers and then stalls is as stuck as one that never answers.
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const response = await fetch(url, { redirect: 'manual', ...init, signal });
        const text = await readCapped(response);
        if (text === undefined) return { ok: false, url, kind: 'other', message: `${url}: the answer is larger than ${MAX_BODY_BYTES} bytes` };
        return { ok: true, url, status: response.status, headers: response.headers, text };
      } catch (error) {
        return describeNetworkError(url, error, timeoutMs, signal.aborted);
      }
    },
  };
}

/** The JSON object in an answer's body, or why there is none. */
export function jsonObjectOf(answer: HttpAnswer): { readonly value: Record<string, unknown> } | { readonly problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(answer.text);
  } catch {
    const type = answer.headers.get('content-type') ?? 'no Content-Type';
    return { problem: `the body is not JSON (${type}: ${preview(answer.text)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'the body is JSON but not an object' };
  return { value: value as Record<string, unknown> };
}

/** The start of a body, on one line, for messages. */
export function preview(text: string, length = 120): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return 'empty body';
  return line.length > length ? `${line.slice(0, length)}…` : line;
}

export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** What an error body says, in a few words: API Gateway's `message`, OAuth's `error` and description, or its start. */
export function describeErrorBody(text: string): string {
  const parsed = (() => {
    try {
      return JSON.parse(text) as Json;
    } catch {
      return undefined;
    }
  })();
  if (parsed && typeof parsed.message === 'string') return parsed.message;
  if (parsed && typeof parsed.error === 'string') {
    return typeof parsed.error_description === 'string' ? `${parsed.error}: ${preview(parsed.error_description, 160)}` : parsed.error;
  }
  return preview(text);
}

export type Fetched<T> = { readonly ok: true; readonly url: string; readonly value: T } | { readonly ok: false; readonly url: string; readonly problem: string; readonly status?: number; readonly network?: NetworkProblem };

/** GET a JSON object as clients fetch discovery documents: no redirects followed, one deadline. */
export async function getJsonObject(http: HttpClient, url: string): Promise<Fetched<Json>> {
  const answer: HttpOutcome = await http.request(url, { headers: { Accept: 'application/json', 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION } });
  if (!answer.ok) return { ok: false, url, problem: answer.message, network: answer };
  if (isRedirect(answer.status)) {
    return { ok: false, url, status: answer.status, problem: `${url}: HTTP ${answer.status} redirect to ${answer.headers.get('location') ?? '(no Location)'}` };
  }
  if (answer.status !== 200) return { ok: false, url, status: answer.status, problem: `${url}: HTTP ${answer.status} (${describeErrorBody(answer.text)})` };
  const parsed = jsonObjectOf(answer);
  if ('problem' in parsed) return { ok: false, url, status: answer.status, problem: `${url}: ${parsed.problem}` };
  return { ok: true, url, value: parsed.value };
}
