/**
 * The MCP function's fast path: the handshake and the listing, answered from
 * the admitted request (admission.ts) with the SDK's own answers, taken at
 * build time (protocol-answers.generated.ts): no SDK, no `Request`/`Response`
 * (and so no undici) and no zod.
 *
 * It answers, in both eras:
 * - 2025 (legacy): `initialize`, `notifications/initialized`, `ping`, `tools/list`;
 * - 2026-07-28 (modern): `server/discover`, `tools/list`;
 * and only when the request is a plain success the SDK would answer the same
 * way. It refuses nothing: admission has refused what is refused, and anything
 * else it does not answer (another method, a member it does not know, an
 * unusual version, a batch) gets `undefined`, and the SDK path (sdk-path.ts)
 * serves it, with every check and error code of its own.
 *
 * test/unit/mcp/fast-path-differential.test.ts sends every request shape to both
 * paths and demands equal statuses, headers and byte-equal bodies: when the SDK
 * is upgraded, that test (after `npm run generate`) says whether this file still
 * answers as it does.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { AdmittedRequest } from './admission.js';
import { ANSWER_TEMPLATES, LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS, TOOL_LISTINGS } from './protocol-answers.generated.js';
import { describeMessage, fillTemplate, isPlainObject, PROTOCOL_VERSION_META_KEY, type AnswerTemplate, type RpcReport, type TemplateValues } from './protocol.js';
import { toolsFor } from './server-info.js';

const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
const CLIENT_INFO_KEY = 'io.modelcontextprotocol/clientInfo';

export interface FastAnswer {
  readonly result: APIGatewayProxyResult;
  readonly rpc: RpcReport;
}

export interface FastPathOptions {
  /** Scopes each tool needs, as the SDK path's server applies them (settings). */
  readonly toolScopes: Readonly<Record<string, readonly string[]>>;
  readonly now?: () => number;
}

type Message = { readonly jsonrpc: '2.0'; readonly id?: string | number; readonly method: string; readonly params?: Record<string, unknown> };

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

const isEmpty = (params: Record<string, unknown> | undefined) => params === undefined || Object.keys(params).length === 0;

/** What the fast path answers: the template, and the gaps its answer fills. */
interface Choice {
  readonly template: AnswerTemplate;
  readonly values: TemplateValues;
}

export function createFastPath(options: FastPathOptions) {
  const now = options.now ?? Date.now;
  const entries = Object.entries(TOOL_LISTINGS).map(([name, listing]) => ({ listing, scopes: options.toolScopes[name] ?? [] }));
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
  const { legacy, modern } = ANSWER_TEMPLATES;

  /** The legacy answer, or undefined for anything the SDK should judge. */
  function legacyChoice(message: Message, request: AdmittedRequest): Choice | undefined {
    const { method, params } = message;
    // Admission has checked Accept and the version header; Mcp-Method is not a 2025-era header.
    if (params !== undefined && '_meta' in params) return undefined;
    if (message.id === undefined) {
      return method === 'notifications/initialized' && isEmpty(params) ? { template: legacy['notifications/initialized']!, values: {} } : undefined;
    }
    const id = JSON.stringify(message.id);
    if (method === 'initialize') {
      if (params === undefined || !onlyKeys(params, ['protocolVersion', 'capabilities', 'clientInfo'])) return undefined;
      const version = params.protocolVersion;
      if (!isString(version) || !LEGACY_PROTOCOL_VERSIONS.includes(version)) return undefined;
      if (!plainClientCapabilities(params.capabilities) || !plainImplementation(params.clientInfo)) return undefined;
      return { template: legacy.initialize!, values: { id, version: JSON.stringify(version) } };
    }
    if (!isEmpty(params)) return undefined;
    if (method === 'ping') return { template: legacy.ping!, values: { id } };
    if (method === 'tools/list') return { template: legacy['tools/list']!, values: { id, tools: toolsJson(request.caller.scopes) } };
    return undefined;
  }

  /** The modern answer, or undefined for anything the SDK should judge. */
  function modernChoice(message: Message, request: AdmittedRequest): Choice | undefined {
    const { method, params } = message;
    if (message.id === undefined || params === undefined || !onlyKeys(params, ['_meta'])) return undefined;
    const meta = params._meta;
    if (!isPlainObject(meta) || !onlyKeys(meta, [PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY])) return undefined;
    const version = meta[PROTOCOL_VERSION_META_KEY];
    if (!isString(version) || !MODERN_PROTOCOL_VERSIONS.includes(version)) return undefined;
    if (!plainClientCapabilities(meta[CLIENT_CAPABILITIES_KEY]) || !optional(meta[CLIENT_INFO_KEY], plainImplementation)) return undefined;
    // The SDK's standard-header rules, where they plainly pass (Headers has trimmed the values as the SDK does).
    const { headers } = request;
    if (headers.get('mcp-protocol-version') !== version || headers.get('mcp-method') !== method) return undefined;
    const id = JSON.stringify(message.id);
    if (method === 'server/discover') return { template: modern['server/discover']!, values: { id } };
    if (method === 'tools/list') return { template: modern['tools/list']!, values: { id, tools: toolsJson(request.caller.scopes) } };
    return undefined;
  }

  /** The fast answer to an admitted request, or undefined: then the SDK path serves it. */
  return function fastAnswer(request: AdmittedRequest): FastAnswer | undefined {
    const message = plainMessage(request.body);
    if (!message || request.era === undefined) return undefined;
    const choice = request.era === 'modern' ? modernChoice(message, request) : legacyChoice(message, request);
    if (!choice) return undefined;

    const { template } = choice;
    const multiValueHeaders: Record<string, string[]> = {};
    for (const [name, value] of Object.entries({ ...template.headers, ...request.responseHeaders })) multiValueHeaders[name] = [value];
    return {
      result: { statusCode: template.status, multiValueHeaders, body: fillTemplate(template, choice.values), isBase64Encoded: false },
      rpc: {
        method: describeMessage(message).method,
        era: request.era,
        outcome: message.id === undefined ? 'notification' : 'result',
        status: template.status,
        durationMs: now() - request.receivedAt,
      },
    };
  };
}

export type FastPath = ReturnType<typeof createFastPath>;
