/**
 * The MCP endpoint: streamable HTTP, stateless, JSON answers, both protocol
 * eras on one URL. One request at a time per Lambda instance.
 *
 * Before the SDK sees anything: only POST (a stateless server has no SSE stream
 * to GET and no session to DELETE), the Origin must be allowed (MCP transport
 * spec), the caller must come from the authorizer with an unexpired token, the
 * body must be JSON of bounded size, and batches must pass the batch policy
 * (protocol.ts). Then the era is the SDK's own decision (`isLegacyRequest`, the
 * classifier `createMcpHandler` uses):
 * - 2026-07-28 (a request carrying the `_meta` envelope) goes to the SDK's
 *   modern handler, which owns the header rules and their error codes
 *   (-32020, -32022, -32602 for a bad envelope, 404 -32601);
 * - 2025-era traffic (`initialize`, and requests without the envelope) goes to
 *   the SDK's web-standard streamable HTTP transport in JSON mode, stateless.
 *   The modern handler's own legacy fallback would answer it as SSE.
 */
import {
  createMcpHandler,
  isJsonContentType,
  isLegacyRequest,
  WebStandardStreamableHTTPServerTransport,
  type AuthInfo,
  type Server,
} from '@modelcontextprotocol/server';
import type { Invocation } from '../shared/api-gateway.js';
import { callerFromContext, isExpired } from '../shared/caller.js';
import type { OriginPolicy } from '../shared/cors.js';
import { jsonResponse, readLimited, textResponse } from '../shared/http.js';
import {
  batchRefusal,
  describeMessage,
  isMalformedToolCall,
  ANSWER_TOO_LARGE_MESSAGE,
  MALFORMED_TOOL_CALL_MESSAGE,
  MAX_ANSWER_BYTES,
  MAX_REQUEST_BODY_BYTES,
  type JsonRpcId,
  type MessageFacts,
} from './protocol.js';
import type { McpServerFactory, RequestFacts } from './server.js';

/** Time kept back from the invocation's remaining time to serialize and return the response. */
export const RESPONSE_MARGIN_MS = 1_500;

export { MAX_REQUEST_BODY_BYTES } from './protocol.js';

const JSON_RPC_HEADERS = { 'Content-Type': 'application/json' } as const;

function jsonRpcError(status: number, code: number, message: string, id: JsonRpcId = null, headers?: HeadersInit): Response {
  return jsonResponse(status, { jsonrpc: '2.0', error: { code, message }, id }, headers);
}

/** One JSON-RPC message handled, for the function's log. */
export interface RpcReport {
  /** The method, or `unknown` for a name this server does not know (never the caller's text). */
  readonly method: string;
  readonly era: 'modern' | 'legacy' | 'none';
  readonly outcome: 'result' | 'error' | 'notification';
  readonly status: number;
  readonly durationMs: number;
  readonly errorCode?: number;
}

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

export function createMcpEndpoint(options: {
  /** Builds a fresh SDK `Server` for one request (server.ts). */
  readonly newServer: McpServerFactory;
  readonly originPolicy: OriginPolicy;
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
    const server = options.newServer();
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
    let answer = await exchange(request, message, authInfo);
    if (answer.status === 200 && isMalformedToolCall(message) && errorCodeOf(answer.text) === -32602) {
      // The SDK's in-band answer quotes its schema's issues at length; the caller gets one sentence.
      const text = JSON.stringify({ jsonrpc: '2.0', id: facts.id ?? null, error: { code: -32602, message: MALFORMED_TOOL_CALL_MESSAGE } });
      answer = { ...answer, text };
    } else if (answer.text.length > MAX_ANSWER_BYTES / 3 && Buffer.byteLength(answer.text) > MAX_ANSWER_BYTES) {
      answer = { ...answer, status: 200, text: JSON.stringify({ jsonrpc: '2.0', id: facts.id ?? null, error: { code: -32000, message: ANSWER_TOO_LARGE_MESSAGE } }) };
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

  return async function serveMcp(request: Request, invocation: Invocation): Promise<Response> {
    if (request.method !== 'POST') {
      return jsonRpcError(405, -32000, 'Method not allowed: this stateless server answers POST only (no SSE stream, no sessions).', null, {
        Allow: 'POST',
      });
    }
    const origin = request.headers.get('origin');
    if (origin !== null && !options.originPolicy.isAllowed(origin)) {
      return jsonRpcError(403, -32000, 'Forbidden: this Origin is not allowed to call the MCP endpoint.');
    }
    const caller = callerFromContext(invocation.authorizer);
    if (!caller) {
      // API Gateway's authorizer stands in front of this route; reaching here without it is a misconfiguration.
      return jsonResponse(401, { error: 'invalid_token', error_description: 'No authorized caller for this request.' });
    }
    if (isExpired(caller, now())) {
      // API Gateway may still hold a cached Allow for a token that has since expired.
      return jsonResponse(401, { error: 'invalid_token', error_description: 'The access token has expired. Refresh it and retry.' });
    }
    if (!isJsonContentType(request.headers.get('content-type'))) {
      return jsonRpcError(415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
    }
    const read = await readLimited(request.body, MAX_REQUEST_BODY_BYTES);
    if (!read.ok) return jsonRpcError(413, -32000, `Payload Too Large: Request body must not exceed ${MAX_REQUEST_BODY_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(read.bytes));
    } catch {
      return jsonRpcError(400, -32700, 'Parse error: the request body is not valid JSON');
    }

    // The token has done its job at the authorizer; nothing past this point may see or forward it.
    const headers = new Headers(request.headers);
    headers.delete('authorization');
    const withoutToken = new Request(request.url, { method: 'POST', headers });
    const facts: RequestFacts = {
      deadline: now() + invocation.remainingTimeMs() - RESPONSE_MARGIN_MS,
      requestId: invocation.requestId,
    };
    const authInfo: AuthInfo = {
      token: '', // verified upstream by the authorizer, deliberately not carried further
      clientId: caller.clientId,
      scopes: [...caller.scopes],
      expiresAt: caller.exp,
      extra: { ...facts, sub: caller.sub },
    };

    if (Array.isArray(body)) {
      const refusal = batchRefusal(body, request.headers.get('mcp-protocol-version'));
      if (refusal) {
        options.onRpc?.({ method: 'batch', era: 'none', outcome: 'error', status: 400, durationMs: 0, errorCode: -32600 });
        return jsonRpcError(400, -32600, refusal);
      }
      return serveBatch(withoutToken, body, authInfo);
    }
    const answer = await serveMessage(withoutToken, body, describeMessage(body), authInfo);
    if (answer.text === '') return new Response(null, { status: answer.status });
    const contentType = answer.headers.get('content-type') ?? 'application/json';
    return textResponse(answer.text, { status: answer.status, headers: { 'Content-Type': contentType } });
  };
}
