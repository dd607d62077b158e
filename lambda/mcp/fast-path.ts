/**
 * The MCP function's fast path: the handshake, the listing and plain tool
 * calls, answered from the admitted request (admission.ts) with the SDK's own
 * answers, taken at build time (protocol-answers.generated.ts): no SDK, no
 * `Request`/`Response` (and so no undici) and no zod for the handshake and
 * the listing.
 *
 * It answers, in both eras:
 * - 2025 (legacy): `initialize`, `notifications/initialized`, `ping`, `tools/list`, `tools/call`;
 * - 2026-07-28 (modern): `server/discover`, `tools/list`, `tools/call`;
 * and only when the request is a plain one the SDK would take the same way. A
 * tools/call (a known tool's name, arguments an object or absent, nothing
 * else) is judged here and run by index.ts through tool-runtime.ts, loaded on
 * the first: the same tool call as the SDK path's (tool-call.ts), its result,
 * error results included, put in the SDK's envelope. A tool that works with
 * research tasks is left to the SDK path. It refuses nothing: admission has refused what is refused, and anything
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
import {
  answerTooLarge,
  describeMessage,
  fillTemplate,
  isPlainObject,
  PROTOCOL_VERSION_META_KEY,
  toolResultMembers,
  type AnswerTemplate,
  type PlainToolResult,
  type RpcReport,
  type TemplateValues,
} from './protocol.js';
import { toolsFor } from './server-info.js';

const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
const CLIENT_INFO_KEY = 'io.modelcontextprotocol/clientInfo';

export interface FastAnswer {
  readonly result: APIGatewayProxyResult;
  readonly rpc: RpcReport;
}

/**
 * A plain tools/call of a known tool: `call` is run (tool-runtime.ts, loaded
 * on the first one), and `answer` wraps its result as the SDK would. A call
 * the runtime declines (a tool that may become a task) goes to the SDK path.
 */
export interface FastToolCall {
  readonly call: { readonly name: string; readonly arguments: Record<string, unknown> | undefined };
  answer(result: PlainToolResult): FastAnswer;
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
  /** A tools/call: the values lack `result` until the tool has run. */
  readonly toolCall?: FastToolCall['call'];
}

/** A tools/call's params in the plain form (a known tool's name, arguments a JSON object or absent), as the call to make. */
function plainToolCall(params: Record<string, unknown> | undefined): FastToolCall['call'] | undefined {
  if (params === undefined || !onlyKeys(params, ['name', 'arguments', '_meta'])) return undefined;
  const { name, arguments: args } = params;
  if (!isString(name) || !Object.hasOwn(TOOL_LISTINGS, name)) return undefined;
  if (args !== undefined && !isPlainObject(args)) return undefined;
  return { name, arguments: args };
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
    if (method === 'tools/call') {
      const toolCall = plainToolCall(params);
      return toolCall && { template: legacy['tools/call']!, values: { id }, toolCall };
    }
    if (!isEmpty(params)) return undefined;
    if (method === 'ping') return { template: legacy.ping!, values: { id } };
    if (method === 'tools/list') return { template: legacy['tools/list']!, values: { id, tools: toolsJson(request.caller.scopes) } };
    return undefined;
  }

  /** The modern answer, or undefined for anything the SDK should judge. */
  function modernChoice(message: Message, request: AdmittedRequest): Choice | undefined {
    const { method, params } = message;
    if (message.id === undefined || params === undefined) return undefined;
    const toolCall = method === 'tools/call' ? plainToolCall(params) : undefined;
    if (!onlyKeys(params, toolCall ? ['_meta', 'name', 'arguments'] : ['_meta'])) return undefined;
    const meta = params._meta;
    if (!isPlainObject(meta) || !onlyKeys(meta, [PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY])) return undefined;
    const version = meta[PROTOCOL_VERSION_META_KEY];
    if (!isString(version) || !MODERN_PROTOCOL_VERSIONS.includes(version)) return undefined;
    if (!plainClientCapabilities(meta[CLIENT_CAPABILITIES_KEY]) || !optional(meta[CLIENT_INFO_KEY], plainImplementation)) return undefined;
    // The SDK's standard-header rules, where they plainly pass (Headers has trimmed the values as the SDK does).
    const { headers } = request;
    if (headers.get('mcp-protocol-version') !== version || headers.get('mcp-method') !== method) return undefined;
    const id = JSON.stringify(message.id);
    if (method === 'tools/call') {
      // Mcp-Name must name the tool; its Base64 form (for names a header cannot carry) is left to the SDK.
      return toolCall && headers.get('mcp-name') === toolCall.name ? { template: modern['tools/call']!, values: { id }, toolCall } : undefined;
    }
    if (method === 'server/discover') return { template: modern['server/discover']!, values: { id } };
    if (method === 'tools/list') return { template: modern['tools/list']!, values: { id, tools: toolsJson(request.caller.scopes) } };
    return undefined;
  }

  function fastAnswerOf(message: Message, request: AdmittedRequest, era: 'modern' | 'legacy', template: AnswerTemplate, body: string): FastAnswer {
    const multiValueHeaders: Record<string, string[]> = {};
    for (const [name, value] of Object.entries({ ...template.headers, ...request.responseHeaders })) multiValueHeaders[name] = [value];
    return {
      result: { statusCode: template.status, multiValueHeaders, body, isBase64Encoded: false },
      rpc: {
        method: describeMessage(message).method,
        era,
        outcome: message.id === undefined ? 'notification' : 'result',
        status: template.status,
        durationMs: now() - request.receivedAt,
      },
    };
  }

  /**
   * The fast answer to an admitted request; for a plain tools/call, the call to
   * make and how to answer its result; or undefined: then the SDK path serves it.
   */
  return function fastAnswer(request: AdmittedRequest): FastAnswer | FastToolCall | undefined {
    const message = plainMessage(request.body);
    const { era } = request;
    if (!message || era === undefined) return undefined;
    const choice = era === 'modern' ? modernChoice(message, request) : legacyChoice(message, request);
    if (!choice) return undefined;
    const { template, values, toolCall } = choice;
    if (!toolCall) return fastAnswerOf(message, request, era, template, fillTemplate(template, values));
    return {
      call: toolCall,
      answer(result) {
        const body = fillTemplate(template, { ...values, result: toolResultMembers(result) });
        const tooLarge = answerTooLarge(body, message.id);
        if (tooLarge === undefined) return fastAnswerOf(message, request, era, template, body);
        const answer = fastAnswerOf(message, request, era, template, tooLarge);
        return { ...answer, rpc: { ...answer.rpc, outcome: 'error', errorCode: -32000 } };
      },
    };
  };
}

export type FastPath = ReturnType<typeof createFastPath>;
