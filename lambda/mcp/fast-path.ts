/**
 * The MCP function's fast path: the handshake and the listing, answered from
 * the API Gateway event's strings and this server's fixed data, with no SDK,
 * no `Request`/`Response` (and so no undici) and no zod.
 *
 * It answers, in both eras:
 * - 2025 (legacy): `initialize`, `notifications/initialized`, `ping`, `tools/list`;
 * - 2026-07-28 (modern): `server/discover`, `tools/list`;
 * and only when the request is a plain success the SDK path would answer the
 * same way. Anything else, be it another method, a malformed message, a header
 * out of line, an unusual version, a batch or a body that is not plain JSON text,
 * gets `undefined`: the SDK path (sdk-path.ts) serves it, with every check and
 * error code of its own. So the fast path never has to be right about a refusal.
 *
 * test/unit/mcp/fast-path-differential.test.ts sends every request shape to both
 * paths and demands equal statuses, headers and byte-equal bodies: when the SDK
 * is upgraded, that test says whether this file still answers as it does.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { headerValue, VALID_HOST } from '../shared/api-gateway.js';
import { callerFromContext, isExpired } from '../shared/caller.js';
import type { OriginPolicy } from '../shared/cors.js';
import { describeMessage, isPlainObject, MAX_REQUEST_BODY_BYTES, PROTOCOL_VERSION_META_KEY } from './protocol.js';
import type { RpcReport } from './mcp-endpoint.js';
import { CAPABILITIES, INSTRUCTIONS, LIST_CACHE_TTL_MS, SERVER_INFO, toolsFor } from './server-info.js';
import type { ToolListing } from './tools/tool.js';

/** The 2025-era versions the SDK's server negotiates (echoed by initialize when requested), newest first. */
export const LEGACY_PROTOCOL_VERSIONS: readonly string[] = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'];
/** The modern versions the SDK serves: what server/discover lists. */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];

const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
const CLIENT_INFO_KEY = 'io.modelcontextprotocol/clientInfo';
const SERVER_INFO_KEY = 'io.modelcontextprotocol/serverInfo';

/** An HTTP token (RFC 9110): what a header name must be for `Headers` to take it. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What `Headers` takes in a value: no NUL, CR or LF, nothing past U+00FF. */
const HEADER_VALUE = /^[\t\x20-\x7E\x80-\xFF]*$/;
/** HTTP whitespace `Headers` strips from both ends of a value. */
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
/** A lone surrogate: the SDK path's UTF-8 round trip would turn it into U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const JSON_CONTENT_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);

export interface FastAnswer {
  readonly result: APIGatewayProxyResult;
  readonly rpc: RpcReport;
}

export interface FastPathOptions {
  readonly tools: readonly ToolListing[];
  readonly toolScopes: Readonly<Record<string, readonly string[]>>;
  readonly originPolicy: OriginPolicy;
  readonly now?: () => number;
}

type Message = { readonly jsonrpc: '2.0'; readonly id?: string | number; readonly method: string; readonly params?: Record<string, unknown> };

/**
 * The request's headers as the SDK path sees them through `Headers`: names
 * lower-cased, every value of a name joined with ", " (multiValueHeaders win,
 * as in toRequest), edges trimmed. Undefined when `Headers` would refuse one.
 */
function headersOf(event: APIGatewayProxyEvent): Map<string, string> | undefined {
  const headers = new Map<string, string>();
  const add = (name: string, value: unknown) => {
    if (typeof value !== 'string' || !HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) return false;
    const key = name.toLowerCase();
    const trimmed = value.replace(EDGE_WHITESPACE, '');
    const existing = headers.get(key);
    headers.set(key, existing === undefined ? trimmed : `${existing}, ${trimmed}`);
    return true;
  };
  if (event.multiValueHeaders) {
    for (const [name, values] of Object.entries(event.multiValueHeaders)) {
      if (values === undefined || values === null) continue;
      if (!Array.isArray(values)) return undefined;
      for (const value of values) if (!add(name, value)) return undefined;
    }
  } else {
    for (const [name, value] of Object.entries(event.headers ?? {})) {
      if (typeof value === 'string' && !add(name, value)) return undefined;
    }
  }
  return headers;
}

/** RFC 9110 optional whitespace (SP, HTAB) stripped, as the SDK does for its standard headers. */
const stripOws = (value: string | undefined) => value?.replace(/^[\t ]+|[\t ]+$/g, '');

const isString = (value: unknown): value is string => typeof value === 'string';
const optional = (value: unknown, check: (value: unknown) => boolean) => value === undefined || check(value);
const onlyKeys = (value: Record<string, unknown>, keys: readonly string[]) => Object.keys(value).every((key) => keys.includes(key));

/** A JSON object every value of which is a JSON object (the SDK's record-of-objects capabilities). */
const recordOfObjects = (value: unknown) => isPlainObject(value) && Object.values(value).every(isPlainObject);

/**
 * Client capabilities the SDK's schema surely takes: the known members in their
 * plain forms (unknown members are dropped by the schema, so they pass too).
 * Task capabilities, or any other shape, go to the SDK to judge.
 */
function plainClientCapabilities(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  const { experimental, sampling, elicitation, roots, tasks, extensions } = value;
  if (tasks !== undefined) return false;
  if (!optional(experimental, recordOfObjects) || !optional(extensions, recordOfObjects)) return false;
  if (sampling !== undefined) {
    if (!isPlainObject(sampling) || !optional(sampling.context, isPlainObject) || !optional(sampling.tools, isPlainObject)) return false;
  }
  if (elicitation !== undefined) {
    if (!isPlainObject(elicitation) || !optional(elicitation.url, isPlainObject)) return false;
    const { form } = elicitation;
    if (!optional(form, (f) => isPlainObject(f) && optional(f.applyDefaults, (a) => typeof a === 'boolean'))) return false;
  }
  if (roots !== undefined) {
    if (!isPlainObject(roots) || !optional(roots.listChanged, (l) => typeof l === 'boolean')) return false;
  }
  return true;
}

/** A client's Implementation with only plain string members (icons and the rest go to the SDK). */
function plainImplementation(value: unknown): boolean {
  return (
    isPlainObject(value) &&
    onlyKeys(value, ['name', 'version', 'title', 'description', 'websiteUrl']) &&
    isString(value.name) &&
    isString(value.version) &&
    optional(value.title, isString) &&
    optional(value.description, isString) &&
    optional(value.websiteUrl, isString)
  );
}

/** A JSON-RPC request or notification in the strict shape the SDK's schema takes (no extra members; ids strings or safe integers, as zod's int()). */
function plainMessage(body: unknown): Message | undefined {
  if (!isPlainObject(body) || body.jsonrpc !== '2.0' || !isString(body.method)) return undefined;
  if (!onlyKeys(body, ['jsonrpc', 'id', 'method', 'params'])) return undefined;
  const { id, params } = body;
  if ('id' in body && !(isString(id) || Number.isSafeInteger(id))) return undefined;
  if ('params' in body && !isPlainObject(params)) return undefined;
  return body as Message;
}

export function createFastPath(options: FastPathOptions) {
  const now = options.now ?? Date.now;
  const { originPolicy } = options;
  const entries = options.tools.map((listing) => ({
    listing: JSON.stringify(listing),
    scopes: options.toolScopes[listing.name] ?? [],
  }));
  /** The tools array's JSON per set of scopes, built on first use. */
  const listings = new Map<string, string>();
  const toolsJson = (granted: readonly string[]) => {
    const key = [...granted].sort().join(' ');
    let json = listings.get(key);
    if (json === undefined) {
      json = `[${toolsFor(entries, granted).join(',')}]`;
      if (listings.size < 64) listings.set(key, json);
    }
    return json;
  };
  const capabilities = JSON.stringify(CAPABILITIES);
  const serverInfo = JSON.stringify(SERVER_INFO);
  const instructions = JSON.stringify(INSTRUCTIONS);
  const cacheAndMeta = `"resultType":"complete","ttlMs":${LIST_CACHE_TTL_MS},"cacheScope":"private","_meta":{${JSON.stringify(SERVER_INFO_KEY)}:${serverInfo}}`;
  const discoverResult = `{"supportedVersions":${JSON.stringify(MODERN_PROTOCOL_VERSIONS)},"capabilities":${capabilities},"instructions":${instructions},${cacheAndMeta}}`;
  const initializeResult = (version: string) =>
    `{"protocolVersion":${JSON.stringify(version)},"capabilities":${capabilities},"serverInfo":${serverInfo},"instructions":${instructions}}`;

  /** The legacy answer's result, or undefined for anything the SDK should judge. */
  function legacyResult(message: Message, headers: Map<string, string>, scopes: readonly string[]): string | null | undefined {
    const { method, params } = message;
    if (params !== undefined && '_meta' in params) return undefined;
    const accept = headers.get('accept');
    if (accept === undefined || !accept.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
    const header = headers.get('mcp-protocol-version');
    if (header !== undefined && !LEGACY_PROTOCOL_VERSIONS.includes(header)) return undefined;
    const methodHeader = stripOws(headers.get('mcp-method'));
    if (methodHeader !== undefined && methodHeader !== method) return undefined;
    if (message.id === undefined) {
      // A notification: only notifications/initialized, answered 202 with nothing.
      return method === 'notifications/initialized' && (params === undefined || Object.keys(params).length === 0) ? null : undefined;
    }
    if (method === 'initialize') {
      if (params === undefined || !onlyKeys(params, ['protocolVersion', 'capabilities', 'clientInfo'])) return undefined;
      const version = params.protocolVersion;
      if (!isString(version) || !LEGACY_PROTOCOL_VERSIONS.includes(version)) return undefined;
      if (!plainClientCapabilities(params.capabilities) || !plainImplementation(params.clientInfo)) return undefined;
      return initializeResult(version);
    }
    if (params !== undefined && Object.keys(params).length > 0) return undefined;
    if (method === 'ping') return '{}';
    if (method === 'tools/list') return `{"tools":${toolsJson(scopes)}}`;
    return undefined;
  }

  /** The modern answer's result, or undefined for anything the SDK should judge. */
  function modernResult(message: Message, headers: Map<string, string>, scopes: readonly string[]): string | undefined {
    const { method, params } = message;
    if (message.id === undefined || params === undefined || !onlyKeys(params, ['_meta'])) return undefined;
    const meta = params._meta;
    if (!isPlainObject(meta) || !onlyKeys(meta, [PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY])) return undefined;
    const version = meta[PROTOCOL_VERSION_META_KEY];
    if (!isString(version) || !MODERN_PROTOCOL_VERSIONS.includes(version)) return undefined;
    if (!plainClientCapabilities(meta[CLIENT_CAPABILITIES_KEY]) || !optional(meta[CLIENT_INFO_KEY], plainImplementation)) return undefined;
    if (stripOws(headers.get('mcp-protocol-version')) !== version || stripOws(headers.get('mcp-method')) !== method) return undefined;
    if (method === 'server/discover') return discoverResult;
    if (method === 'tools/list') return `{"tools":${toolsJson(scopes)},${cacheAndMeta}}`;
    return undefined;
  }

  /** The fast answer to this event, or undefined: then the SDK path serves it. */
  return function fastAnswer(event: APIGatewayProxyEvent): FastAnswer | undefined {
    const started = now();
    if (event?.httpMethod !== 'POST' || typeof event.body !== 'string' || event.isBase64Encoded) return undefined;
    const host = headerValue(event, 'host') ?? event.requestContext?.domainName ?? 'localhost';
    if (!VALID_HOST.test(host)) return undefined;
    const headers = headersOf(event);
    if (!headers) return undefined;
    const origin = headers.get('origin');
    if (origin !== undefined && !originPolicy.isAllowed(origin)) return undefined;
    const caller = callerFromContext(event.requestContext?.authorizer);
    if (!caller || isExpired(caller, started)) return undefined;
    const contentType = headers.get('content-type');
    if (contentType === undefined || !JSON_CONTENT_TYPES.has(contentType.toLowerCase())) return undefined;
    const { body } = event;
    if (body.length * 3 > MAX_REQUEST_BODY_BYTES && Buffer.byteLength(body) > MAX_REQUEST_BODY_BYTES) return undefined;
    if (body.charCodeAt(0) === 0xfeff || LONE_SURROGATE.test(body)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
    const message = plainMessage(parsed);
    if (!message) return undefined;
    const modern = message.params !== undefined && isPlainObject(message.params._meta) && PROTOCOL_VERSION_META_KEY in message.params._meta;
    const result = modern ? modernResult(message, headers, caller.scopes) : legacyResult(message, headers, caller.scopes);
    if (result === undefined) return undefined;

    const cors = originPolicy.responseHeaders(headerValue(event, 'origin') ?? null);
    const multiValueHeaders: Record<string, string[]> = result === null ? {} : { 'content-type': ['application/json'] };
    for (const [name, value] of Object.entries(cors)) multiValueHeaders[name.toLowerCase()] = [value];
    const statusCode = result === null ? 202 : 200;
    const text = result === null ? '' : `{"result":${result},"jsonrpc":"2.0","id":${JSON.stringify(message.id)}}`;
    return {
      result: { statusCode, multiValueHeaders, body: text, isBase64Encoded: false },
      rpc: {
        method: describeMessage(message).method,
        era: modern ? 'modern' : 'legacy',
        outcome: result === null ? 'notification' : 'result',
        status: statusCode,
        durationMs: now() - started,
      },
    };
  };
}

export type FastPath = ReturnType<typeof createFastPath>;
