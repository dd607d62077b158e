/**
 * The one adapter between API Gateway REST proxy events and the web-standard
 * function cores: an `APIGatewayProxyEvent` becomes a `Request`, the core's
 * `Response` becomes an `APIGatewayProxyResult`. Every function's index.ts is
 * this adapter wrapped around its core.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { OriginPolicy } from './cors.js';
import { builtText, errorResponse } from './http.js';
import { describeError, sourceMappedStack } from './observability.js';

/** What a core may know about the invocation besides the request itself. */
export interface Invocation {
  readonly requestId: string;
  /** The authorizer's context for protected routes (values arrive as strings). */
  readonly authorizer: Readonly<Record<string, unknown>> | undefined;
  /** Milliseconds left before Lambda stops this invocation. */
  readonly remainingTimeMs: () => number;
}

export type RequestCore = (request: Request, invocation: Invocation) => Promise<Response>;

/** A host name, an IPv4 or bracketed IPv6 address, and a port: nothing that could add a path or query. */
export const VALID_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** Methods whose requests may not carry a body in the Fetch API. */
const BODYLESS = new Set(['GET', 'HEAD']);

/** A header of the event as API Gateway sent it (`headers`, any case): the first match. */
export function headerValue(event: APIGatewayProxyEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === lower && typeof value === 'string') return value;
  }
  return undefined;
}

/** A list of strings as API Gateway sends it; anything else an event could hold yields nothing, not a crash. */
function stringsIn(values: unknown): string[] {
  return Array.isArray(values) ? values.filter((value): value is string => typeof value === 'string') : [];
}

/**
 * Build the `Request` a core sees. Throws a `BadRequestError` for input no
 * `Request` can hold (a header value with control characters, say).
 */
export function toRequest(event: APIGatewayProxyEvent): Request {
  const host = headerValue(event, 'host') ?? event.requestContext?.domainName ?? 'localhost';
  if (!VALID_HOST.test(host)) {
    throw new BadRequestError('The Host header is not a valid host.');
  }
  const protocol = headerValue(event, 'x-forwarded-proto') === 'http' ? 'http' : 'https';
  let url: URL;
  try {
    url = new URL(`${protocol}://${host}`);
    url.pathname = event.path ?? '/';
  } catch {
    throw new BadRequestError('The request URL is malformed.');
  }
  const query = event.multiValueQueryStringParameters ?? {};
  for (const [name, values] of Object.entries(query)) {
    for (const value of stringsIn(values)) url.searchParams.append(name, value);
  }
  if (!event.multiValueQueryStringParameters) {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
      if (typeof value === 'string') url.searchParams.append(name, value);
    }
  }

  const headers = new Headers();
  try {
    const multi = event.multiValueHeaders ?? {};
    for (const [name, values] of Object.entries(multi)) {
      for (const value of values ?? []) headers.append(name, value);
    }
    if (!event.multiValueHeaders) {
      for (const [name, value] of Object.entries(event.headers ?? {})) {
        if (typeof value === 'string') headers.append(name, value);
      }
    }
  } catch {
    throw new BadRequestError('A request header has a name or value that is not allowed.');
  }

  const rawMethod: unknown = event.httpMethod ?? 'GET';
  if (typeof rawMethod !== 'string') throw new BadRequestError('The request method is malformed.');
  const method = rawMethod.toUpperCase();
  let body: BodyInit | undefined;
  if (!BODYLESS.has(method) && typeof event.body === 'string') {
    if (event.isBase64Encoded) {
      const bytes = Buffer.from(event.body, 'base64');
      body = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Uint8Array<ArrayBuffer>;
    } else {
      body = event.body; // text as API Gateway delivered it: no copy through bytes
    }
  }
  try {
    return new Request(url, { method, headers, body });
  } catch {
    throw new BadRequestError('The request cannot be represented (method or body not allowed).');
  }
}

export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}

const TEXTUAL = /^(application\/([\w.+-]*\+)?json|text\/|application\/(javascript|xml))/i;

/** Turn a core's `Response` into a proxy result, as text for textual bodies, base64 otherwise. */
export async function toProxyResult(
  response: Response,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<APIGatewayProxyResult> {
  const multiValueHeaders: Record<string, string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') return; // getSetCookie() below keeps each cookie whole
    (multiValueHeaders[name] ??= []).push(value);
  });
  for (const [name, value] of Object.entries(extraHeaders)) {
    const key = name.toLowerCase();
    // Vary accumulates; every other header is the extra's to decide.
    if (key === 'vary' && multiValueHeaders[key]) multiValueHeaders[key].push(value);
    else multiValueHeaders[key] = [value];
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) multiValueHeaders['set-cookie'] = cookies;

  const known = builtText(response);
  if (known !== undefined) return { statusCode: response.status, multiValueHeaders, body: known, isBase64Encoded: false };
  if (response.body === null || TEXTUAL.test(response.headers.get('content-type') ?? '')) {
    return { statusCode: response.status, multiValueHeaders, body: response.body === null ? '' : await response.text(), isBase64Encoded: false };
  }
  const bytes = Buffer.from(await response.arrayBuffer());
  return { statusCode: response.status, multiValueHeaders, body: bytes.toString('base64'), isBase64Encoded: bytes.byteLength > 0 };
}

/** What the adapter needs of observability.ts: an invocation scope, and a log for the unexpected. */
export interface InvocationObserver {
  readonly logger: { error(message: string, attributes: Record<string, unknown>): void };
  invocation<T>(requestId: string, context: Context | undefined, work: () => Promise<T>): Promise<T>;
}

export interface ProxyHandlerOptions {
  readonly observability: InvocationObserver;
  readonly originPolicy: OriginPolicy;
}

/**
 * Wrap a core into a Lambda handler: adapt the event, add CORS headers for
 * allowed origins, and turn anything unexpected into a JSON 500 without a
 * stack trace (the log line has the error's class and message, nothing more).
 */
export function proxyHandler(core: RequestCore, { observability, originPolicy }: ProxyHandlerOptions) {
  return async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const requestId = event?.requestContext?.requestId ?? context?.awsRequestId ?? 'unknown';
    const origin = event ? (headerValue(event, 'origin') ?? null) : null;
    return observability.invocation(requestId, context, async () => {
      let response: Response;
      try {
        const request = toRequest(event);
        response = await core(request, {
          requestId,
          authorizer: event.requestContext?.authorizer ?? undefined,
          remainingTimeMs: () => (typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : 30_000),
        });
      } catch (error) {
        if (error instanceof BadRequestError) {
          response = errorResponse(400, 'invalid_request', error.message);
        } else {
          observability.logger.error('Unhandled error', { ...describeError(error), stack: sourceMappedStack(error) });
          response = errorResponse(500, 'server_error', `Internal error. Request id: ${requestId}`);
        }
      }
      return toProxyResult(response, originPolicy.responseHeaders(origin));
    });
  };
}
