/**
 * The MCP endpoint: streamable HTTP, stateless, JSON responses. One request at
 * a time per Lambda instance, so the instance's one `Server` is connected to a
 * fresh transport per request (a stateless transport cannot be reused; the
 * server can), the previous one closed first.
 *
 * Before the SDK sees anything: only POST (a stateless server has no SSE stream
 * to GET and no session to DELETE), the Origin must be allowed (MCP transport
 * spec), and the caller must come from the authorizer with an unexpired token.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { Invocation } from '../shared/api-gateway.js';
import { callerFromContext, isExpired } from '../shared/caller.js';
import type { OriginPolicy } from '../shared/cors.js';
import { jsonResponse } from '../shared/http.js';
import type { RequestFacts } from './server.js';

/** Time kept back from the invocation's remaining time to serialize and return the response. */
export const RESPONSE_MARGIN_MS = 1_500;

/** MCP requests are small JSON-RPC messages; anything near Lambda's 6 MB payload limit is abuse. */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

function jsonRpcError(status: number, code: number, message: string, headers?: HeadersInit): Response {
  return jsonResponse(status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);
}

/** One JSON-RPC message handled, for the function's log. */
export interface RpcReport {
  readonly method: string;
  readonly outcome: 'result' | 'error' | 'notification';
  readonly durationMs: number;
  readonly errorCode?: number;
}

type Message = { method?: string; id?: string | number; result?: unknown; error?: { code?: number } };

/** Watch a connected transport's traffic: each request's method, and when and how it was answered. */
function observeTraffic(transport: WebStandardStreamableHTTPServerTransport, now: () => number, report: (rpc: RpcReport) => void) {
  const pending = new Map<string | number, { method: string; at: number }>();
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    const { method, id } = message as Message;
    if (typeof method === 'string') {
      if (id === undefined) report({ method, outcome: 'notification', durationMs: 0 });
      else pending.set(id, { method, at: now() });
    }
    deliver?.(message, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, sendOptions) => {
    const { id, error } = message as Message;
    const request = id === undefined ? undefined : pending.get(id);
    if (request && ('result' in message || error)) {
      pending.delete(id!);
      report({
        method: request.method,
        outcome: error ? 'error' : 'result',
        durationMs: now() - request.at,
        ...(error?.code !== undefined ? { errorCode: error.code } : {}),
      });
    }
    return send(message, sendOptions);
  };
}

export function createMcpEndpoint(options: {
  readonly server: Server;
  readonly originPolicy: OriginPolicy;
  readonly now?: () => number;
  readonly onRpc?: (rpc: RpcReport) => void;
}) {
  const now = options.now ?? Date.now;
  /** Whether the server is still connected to the previous request's transport. */
  let connected = false;

  return async function serveMcp(request: Request, invocation: Invocation): Promise<Response> {
    if (request.method !== 'POST') {
      return jsonRpcError(405, -32000, 'Method not allowed: this stateless server answers POST only (no SSE stream, no sessions).', {
        Allow: 'POST',
      });
    }
    const origin = request.headers.get('origin');
    if (origin !== null && !options.originPolicy.isAllowed(origin)) {
      return jsonRpcError(403, -32000, 'Forbidden: this Origin is not allowed to call the MCP endpoint.');
    }
    // The SDK would refuse this too, quoting the header back; this answer names only what is supported.
    const protocolVersion = request.headers.get('mcp-protocol-version');
    if (protocolVersion !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion)) {
      return jsonRpcError(
        400,
        -32000,
        `Bad Request: unsupported MCP-Protocol-Version (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
      );
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

    // The token has done its job at the authorizer; nothing past this point may see or forward it.
    const headers = new Headers(request.headers);
    headers.delete('authorization');
    const withoutToken = new Request(request, { headers });

    const facts: RequestFacts = {
      deadline: now() + invocation.remainingTimeMs() - RESPONSE_MARGIN_MS,
      requestId: invocation.requestId,
    };
    // The previous request's transport is closed now rather than right after its answer:
    // the SDK resolves the answer before its handler's own clean-up has run, and closing
    // then would abort (and build a DOMException for) a handler that has already finished.
    if (connected) await options.server.close();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
    });
    await options.server.connect(transport);
    connected = true;
    if (options.onRpc) observeTraffic(transport, now, options.onRpc);
    return transport.handleRequest(withoutToken, {
        authInfo: {
          token: '', // verified upstream by the authorizer, deliberately not carried further
          clientId: caller.clientId,
          scopes: [...caller.scopes],
          expiresAt: caller.exp,
          extra: { ...facts, sub: caller.sub },
        },
      });
  };
}
