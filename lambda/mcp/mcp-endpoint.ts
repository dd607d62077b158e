/**
 * The MCP endpoint's SDK half: streamable HTTP, stateless, JSON answers, both
 * protocol eras on one URL, for requests admission.ts has admitted (it has
 * checked the method, Host, Origin, caller, Content-Type, size, the batch policy
 * and the 2025-era headers). One request at a time per Lambda instance.
 *
 * The era is the SDK's own decision (`isLegacyRequest`, the classifier
 * `createMcpHandler` uses):
 * - 2026-07-28 (a request carrying the `_meta` envelope) goes to the SDK's
 *   modern handler, which owns the header rules and their error codes
 *   (-32020, -32022, -32602 for a bad envelope, 404 -32601);
 * - 2025-era traffic (`initialize`, and requests without the envelope) goes to
 *   the SDK's web-standard streamable HTTP transport in JSON mode, stateless.
 *   The modern handler's own legacy fallback would answer it as SSE.
 *
 * One answer is changed on its way out: this endpoint serves both eras, so the
 * versions it lists (server/discover's `supportedVersions`, and -32022's
 * `data.supported`) are all of them, where the SDK lists only the modern ones.
 */
import {
  createMcpHandler,
  isLegacyRequest,
  ProtocolErrorCode,
  WebStandardStreamableHTTPServerTransport,
  type AuthInfo,
  type Server,
} from '@modelcontextprotocol/server';
import type { Invocation } from '../shared/api-gateway.js';
import { textResponse } from '../shared/http.js';
import type { AdmittedRequest } from './admission.js';
import { listenWithoutTasks } from './tasks/task-methods.js';
import {
  describeMessage,
  isMalformedToolCall,
  isPlainObject,
  answerTooLarge,
  ANSWER_TOO_LARGE_MESSAGE,
  MALFORMED_TOOL_CALL_MESSAGE,
  MAX_ANSWER_BYTES,
  MAX_REQUEST_BODY_BYTES,
  RESPONSE_MARGIN_MS,
  type MessageFacts,
  type RpcReport,
} from './protocol.js';
import type { McpServerFactory, RequestFacts } from './server.js';

export { RESPONSE_MARGIN_MS } from './protocol.js';

const JSON_RPC_HEADERS = { 'Content-Type': 'application/json' } as const;

/** What one message's exchange with the SDK produced. */
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** The JSON text of the answer; empty for a 202. */
  readonly text: string;
}

/** The JSON-RPC error code in an answer's text, if it is an error (results are never parsed). */
function errorCodeOf(text: string): number | undefined {
  // The SDK writes a result's `result` member first; only error answers (small) are parsed.
  if (text === '' || text.startsWith('{"result":')) return undefined;
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'number' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The SDK's answer with every version this endpoint serves where it lists only
 * its modern ones: -32022's `data.supported` and server/discover's
 * `supportedVersions`. Only those two answers are parsed; the rest, and the
 * order of every member, stay as the SDK wrote them.
 */
function listingEveryVersion(text: string, method: string, supportedVersions: readonly string[]): string {
  if (method === 'server/discover' && text.startsWith('{"result":{"supportedVersions":')) {
    const answer = JSON.parse(text) as { result: { supportedVersions: unknown } };
    answer.result.supportedVersions = supportedVersions;
    return JSON.stringify(answer);
  }
  if (errorCodeOf(text) === ProtocolErrorCode.UnsupportedProtocolVersion) {
    const answer = JSON.parse(text) as { error: { data?: unknown } };
    if (!isPlainObject(answer.error.data)) return text;
    answer.error.data.supported = supportedVersions;
    return JSON.stringify(answer);
  }
  return text;
}

/** What the endpoint needs of an invocation: who to name in logs, and how long is left. */
export type EndpointInvocation = Pick<Invocation, 'requestId' | 'remainingTimeMs'>;

export function createMcpEndpoint(options: {
  /** Builds a fresh SDK `Server` for one request (server.ts). */
  readonly newServer: McpServerFactory;
  /** Every protocol version this endpoint serves, newest first (protocol-answers.generated.ts). */
  readonly supportedVersions: readonly string[];
  readonly now?: () => number;
  readonly onRpc?: (rpc: RpcReport) => void;
}) {
  const now = options.now ?? Date.now;
  // `legacy: 'reject'`: 2025-era requests never reach this handler (routed below).
  // The default response mode, 'auto', answers JSON unless a handler streams
  // notifications before its result, which none here does ('json' would warn on every cold start).
  // The SDK's own error reports are not logged: they quote the caller's header values, and
  // every refusal is already in the log line below (status and error code).
  const modern = createMcpHandler(options.newServer, { legacy: 'reject', maxRequestBodySize: MAX_REQUEST_BODY_BYTES });
  /** The previous legacy exchange's server, closed when the next request arrives (see serveLegacy). */
  let previous: Server | undefined;

  async function serveLegacy(request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Response> {
    // Closed now rather than right after its answer: the SDK resolves the answer before the
    // handler's own clean-up has run, and closing then would abort a handler that has finished.
    if (previous) await previous.close().catch(() => {});
    const server = options.newServer({ era: 'legacy' });
    previous = server;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
    });
    await server.connect(transport);
    return transport.handleRequest(request, { authInfo, parsedBody });
  }

  /** One JSON-RPC message (or a legacy batch the policy let through) to the SDK, answered as text. */
  async function exchange(request: Request, parsedBody: unknown, authInfo: AuthInfo): Promise<Answer & { era: 'modern' | 'legacy' }> {
    const legacy = await isLegacyRequest(request, parsedBody, { maxRequestBodySize: MAX_REQUEST_BODY_BYTES });
    const response = legacy ? await serveLegacy(request, parsedBody, authInfo) : await modern.fetch(request, { authInfo, parsedBody });
    const text = response.body === null ? '' : await response.text();
    return { era: legacy ? 'legacy' : 'modern', status: response.status, headers: response.headers, text };
  }

  /** One message: the SDK's answer, with a short -32602 for a malformed tools/call, and its log line. */
  async function serveMessage(request: Request, message: unknown, facts: MessageFacts, authInfo: AuthInfo): Promise<Answer> {
    const started = now();
    const listenRefusal = listenWithoutTasks(message);
    let answer = listenRefusal
      ? // 400, as the SDK answers -32021 in band.
        { era: 'modern' as const, status: 400, headers: new Headers(JSON_RPC_HEADERS), text: JSON.stringify({ jsonrpc: '2.0', id: facts.id ?? null, error: listenRefusal }) }
      : await exchange(request, message, authInfo);
    if (answer.era === 'modern') answer = { ...answer, text: listingEveryVersion(answer.text, facts.method, options.supportedVersions) };
    if (answer.status === 200 && isMalformedToolCall(message) && errorCodeOf(answer.text) === -32602) {
      // The SDK's in-band answer quotes its schema's issues at length; the caller gets one sentence.
      const text = JSON.stringify({ jsonrpc: '2.0', id: facts.id ?? null, error: { code: -32602, message: MALFORMED_TOOL_CALL_MESSAGE } });
      answer = { ...answer, text };
    } else {
      const tooLarge = answerTooLarge(answer.text, facts.id);
      if (tooLarge !== undefined) answer = { ...answer, status: 200, text: tooLarge };
    }
    if (options.onRpc) {
      const errorCode = errorCodeOf(answer.text);
      options.onRpc({
        method: facts.method,
        era: answer.era,
        outcome: facts.id === undefined && answer.text === '' ? 'notification' : errorCode === undefined ? 'result' : 'error',
        status: answer.status,
        durationMs: now() - started,
        ...(errorCode !== undefined ? { errorCode } : {}),
      });
    }
    return answer;
  }

  /**
   * A 2025-03-26 batch the policy allowed (bounded: a few messages, at most one
   * tools/call): each message is served on its own, one after the other, so a
   * `notifications/cancelled` in it can never hold the answer open.
   */
  async function serveBatch(request: Request, batch: readonly unknown[], authInfo: AuthInfo): Promise<Response> {
    const answers: string[] = [];
    let bytes = 2;
    for (const message of batch) {
      const facts = describeMessage(message);
      const answer = await serveMessage(request, message, facts, authInfo);
      if (answer.text === '') continue; // a notification or posted response: nothing to say
      let text = answer.text;
      if (bytes + Buffer.byteLength(text) + 1 > MAX_ANSWER_BYTES) {
        text = JSON.stringify({ jsonrpc: '2.0', id: facts.id ?? null, error: { code: -32000, message: ANSWER_TOO_LARGE_MESSAGE } });
      }
      bytes += Buffer.byteLength(text) + 1;
      answers.push(text);
    }
    if (answers.length === 0) return new Response(null, { status: 202 });
    return textResponse(`[${answers.join(',')}]`, { status: 200, headers: JSON_RPC_HEADERS });
  }

  return async function serveMcp(admitted: AdmittedRequest, invocation: EndpointInvocation): Promise<Response> {
    // The token has done its job at the authorizer; nothing past this point may see or forward it.
    const headers = new Headers();
    for (const [name, value] of admitted.headers) if (name !== 'authorization') headers.append(name, value);
    const request = new Request(admitted.url, { method: 'POST', headers });
    const { caller, body } = admitted;
    const facts: RequestFacts = {
      deadline: now() + invocation.remainingTimeMs() - RESPONSE_MARGIN_MS,
      requestId: invocation.requestId,
    };
    const authInfo: AuthInfo = {
      token: '', // verified upstream by the authorizer, deliberately not carried further
      clientId: caller.clientId,
      scopes: [...caller.scopes],
      expiresAt: caller.exp,
      extra: { ...facts, sub: caller.sub, ...(caller.organizationId !== undefined ? { organizationId: caller.organizationId } : {}) },
    };

    if (Array.isArray(body)) return serveBatch(request, body, authInfo);
    const answer = await serveMessage(request, body, describeMessage(body), authInfo);
    if (answer.text === '') return new Response(null, { status: answer.status });
    const contentType = answer.headers.get('content-type') ?? 'application/json';
    return textResponse(answer.text, { status: answer.status, headers: { 'Content-Type': contentType } });
  };
}

export type McpEndpoint = ReturnType<typeof createMcpEndpoint>;
