/**
 * Who may come into the MCP endpoint, decided once, before either of its
 * paths: the fast path (fast-path.ts) answers only requests admitted here, and
 * the SDK path (sdk-path.ts) serves the other admitted ones. A refused request
 * gets the same answer whichever path would have served it, because this is
 * the only place that refuses it.
 *
 * The checks, in order (the first that fails answers):
 * 1. the request line and headers, as a `Request` could hold them: header
 *    names and values, then the Host rule (api-gateway.ts, shared with every
 *    function): 400 `invalid_request`;
 * 2. the method: POST only, since a stateless server has no SSE stream to GET
 *    and no session to DELETE: 405 with `Allow: POST`;
 * 3. the Origin, when there is one: allowed by the CORS policy, as the MCP
 *    transport requires against DNS rebinding: 403;
 * 4. the caller: the authorizer's context, and a token not yet expired (API
 *    Gateway may still hold a cached Allow for it): 401;
 * 5. the Content-Type: JSON, by the SDK's own rule: 415;
 * 6. the body: at most MAX_REQUEST_BODY_BYTES (413), JSON (400, -32700), and a
 *    batch only within the batch policy of protocol.ts (400, -32600);
 * 7. for a 2025-era message, what the SDK's streamable HTTP transport refuses
 *    before it dispatches anything: an Accept without both application/json and
 *    text/event-stream (406), and an MCP-Protocol-Version it does not serve
 *    (400, naming the versions it does).
 *
 * Steps 5 and 7 are the SDK's rules written out, because the fast path never
 * loads the SDK; the SDK still applies them behind this function, and
 * test/unit/mcp/admission.test.ts holds both to the same answers. The header
 * rules of 2026-07-28 messages (MCP-Protocol-Version against the envelope,
 * Mcp-Method, Mcp-Name) stay the SDK's: it applies them after validating the
 * envelope with its schemas, and answers -32602, -32020 or -32022 in that
 * order. The fast path answers such a message only where they plainly pass.
 *
 * Nothing here depends on the JSON-RPC method, so methods added later (the
 * tasks extension's, say) pass the same checks on both paths.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { headerValue, readRequestHead } from '../shared/api-gateway.js';
import { callerFromContext, isExpired, type Caller } from '../shared/caller.js';
import type { OriginPolicy } from '../shared/cors.js';
import { LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS } from './protocol-answers.generated.js';
import {
  batchRefusal,
  describeMessage,
  isPlainObject,
  MAX_REQUEST_BODY_BYTES,
  PROTOCOL_VERSION_META_KEY,
  type RpcReport,
} from './protocol.js';

/** Which of the SDK's two servings a message gets: 2025-era (`initialize`, no envelope) or 2026-07-28 (the `_meta` envelope). */
export type Era = 'legacy' | 'modern';

/** A request past every check, with what the checks read, so that neither path reads it again. */
export interface AdmittedRequest {
  /** Scheme and host by the Host rule, and the path: the URL of the `Request` the SDK gets. */
  readonly url: string;
  /** Every header as the SDK reads it through `Headers`: names in lower case, repeated values joined. */
  readonly headers: ReadonlyMap<string, string>;
  readonly caller: Caller;
  /** The body, parsed. */
  readonly body: unknown;
  /**
   * The era the SDK will serve the body in, where its classification follows
   * plainly from the body and the version header; undefined where it takes the
   * SDK's schemas to tell (the SDK decides those, and the fast path leaves them).
   */
  readonly era: Era | undefined;
  /** CORS headers for the answer (lower-case names). */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** When admission began (ms since the epoch): durations are measured from here. */
  readonly receivedAt: number;
}

/** The answer to a refused request: status, headers (CORS included, lower-case names) and JSON body. */
export interface Refusal {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The log line, for refusals of JSON-RPC messages the SDK would have logged had it refused them itself. */
  readonly rpc?: RpcReport;
}

export type Admission = { readonly admitted: true; readonly request: AdmittedRequest } | { readonly admitted: false; readonly refusal: Refusal };

export const BAD_METHOD_MESSAGE = 'Method not allowed: this stateless server answers POST only (no SSE stream, no sessions).';
export const FORBIDDEN_ORIGIN_MESSAGE = 'Forbidden: this Origin is not allowed to call the MCP endpoint.';
export const NO_CALLER_DESCRIPTION = 'No authorized caller for this request.';
export const EXPIRED_TOKEN_DESCRIPTION = 'The access token has expired. Refresh it and retry.';
export const PARSE_ERROR_MESSAGE = 'Parse error: the request body is not valid JSON';
// The SDK's own words for the refusals it would otherwise make itself.
export const UNSUPPORTED_MEDIA_TYPE_MESSAGE = 'Unsupported Media Type: Content-Type must be application/json';
export const PAYLOAD_TOO_LARGE_MESSAGE = `Payload Too Large: Request body must not exceed ${MAX_REQUEST_BODY_BYTES} bytes`;
export const NOT_ACCEPTABLE_MESSAGE = 'Not Acceptable: Client must accept both application/json and text/event-stream';
export const unsupportedVersionMessage = (version: string) =>
  `Bad Request: Unsupported protocol version: ${version} (supported versions: ${LEGACY_PROTOCOL_VERSIONS.join(', ')})`;

/** Our own refusals are never cached; the SDK's carry only their content type. */
const OUR_JSON = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;
const SDK_JSON = { 'content-type': 'application/json' } as const;

const jsonRpcError = (code: number, message: string) => JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
const oauthError = (error: string, description: string) => JSON.stringify({ error, error_description: description });

/** RFC 7231 media type and parameter grammar, as the `content-type` package the SDK uses parses them. */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MEDIA_TYPE_PARAMETER =
  /; *([!#$%&'*+.^_`|~0-9A-Za-z-]+) *= *("(?:[\u000b\u0020\u0021\u0023-\u005b\u005d-\u007e\u0080-\u00ff]|\\[\u000b\u0020-\u00ff])*"|[!#$%&'*+.^_`|~0-9A-Za-z-]+) */y;

/** The media type of a well-formed Content-Type, lower case; undefined if any part of it is malformed. */
function parsedMediaType(header: string): string | undefined {
  const end = header.indexOf(';');
  const type = (end === -1 ? header : header.slice(0, end)).trim();
  if (!MEDIA_TYPE.test(type)) return undefined;
  if (end !== -1) {
    let at = end;
    MEDIA_TYPE_PARAMETER.lastIndex = at;
    for (let match = MEDIA_TYPE_PARAMETER.exec(header); match; match = MEDIA_TYPE_PARAMETER.exec(header)) {
      at += match[0].length;
      MEDIA_TYPE_PARAMETER.lastIndex = at;
    }
    if (at !== header.length) return undefined;
  }
  return type.toLowerCase();
}

/**
 * The SDK's `isJsonContentType`: application/json, parameters ignored; a
 * malformed parameter section does not refuse a type that is plainly JSON,
 * unless it holds a comma (two types joined).
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  if (header === 'application/json') return true;
  const parsed = parsedMediaType(header);
  if (parsed !== undefined) return parsed === 'application/json';
  const essence = (header.split(';', 1)[0] ?? '').trim().toLowerCase();
  return essence === 'application/json' && !header.slice(essence.length).includes(',');
}

/** A lone surrogate, which the SDK path's UTF-8 round trip turns into U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const utf8 = new TextDecoder();

/**
 * The body as text, as a `Request` would decode it (UTF-8, a leading BOM
 * dropped, invalid sequences replaced), or undefined past the size limit.
 */
function bodyText(event: APIGatewayProxyEvent): string | undefined {
  const { body } = event;
  if (typeof body !== 'string' || body === '') return '';
  if (event.isBase64Encoded) {
    const bytes = Buffer.from(body, 'base64');
    return bytes.byteLength > MAX_REQUEST_BODY_BYTES ? undefined : utf8.decode(bytes);
  }
  // Every UTF-16 unit takes at least one byte of UTF-8, and at most three.
  if (body.length > MAX_REQUEST_BODY_BYTES) return undefined;
  if (body.length * 3 > MAX_REQUEST_BODY_BYTES && Buffer.byteLength(body) > MAX_REQUEST_BODY_BYTES) return undefined;
  const wellFormed = body.replace(LONE_SURROGATE, '\uFFFD');
  return wellFormed.charCodeAt(0) === 0xfeff ? wellFormed.slice(1) : wellFormed;
}

const MESSAGE_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const RELATED_TASK_META_KEY = 'io.modelcontextprotocol/related-task';

/** A JSON-RPC id or progress token as the SDK's schema takes it: a string or a safe integer. */
const isIdLike = (value: unknown) => typeof value === 'string' || Number.isSafeInteger(value);

/**
 * Whether the SDK's JSON-RPC schemas surely take `message` as a request or a
 * notification (they take nothing else here): a strict object, and params whose
 * `_meta` holds nothing this function would have to judge for them. Undefined
 * means "not surely": the SDK decides.
 */
function messageKind(message: unknown): 'request' | 'notification' | undefined {
  if (!isPlainObject(message) || message.jsonrpc !== '2.0' || typeof message.method !== 'string') return undefined;
  if (!Object.keys(message).every((key) => MESSAGE_KEYS.has(key))) return undefined;
  if ('params' in message) {
    const { params } = message;
    if (!isPlainObject(params)) return undefined;
    if ('_meta' in params) {
      const meta = params._meta;
      if (!isPlainObject(meta) || RELATED_TASK_META_KEY in meta) return undefined;
      if ('progressToken' in meta && !isIdLike(meta.progressToken)) return undefined;
    }
  }
  if (!('id' in message)) return 'notification';
  return isIdLike(message.id) ? 'request' : undefined;
}

/** The 2026-07-28 envelope's claim, which is what makes a message modern to the SDK. */
function claimsEnvelope(message: Record<string, unknown>): boolean {
  const { params } = message;
  return isPlainObject(params) && isPlainObject(params._meta) && PROTOCOL_VERSION_META_KEY in params._meta;
}

/** The SDK's rule: protocol revisions are dates, and every one from the first modern revision on is modern. */
const FIRST_MODERN_VERSION = [...MODERN_PROTOCOL_VERSIONS].sort()[0]!;
const isModernVersion = (version: string) => version >= FIRST_MODERN_VERSION;

/** The era the SDK's classifier gives a body (see AdmittedRequest.era). */
function eraOf(body: unknown, versionHeader: string | undefined): Era | undefined {
  if (Array.isArray(body)) {
    // A batch is 2025-era to the SDK whatever its version header says, if every element is a plain message.
    return body.every((message) => messageKind(message) !== undefined && !claimsEnvelope(message as Record<string, unknown>)) ? 'legacy' : undefined;
  }
  if (messageKind(body) === undefined) return undefined;
  const message = body as Record<string, unknown>;
  if (claimsEnvelope(message)) {
    // An initialize counts as modern only if its envelope is valid, which takes the SDK's schemas to tell.
    return message.method === 'initialize' ? undefined : 'modern';
  }
  // Without the envelope, a modern version header is a refusal (or, on a notification, modern serving): the SDK's.
  if (versionHeader !== undefined && isModernVersion(versionHeader)) return undefined;
  return 'legacy';
}

const lowerCaseKeys = (headers: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));

export interface AdmissionOptions {
  readonly originPolicy: OriginPolicy;
  readonly now?: () => number;
}

export function createAdmission(options: AdmissionOptions) {
  const { originPolicy } = options;
  const now = options.now ?? Date.now;

  /** Admit the event's request, or say how it is refused. Never throws on what an event can hold. */
  return function admit(event: APIGatewayProxyEvent): Admission {
    const receivedAt = now();
    const head = readRequestHead(event);
    const origin = 'malformed' in head ? headerValue(event, 'origin') : head.headers.get('origin');
    const responseHeaders = lowerCaseKeys(originPolicy.responseHeaders(origin ?? null));
    const refuse = (status: number, headers: Readonly<Record<string, string>>, body: string, rpc?: Omit<RpcReport, 'durationMs'>): Admission => ({
      admitted: false,
      refusal: {
        status,
        headers: { ...headers, ...responseHeaders },
        body,
        ...(rpc ? { rpc: { ...rpc, durationMs: now() - receivedAt } } : {}),
      },
    });

    if ('malformed' in head) return refuse(400, OUR_JSON, oauthError('invalid_request', head.malformed));
    const { headers } = head;
    if (head.method !== 'POST') return refuse(405, { ...OUR_JSON, allow: 'POST' }, jsonRpcError(-32000, BAD_METHOD_MESSAGE));
    if (origin !== undefined && !originPolicy.isAllowed(origin)) return refuse(403, OUR_JSON, jsonRpcError(-32000, FORBIDDEN_ORIGIN_MESSAGE));
    const caller = callerFromContext(event.requestContext?.authorizer);
    // API Gateway's authorizer stands in front of this route; reaching here without it is a misconfiguration.
    if (!caller) return refuse(401, OUR_JSON, oauthError('invalid_token', NO_CALLER_DESCRIPTION));
    if (isExpired(caller, receivedAt)) return refuse(401, OUR_JSON, oauthError('invalid_token', EXPIRED_TOKEN_DESCRIPTION));
    if (!isJsonContentType(headers.get('content-type'))) return refuse(415, OUR_JSON, jsonRpcError(-32000, UNSUPPORTED_MEDIA_TYPE_MESSAGE));
    const text = bodyText(event);
    if (text === undefined) return refuse(413, OUR_JSON, jsonRpcError(-32000, PAYLOAD_TOO_LARGE_MESSAGE));
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return refuse(400, OUR_JSON, jsonRpcError(-32700, PARSE_ERROR_MESSAGE));
    }

    const versionHeader = headers.get('mcp-protocol-version');
    const batch = Array.isArray(body);
    if (batch) {
      const refusal = batchRefusal(body as unknown[], versionHeader ?? null);
      if (refusal) {
        return refuse(400, OUR_JSON, jsonRpcError(-32600, refusal), { method: 'batch', era: 'none', outcome: 'error', status: 400, errorCode: -32600 });
      }
    }
    const era = eraOf(body, versionHeader);
    if (era === 'legacy') {
      const logged = { method: batch ? 'batch' : describeMessage(body).method, era, outcome: 'error', errorCode: -32000 } as const;
      const accept = headers.get('accept');
      if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) {
        return refuse(406, SDK_JSON, jsonRpcError(-32000, NOT_ACCEPTABLE_MESSAGE), { ...logged, status: 406 });
      }
      // The transport leaves initialize's version to the handshake; a batch never holds one (batch policy).
      const initialize = !batch && (body as { method?: unknown }).method === 'initialize';
      if (!initialize && versionHeader !== undefined && !LEGACY_PROTOCOL_VERSIONS.includes(versionHeader)) {
        return refuse(400, SDK_JSON, jsonRpcError(-32000, unsupportedVersionMessage(versionHeader)), { ...logged, status: 400 });
      }
    }
    return { admitted: true, request: { url: head.url.href, headers, caller, body, era, responseHeaders, receivedAt } };
  };
}

export type Admit = ReturnType<typeof createAdmission>;

/** A refusal as the proxy result API Gateway returns. */
export function refusalResult(refusal: Refusal): APIGatewayProxyResult {
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(refusal.headers)) multiValueHeaders[name] = [value];
  return { statusCode: refusal.status, multiValueHeaders, body: refusal.body, isBase64Encoded: false };
}
