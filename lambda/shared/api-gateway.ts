/**
 * The one adapter between API Gateway REST proxy events and the web-standard
 * function cores: an `APIGatewayProxyEvent` becomes a `Request`, the core's
 * `Response` becomes an `APIGatewayProxyResult`. Every function's index.ts is
 * this adapter wrapped around its core.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { OriginPolicy } from './cors.js';
import { WebSearchMcpError } from './errors.js';
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

/** A header of the event as API Gateway sent it (`headers`, any case): the first match. */
export function headerValue(event: APIGatewayProxyEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === lower && typeof value === 'string') return value;
  }
  return undefined;
}

/** Milliseconds Lambda leaves this invocation (a generous default where there is no Lambda context, as in tests). */
export function remainingTimeOf(context: Context | undefined): () => number {
  return () => (typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : 30_000);
}

/** Why no `Request` can hold an event's request line or headers: the description of the 400 that answers it. */
export const MALFORMED_REQUEST = {
  headers: 'A request header has a name or value that is not allowed.',
  host: 'The Host header is not a valid host.',
  method: 'The request method is malformed.',
} as const;

/** The request line and headers of an event, read once by the rules below. */
export interface RequestHead {
  /** Upper case, as `Request` normalizes the usual methods. */
  readonly method: string;
  /** Scheme and host from the Host rule, the event's path, its query. */
  readonly url: URL;
  /** Every header as `Headers` holds it: names in lower case, a repeated header's values joined, edges trimmed. */
  readonly headers: ReadonlyMap<string, string>;
}

export type RequestHeadResult = RequestHead | { readonly malformed: string };

/** An HTTP token (RFC 9110): what a header name must be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** `Headers` takes values as byte strings: nothing past U+00FF. */
const BYTE_STRING = /^[\0-\xFF]*$/;
/** The whitespace `Headers` trims from both ends of a value... */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
/** ...and what it refuses in what is left. */
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;

/**
 * The headers as `Headers` would hold them (the SDK reads them through it), or
 * undefined where `Headers` would throw. The multi-value map wins when present,
 * as API Gateway fills both. Written out rather than delegated to `Headers`
 * so that the MCP fast path, which never builds a `Request`, reads the same
 * values the SDK path does.
 */
function requestHeaders(event: APIGatewayProxyEvent): Map<string, string> | undefined {
  const headers = new Map<string, string>();
  const add = (name: string, value: unknown): boolean => {
    if (typeof value !== 'string' || !HEADER_NAME.test(name) || !BYTE_STRING.test(value)) return false;
    const trimmed = value.replace(EDGE_WHITESPACE, '');
    if (FORBIDDEN_IN_VALUE.test(trimmed)) return false;
    const key = name.toLowerCase();
    const existing = headers.get(key);
    // Fetch joins repeated Cookie headers with "; " and every other header with ", ".
    headers.set(key, existing === undefined ? trimmed : `${existing}${key === 'cookie' ? '; ' : ', '}${trimmed}`);
    return true;
  };
  const multi: unknown = event.multiValueHeaders;
  if (multi !== undefined && multi !== null) {
    if (typeof multi !== 'object') return undefined;
    for (const [name, values] of Object.entries(multi)) {
      if (values === undefined || values === null) continue;
      if (!Array.isArray(values)) return undefined;
      for (const value of values) if (!add(name, value)) return undefined;
    }
    return headers;
  }
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (typeof value === 'string' && !add(name, value)) return undefined;
  }
  return headers;
}

/** A host name, an IPv4 or bracketed IPv6 address, and a port: nothing that could add a path or query. */
const HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;
/** The longest domain name DNS can carry. */
const MAX_HOST_NAME_LENGTH = 253;

/**
 * The one Host rule, for every function and both MCP paths: the origin a URL can
 * hold, or undefined. The pattern keeps out anything that would add a path, a
 * query or credentials; the URL parser then refuses what only looks like a host
 * (a port past 65535, an IPv6 address that is not one, an IPv4 address out of range).
 */
export function originUrl(protocol: 'http' | 'https', host: string): URL | undefined {
  if (!HOST.test(host)) return undefined;
  try {
    const url = new URL(`${protocol}://${host}`);
    return url.hostname.length <= MAX_HOST_NAME_LENGTH ? url : undefined;
  } catch {
    return undefined;
  }
}

/** A list of strings as API Gateway sends it; anything else an event could hold yields nothing, not a crash. */
function stringsIn(values: unknown): string[] {
  return Array.isArray(values) ? values.filter((value): value is string => typeof value === 'string') : [];
}

/**
 * The event's method, URL and headers, or why no `Request` can hold them. Every
 * function reads its request through this (toRequest), and the MCP function's
 * admission reads it before either of its paths.
 */
export function readRequestHead(event: APIGatewayProxyEvent): RequestHeadResult {
  const headers = requestHeaders(event);
  if (!headers) return { malformed: MALFORMED_REQUEST.headers };
  const domainName: unknown = event.requestContext?.domainName;
  const host = headers.get('host') ?? (typeof domainName === 'string' ? domainName : 'localhost');
  const url = originUrl(headers.get('x-forwarded-proto') === 'http' ? 'http' : 'https', host);
  if (!url) return { malformed: MALFORMED_REQUEST.host };
  url.pathname = typeof event.path === 'string' ? event.path : '/';
  const query = event.multiValueQueryStringParameters ?? {};
  for (const [name, values] of Object.entries(query)) {
    for (const value of stringsIn(values)) url.searchParams.append(name, value);
  }
  if (!event.multiValueQueryStringParameters) {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
      if (typeof value === 'string') url.searchParams.append(name, value);
    }
  }
  const method: unknown = event.httpMethod ?? 'GET';
  if (typeof method !== 'string') return { malformed: MALFORMED_REQUEST.method };
  return { method: method.toUpperCase(), url, headers };
}

/** Methods whose requests may not carry a body in the Fetch API. */
const BODYLESS = new Set(['GET', 'HEAD']);

/**
 * Build the `Request` a core sees. Throws a `BadRequestError` for input no
 * `Request` can hold (a header value with control characters, say).
 */
export function toRequest(event: APIGatewayProxyEvent): Request {
  const head = readRequestHead(event);
  if ('malformed' in head) throw new BadRequestError(head.malformed);
  const { method, url } = head;
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
    return new Request(url, { method, headers: [...head.headers], body });
  } catch (cause) {
    throw new BadRequestError('The request cannot be represented (method or body not allowed).', { cause });
  }
}

/** A request no `Request` can hold: answered 400 `invalid_request` with its message, never logged as an error. */
export class BadRequestError extends WebSearchMcpError {
  readonly code = 'ERR_BAD_REQUEST' as const;
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
 * A core's answer, whatever it throws: a `BadRequestError` becomes the 400 it
 * describes, anything else a JSON 500 without a stack trace (the log line has
 * the error's class and message, nothing more).
 */
export async function coreAnswer(work: () => Promise<Response>, requestId: string, logger: InvocationObserver['logger']): Promise<Response> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BadRequestError) return errorResponse(400, 'invalid_request', error.message);
    logger.error('Unhandled error', { ...describeError(error), stack: sourceMappedStack(error) });
    return errorResponse(500, 'server_error', `Internal error. Request id: ${requestId}`);
  }
}

/** Wrap a core into a Lambda handler: adapt the event, answer as `coreAnswer` does, add CORS headers for allowed origins. */
export function proxyHandler(core: RequestCore, { observability, originPolicy }: ProxyHandlerOptions) {
  return async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const requestId = event?.requestContext?.requestId ?? context?.awsRequestId ?? 'unknown';
    const origin = event ? (headerValue(event, 'origin') ?? null) : null;
    return observability.invocation(requestId, context, async () => {
      const response = await coreAnswer(
        () => core(toRequest(event), { requestId, authorizer: event.requestContext?.authorizer ?? undefined, remainingTimeMs: remainingTimeOf(context) }),
        requestId,
        observability.logger,
      );
      return toProxyResult(response, originPolicy.responseHeaders(origin));
    });
  };
}
