/**
 * API Gateway events for the MCP function's tests, built as the local gateway
 * builds them (local/api-gateway-events.ts): a POST to the MCP endpoint with an
 * authorized caller, unless told otherwise.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { authorizerContext, proxyEvent } from '../../../local/api-gateway-events.js';
import { callerContext, type Caller } from '../../../lambda/shared/caller.js';

export const MCP_HOST = 'mcp.example.com';
export const CLIENT_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Content-Type', 'application/json'],
  ['Accept', 'application/json, text/event-stream'],
];

export interface McpEventOptions {
  /** The body as JSON (ignored when `text` is given). */
  readonly body?: unknown;
  readonly text?: string;
  /** Headers after Host, in order, repeated names kept; the client's Content-Type and Accept unless given. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly host?: string;
  readonly httpMethod?: string;
  /** The authorizer's caller; null for none. */
  readonly caller?: Partial<Caller> | null;
}

export function mcpEvent(options: McpEventOptions = {}): APIGatewayProxyEvent {
  const caller: Caller = {
    sub: 'usr_1',
    clientId: 'client_1',
    scopes: ['web-search:read'],
    exp: Math.floor(Date.now() / 1000) + 600,
    tokenId: 'tok_1',
    ...options.caller,
  };
  const text = options.text ?? JSON.stringify(options.body ?? {});
  const event = proxyEvent(
    {
      method: options.httpMethod ?? 'POST',
      path: '/web-search/mcp',
      resource: '/web-search/mcp',
      rawHeaders: [['Host', options.host ?? MCP_HOST], ...(options.headers ?? CLIENT_HEADERS)],
      query: new URLSearchParams(),
      body: Buffer.from(text),
      sourceIp: '127.0.0.1',
      requestId: 'req-1',
      host: MCP_HOST,
    },
    options.caller === null ? undefined : authorizerContext({ principalId: caller.sub, context: callerContext(caller) }),
  );
  return Object.assign(event, { body: text });
}
