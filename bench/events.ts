/**
 * The events the benchmark sends, built by the local gateway's own builders
 * (local/api-gateway-events.ts), so each function sees what API Gateway would
 * hand it: a REQUEST authorizer event for the MCP endpoint, and proxy events for
 * the routes of the metadata, register and MCP functions.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { AS_METADATA_PATH, MCP_PATH, REGISTER_PATH } from '../lambda/shared/routes.js';
import { callerContext, type Caller } from '../lambda/shared/caller.js';
import { authorizerContext, authorizerEvent, proxyEvent, type IncomingRequest } from '../local/api-gateway-events.js';

/** The headers API Gateway adds to every request it forwards. */
function gatewayHeaders(host: string): Array<[string, string]> {
  return [
    ['Host', host],
    ['User-Agent', 'bench/1.0'],
    ['X-Forwarded-For', '203.0.113.7'],
    ['X-Forwarded-Port', '443'],
    ['X-Forwarded-Proto', 'https'],
  ];
}

function incoming(host: string, method: string, path: string, headers: Array<[string, string]>, body = ''): IncomingRequest {
  return {
    method,
    path,
    resource: path,
    rawHeaders: [...gatewayHeaders(host), ...headers],
    query: new URLSearchParams(),
    body: Buffer.from(body, 'utf8'),
    sourceIp: '203.0.113.7',
    requestId: randomUUID(),
    host,
  };
}

/** What the authorizer sees for `POST /web-search/mcp` with this token. */
export function authorizerRequestEvent(host: string, token: string): APIGatewayRequestAuthorizerEvent {
  return authorizerEvent(
    incoming(host, 'POST', MCP_PATH, [
      ['Authorization', `Bearer ${token}`],
      ['Content-Type', 'application/json'],
    ]),
  );
}

/** `POST /oauth/register` with the metadata an MCP client (Claude Code, say) registers. */
export function registrationEvent(host: string): APIGatewayProxyEvent {
  const metadata = {
    client_name: 'bench client',
    redirect_uris: ['http://127.0.0.1:33418/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'web-search:read',
  };
  return proxyEvent(
    incoming(host, 'POST', REGISTER_PATH, [['Content-Type', 'application/json'], ['Accept', 'application/json']], JSON.stringify(metadata)),
    undefined,
  );
}

/** The legacy era's latest version, and the modern era's. */
export const MCP_PROTOCOL_VERSION = '2025-11-25';
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

/** `GET /.well-known/oauth-authorization-server`: the AS metadata proxy. */
export function authorizationServerMetadataEvent(host: string): APIGatewayProxyEvent {
  return proxyEvent(incoming(host, 'GET', AS_METADATA_PATH, [['Accept', 'application/json']]), undefined);
}

/** A JSON-RPC POST to the MCP endpoint, as it arrives once the authorizer allowed `caller`. */
function mcpEvent(
  host: string,
  token: string,
  caller: Caller,
  message: object,
  protocolHeader: boolean,
  extraHeaders: Array<[string, string]> = [],
): APIGatewayProxyEvent {
  const headers: Array<[string, string]> = [
    ['Authorization', `Bearer ${token}`],
    ['Content-Type', 'application/json'],
    ['Accept', 'application/json, text/event-stream'],
  ];
  if (protocolHeader) headers.push(['Mcp-Protocol-Version', MCP_PROTOCOL_VERSION]);
  headers.push(...extraHeaders);
  const context = authorizerContext({ principalId: caller.sub, context: callerContext(caller) });
  return proxyEvent(incoming(host, 'POST', MCP_PATH, headers, JSON.stringify(message)), context);
}

export function mcpInitializeEvent(host: string, token: string, caller: Caller): APIGatewayProxyEvent {
  return mcpEvent(
    host,
    token,
    caller,
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: MCP_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'bench', version: '1.0.0' } },
    },
    false,
  );
}

export function mcpToolsListEvent(host: string, token: string, caller: Caller): APIGatewayProxyEvent {
  return mcpEvent(host, token, caller, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, true);
}

/** A 2026-07-28 request: the version and capabilities in `_meta`, MCP-Protocol-Version and Mcp-Method headers. */
export function mcpModernEvent(host: string, token: string, caller: Caller, method: 'server/discover' | 'tools/list', id: number): APIGatewayProxyEvent {
  const params = {
    _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION, 'io.modelcontextprotocol/clientCapabilities': {} },
  };
  return mcpEvent(host, token, caller, { jsonrpc: '2.0', id, method, params }, false, [
    ['MCP-Protocol-Version', MODERN_PROTOCOL_VERSION],
    ['Mcp-Method', method],
  ]);
}

/**
 * Replaced in an event's body by each run with a value of its own: a cold session's first search
 * (or a warm miss) must not find the previous run's answer in the result cache.
 */
export const RUN_MARKER = '__BENCH_RUN__';

/** `tools/call` of web_search (2025-11-25), the query given (with RUN_MARKER in it for a query of its own per run). */
export function mcpToolCallEvent(host: string, token: string, caller: Caller, query: string, id = 3): APIGatewayProxyEvent {
  return mcpEvent(host, token, caller, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'web_search', arguments: { query } } }, true);
}

/** What a child process checks about a result, so that a fast error never passes for a fast answer. */
export type Expectation =
  | { readonly kind: 'policy'; readonly effect: 'Allow' | 'Deny' }
  | {
      readonly kind: 'proxy';
      readonly statusCode: number;
      readonly bodyIncludes?: string;
      /** A bundle that cannot serve this request answers with this status: reported as "n/a (not served)", not as an error. */
      readonly notServedStatus?: number;
    };

export interface Invocation {
  readonly label: string;
  readonly event: unknown;
  readonly expect: Expectation;
}
