/**
 * Protocol facts the MCP endpoint applies before (and around) the SDK: the
 * batch policy, the methods it names in logs, and the shape check behind a
 * short -32602 for a malformed tools/call. Plain values in, plain values out.
 */

export type JsonRpcId = string | number | null;

/** One JSON-RPC message handled (or one refused before the SDK saw it), for the function's log. */
export interface RpcReport {
  /** The method, or `unknown` for a name this server does not know (never the caller's text). */
  readonly method: string;
  readonly era: 'modern' | 'legacy' | 'none';
  readonly outcome: 'result' | 'error' | 'notification';
  readonly status: number;
  readonly durationMs: number;
  readonly errorCode?: number;
}

/**
 * The methods a client may send in either era (2025-03-26 to 2026-07-28). Logs
 * name only these; anything else is `unknown`, so a caller cannot write into
 * the log by inventing method names.
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'server/discover',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'subscriptions/listen',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'tasks/update',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
  'notifications/tasks/status',
]);

/** MCP requests are small JSON-RPC messages; anything near Lambda's 6 MB payload limit is abuse. */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

/** The 2026-07-28 per-request envelope's protocol-version key. */
export const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';

/** Batches are part of MCP only up to 2025-03-26 (a client of it sends no MCP-Protocol-Version header). */
export const BATCH_PROTOCOL_VERSIONS: ReadonlySet<string> = new Set(['2025-03-26', '2024-11-05', '2024-10-07']);

/** A 2025-03-26 batch holds at most this many messages... */
export const MAX_BATCH_MESSAGES = 10;
/** ...and at most this many tools/call, so that one HTTP request cannot multiply Tavily calls. */
export const MAX_BATCH_TOOL_CALLS = 1;
/**
 * Any answer (one message's, or a whole batch's) stays under Lambda's 6 MB
 * response limit, with room for the proxy envelope and headers: past it API
 * Gateway would give a 502 the agent cannot act on.
 */
export const MAX_ANSWER_BYTES = 5 * 1024 * 1024;

/** Time kept back from the invocation's remaining time to serialize and return the response. */
export const RESPONSE_MARGIN_MS = 1_500;

export const ANSWER_TOO_LARGE_MESSAGE =
  'The answer is too large to return through API Gateway (over 5 MB); ask for less at a time (fewer results, a narrower crawl), or send batched requests on their own.';

/**
 * The JSON-RPC error that stands in for an answer too large for API Gateway,
 * or undefined when `text` fits (the length test first: most answers are far
 * below the limit, and counting bytes means encoding them).
 */
export function answerTooLarge(text: string, id: JsonRpcId | undefined): string | undefined {
  if (text.length <= MAX_ANSWER_BYTES / 3 || Buffer.byteLength(text) <= MAX_ANSWER_BYTES) return undefined;
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: { code: -32000, message: ANSWER_TOO_LARGE_MESSAGE } });
}

export const MALFORMED_TOOL_CALL_MESSAGE =
  'Invalid params: tools/call needs params.name (a string) and, if present, params.arguments (a JSON object).';

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface MessageFacts {
  /** A known method name, `unknown`, or `invalid` for something that is not a JSON-RPC message. */
  readonly method: string;
  /** The request's id; undefined for a notification (or anything without a usable id). */
  readonly id: string | number | undefined;
}

export function describeMessage(message: unknown): MessageFacts {
  if (!isPlainObject(message)) return { method: 'invalid', id: undefined };
  const { method, id } = message;
  const usableId = typeof id === 'string' || typeof id === 'number' ? id : undefined;
  if (typeof method !== 'string') return { method: 'result' in message || 'error' in message ? 'response' : 'invalid', id: usableId };
  return { method: KNOWN_METHODS.has(method) ? method : 'unknown', id: usableId };
}

function hasEnvelopeClaim(message: unknown): boolean {
  if (!isPlainObject(message) || !isPlainObject(message.params)) return false;
  const meta = message.params._meta;
  return isPlainObject(meta) && PROTOCOL_VERSION_META_KEY in meta;
}

function methodOf(message: unknown): unknown {
  return isPlainObject(message) ? message.method : undefined;
}

/**
 * Why a JSON-RPC batch is refused (400, -32600), or undefined when it may be
 * served. Batches were removed from MCP in 2025-06-18 and are not part of
 * 2026-07-28; a 2025-03-26 client (no MCP-Protocol-Version header, or that
 * version) may still send one, bounded so that it holds no function and
 * multiplies no work. The caller's header value is never quoted back.
 */
export function batchRefusal(batch: readonly unknown[], protocolVersionHeader: string | null): string | undefined {
  if (batch.length === 0) return 'Bad Request: empty JSON-RPC batch';
  if (batch.some(hasEnvelopeClaim)) {
    return 'Bad Request: JSON-RPC batches may not contain requests for protocol revision 2026-07-28 or later';
  }
  const version = protocolVersionHeader?.trim();
  if (version !== undefined && !BATCH_PROTOCOL_VERSIONS.has(version)) {
    return 'Bad Request: JSON-RPC batches are not part of MCP from protocol version 2025-06-18 on; send one message per request';
  }
  if (batch.length > MAX_BATCH_MESSAGES) return `Bad Request: a JSON-RPC batch may hold at most ${MAX_BATCH_MESSAGES} messages`;
  if (batch.some((message) => methodOf(message) === 'initialize')) {
    return 'Bad Request: initialize must not be part of a JSON-RPC batch';
  }
  if (batch.filter((message) => methodOf(message) === 'tools/call').length > MAX_BATCH_TOOL_CALLS) {
    return `Bad Request: a JSON-RPC batch may hold at most ${MAX_BATCH_TOOL_CALLS} tools/call; send the others in their own requests`;
  }
  return undefined;
}

/** A tools/call request whose params the CallToolRequest schema refuses: no string name, or arguments that are not an object. */
export function isMalformedToolCall(message: unknown): boolean {
  if (!isPlainObject(message) || message.method !== 'tools/call' || message.id === undefined) return false;
  const { params } = message;
  if (!isPlainObject(params)) return true;
  return typeof params.name !== 'string' || (params.arguments !== undefined && !isPlainObject(params.arguments));
}

/** A request that calls a tool (a well-formed tools/call, or a batch holding one): it will need the Tavily key. */
export function callsATool(body: unknown): boolean {
  const calls = (message: unknown) =>
    isPlainObject(message) && message.method === 'tools/call' && message.id !== undefined && !isMalformedToolCall(message);
  return Array.isArray(body) ? body.some(calls) : calls(body);
}

/**
 * One answer of the fast path, taken from the SDK's own answer at build time
 * (protocol-answers.generated.ts): its status, its headers, and its body as
 * text with gaps for what differs from request to request.
 */
export interface AnswerTemplate {
  readonly status: number;
  /** Lower-case names; the CORS headers are added per request. */
  readonly headers: Readonly<Record<string, string>>;
  /** Text, then the name of what fills the gap after it (`id`, `version` or `tools`), then text, and so on. */
  readonly body: readonly string[];
}

/** The values a template's gaps take, as JSON text (`result`: a tool result's members, without braces). */
export type TemplateValues = Readonly<Partial<Record<'id' | 'version' | 'tools' | 'result', string>>>;

/** A tool's result as this server builds it (quota/usage-guard.ts's ToolCallResult): text content only. */
export interface PlainToolResult {
  readonly content: ReadonlyArray<{ readonly type: string; readonly text?: string }>;
  readonly structuredContent?: Readonly<Record<string, unknown>>;
  readonly isError?: boolean;
}

/**
 * A tool result's members as the SDK writes them in a tools/call answer (its
 * CallToolResult schema's order: content, structuredContent, isError; each
 * text block as type, text), without the enclosing braces: the `result` gap
 * of the tools/call templates. The generator checks this against the SDK's
 * own answer. A content block of another kind is this server's bug.
 */
export function toolResultMembers(result: PlainToolResult): string {
  const content = result.content.map((block) => {
    if (block.type !== 'text' || typeof block.text !== 'string' || Object.keys(block).length !== 2) {
      throw new Error(`A tool result holds a content block this server does not build: ${block.type}`);
    }
    return { type: block.type, text: block.text };
  });
  const ordered = {
    content,
    ...(result.structuredContent !== undefined ? { structuredContent: result.structuredContent } : {}),
    ...(result.isError !== undefined ? { isError: result.isError } : {}),
  };
  return JSON.stringify(ordered).slice(1, -1);
}

/** A template's body with its gaps filled. */
export function fillTemplate(template: AnswerTemplate, values: TemplateValues): string {
  let text = '';
  template.body.forEach((part, index) => {
    if (index % 2 === 0) {
      text += part;
      return;
    }
    const value = values[part as keyof TemplateValues];
    if (value === undefined) throw new Error(`No value for the template's gap "${part}"`);
    text += value;
  });
  return text;
}
