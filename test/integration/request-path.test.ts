/**
 * The whole request path through the local gateway: gateway responses and
 * challenges, the authorizer with Scalekit-shaped tokens, discovery documents,
 * the registration proxy, and the real MCP SDK client calling web_search
 * against a loopback fake Tavily.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { LocalStack } from '../../local/stack.js';
import { tavilyError, type FakeTavily } from '../fixtures/fake-tavily.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import { createSigningKey, type TokenIssuer } from '../fixtures/token-issuer.js';

let running: TestStack;
let issuer: TokenIssuer;
let tavily: FakeTavily;
let stack: LocalStack;

beforeAll(async () => {
  running = await startTestStack();
  ({ issuer, tavily, stack } = running);
});

afterAll(() => running?.close());

beforeEach(() => {
  tavily.reset();
  stack.gateway.clearAuthorizerCache();
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '1' } },
};

function postMcp(token: string | undefined, body: unknown = initialize, headers: Record<string, string> = {}) {
  return fetch(stack.mcpUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

async function connect(token: string) {
  const client = new Client({ name: 'request-path-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

describe('without a usable token', () => {
  test('no Authorization header: 401 with the challenge, without running the authorizer', async () => {
    const before = stack.gateway.authorizerInvocations;
    const response = await postMcp(undefined);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${stack.protectedResourceMetadataUrl}", scope="web-search:read"`,
    );
    expect(await response.json()).toMatchObject({ error: 'invalid_token' });
    expect(stack.gateway.authorizerInvocations).toBe(before);
  });

  test.each([
    ['a bad signature', async () => issuer.mint({ key: { ...(await createSigningKey(issuer.key.kid)) } })],
    ['another audience', () => issuer.mint({ claims: { aud: ['https://other.example.com/mcp', 'res_other'] } })],
    ['another issuer', () => issuer.mint({ claims: { iss: 'https://evil.example.com' } })],
    ['an expired token', () => issuer.mint({ expiresInSeconds: -120 })],
    ['a token that is not a JWT', async () => 'not-a-jwt'],
  ])('%s: 401 with the challenge', async (_case, mint) => {
    const response = await postMcp(await mint());
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain(`resource_metadata="${stack.protectedResourceMetadataUrl}"`);
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  test('a valid token without the scope: 403 insufficient_scope, a step-up challenge', async () => {
    const response = await postMcp(await issuer.mint({ claims: { scope: 'openid profile' } }));
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="web-search:read", resource_metadata="${stack.protectedResourceMetadataUrl}"`,
    );
    expect(await response.json()).toMatchObject({ error: 'insufficient_scope' });
  });
});

describe('with a good token', () => {
  test.each([
    ['the environment as issuer and a scope string', {}],
    ['the resource as issuer', { iss: '' }],
    ['a scopes array', { scope: undefined, scopes: ['web-search:read'] }],
  ])('%s: initialize, tools/list and web_search through the MCP SDK client', async (_case, claims) => {
    const overrides: Record<string, unknown> = { ...claims };
    if (overrides.iss === '') overrides.iss = `${issuer.environmentUrl}/resources/${issuer.resourceId}`;
    const token = await issuer.mint({ claims: overrides });
    const client = await connect(token);
    try {
      expect(client.getServerVersion()?.name).toBe('web-search-mcp');
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toContain('web_search');
      const result = await client.callTool({ name: 'web_search', arguments: { query: 'model context protocol', max_results: 2 } });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { results: unknown[] }).results).toHaveLength(2);
      expect((result.content as Array<{ text: string }>)[0]!.text).toContain('https://example.com/model-context-protocol/1');

      const upstream = tavily.requests.find((request) => request.endpoint === 'search')!;
      expect(upstream.headers.authorization).toBe(`Bearer ${tavily.apiKey}`);
      expect(upstream.rawBody).not.toContain(token);
      expect(JSON.stringify(upstream.headers)).not.toContain(token);
      expect(upstream.body).toMatchObject({ query: 'model context protocol', max_results: 2 });
    } finally {
      await client.close();
    }
  });

  test.each([
    [401, /API key/],
    [429, /rate limit/i],
    [432, /credits/],
    [500, /unavailable/],
  ])('Tavily answering %d becomes an isError result with advice, never an HTTP error', async (status, advice) => {
    tavily.always('search', tavilyError(status));
    const client = await connect(await issuer.mint());
    try {
      const result = await client.callTool({ name: 'web_search', arguments: { query: 'anything' } });
      expect(result.isError).toBe(true);
      expect((result.content as Array<{ text: string }>)[0]!.text).toMatch(advice);
    } finally {
      await client.close();
    }
  });

  test('GET and DELETE on the MCP endpoint answer 405 with Allow: POST', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(stack.mcpUrl, { method, headers: { Accept: 'text/event-stream' } });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
  });
});

describe('discovery and registration', () => {
  test('protected resource metadata at both well-known paths', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/web-search/mcp']) {
      const response = await fetch(`${stack.baseUrl}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        resource: stack.resourceIdentifier,
        authorization_servers: [`${issuer.environmentUrl}/resources/${issuer.resourceId}`],
        scopes_supported: ['web-search:read'],
        bearer_methods_supported: ['header'],
        resource_name: 'Web Search MCP',
      });
    }
  });

  test('authorization server metadata is proxied, issuer untouched, registration through this server', async () => {
    const response = await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`);
    expect(response.status).toBe(200);
    const metadata = await response.json();
    expect(metadata.issuer).toBe(`${issuer.environmentUrl}/resources/${issuer.resourceId}`);
    expect(metadata.token_endpoint).toBe(`${issuer.environmentUrl}/oauth/token`);
    expect(metadata.registration_endpoint).toBe(`${stack.baseUrl}/oauth/register`);
  });

  test('registration is forwarded upstream and the answer relayed without cookies', async () => {
    const response = await fetch(`${stack.baseUrl}/oauth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_name: 'Test', redirect_uris: ['http://127.0.0.1:9999/callback'] }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('set-cookie')).toBeNull();
    const client = await response.json();
    expect(client.client_id).toMatch(/^skc_/);
    // The registration policy makes a public client explicit when the request leaves the method out.
    expect(issuer.registrations.at(-1)).toEqual({ client_name: 'Test', redirect_uris: ['http://127.0.0.1:9999/callback'], token_endpoint_auth_method: 'none' });
  });

  test('registration with a body that is not JSON: 400 without calling upstream', async () => {
    const before = issuer.registrations.length;
    const response = await fetch(`${stack.baseUrl}/oauth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{not json',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_client_metadata' });
    expect(issuer.registrations.length).toBe(before);
  });

  test('an unknown route: 404 JSON', async () => {
    const response = await fetch(`${stack.baseUrl}/nope`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });
});
