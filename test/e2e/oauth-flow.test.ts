/**
 * `npm run dev`'s stack with no configuration, driven by real clients through
 * the whole OAuth 2.1 flow: the MCP SDK client discovers the authorization
 * server from the 401, registers (DCR), authorizes with PKCE and the resource
 * indicator, and calls web search against a loopback fake Tavily; then refresh,
 * client credentials, step-up, and the 2025-03-26 compatibility paths.
 */
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { startDevStack, type DevStack } from '../../local/dev-stack.js';
import { startFakeTavily, type FakeTavily } from '../fixtures/fake-tavily.js';
import { HeadlessOAuthClient } from './headless-oauth-client.js';

const REDIRECT_URL = 'http://127.0.0.1:53682/callback';
let tavily: FakeTavily;
let dev: DevStack;
const accessLog: Array<{ method: string; path: string; status: number; authorizer?: string }> = [];

beforeAll(async () => {
  tavily = await startFakeTavily();
  dev = await startDevStack(
    {
      TAVILY_API_KEY: tavily.apiKey,
      TAVILY_API_BASE_URL: tavily.url,
      DEV_ACCESS_TOKEN_TTL_SECONDS: '2',
      // Crawling costs more: it takes a scope of its own here, beside the one every token needs.
      TOOL_SCOPES: 'web_crawl=web-search:crawl',
    },
    { port: 0, devAuthPort: 0, hosts: ['127.0.0.1'], publicHost: '127.0.0.1', onLog: () => undefined, onAccessLog: (entry) => accessLog.push(entry) },
  );
});

afterAll(async () => {
  await dev?.close();
  await tavily?.close();
});

const mcpUrl = () => new URL(dev.stack.mcpUrl);

function publicClient(extra: Partial<ConstructorParameters<typeof HeadlessOAuthClient>[1]> = {}, extraScopes: readonly string[] = []) {
  return new HeadlessOAuthClient(REDIRECT_URL, {
    client_name: 'e2e test client',
    redirect_uris: [REDIRECT_URL],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  }, extraScopes);
}

/** The SDK's interactive flow: connect, get sent to authorize, finish with the code, connect again. */
async function authorizeAndConnect(provider: HeadlessOAuthClient): Promise<Client> {
  const first = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
  await expect(new Client({ name: 'e2e', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.code).toBeDefined();
  await first.finishAuth(provider.code!);
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
  return client;
}

async function search(client: Client, query: string) {
  const result = await client.callTool({ name: 'web_search', arguments: { query, max_results: 1 } });
  expect(result.isError).toBeFalsy();
  return result;
}

test('the dev stack trusts its embedded authorization server and advertises it', async () => {
  const prm = await (await fetch(dev.stack.protectedResourceMetadataUrl)).json();
  expect(prm.resource).toBe(dev.stack.mcpUrl);
  expect(prm.authorization_servers).toEqual([`${dev.devAuthorizationServer!.url}/resources/res_dev`]);
  const metadata = await (await fetch(`${dev.devAuthorizationServer!.url}/resources/res_dev/.well-known/oauth-authorization-server`)).json();
  expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
  expect(metadata.registration_endpoint).toBeDefined();
});

test('401 → PRM → AS metadata → DCR → PKCE authorization with resource and scope → token → tools', async () => {
  const provider = publicClient();
  const client = await authorizeAndConnect(provider);
  try {
    const authorization = provider.authorizationUrls[0]!;
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('resource')).toBe(dev.stack.mcpUrl);
    expect(authorization.searchParams.get('scope')).toBe('web-search:read');
    expect(provider.clientInformation()?.client_id).toBeDefined();

    const claims = decodeJwt(provider.tokens()!.access_token);
    expect(claims.aud).toEqual([dev.stack.mcpUrl, 'res_dev']);
    expect(claims.scope).toBe('web-search:read');
    expect(claims.sub).toBe('usr_dev');
    // It did not ask for offline_access: no refresh token (Scalekit's rule too).
    expect(provider.tokens()!.refresh_token).toBeUndefined();

    // web_crawl needs web-search:crawl, which this token lacks: it is not listed, and calling it says why.
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['web_search', 'web_extract', 'web_map', 'web_research', 'web_research_result']);
    const crawl = await client.callTool({ name: 'web_crawl', arguments: { url: 'https://example.com' } });
    expect(crawl.isError).toBe(true);
    expect((crawl.content as Array<{ text: string }>)[0]!.text).toContain('"web-search:crawl"');
    const result = await search(client, 'oauth end to end');
    expect((result.content as Array<{ text: string }>)[0]!.text).toContain('oauth end to end');
    expect(tavily.requests.at(-1)!.headers.authorization).toBe(`Bearer ${tavily.apiKey}`);
  } finally {
    await client.close();
  }
});

test('a client that asked for offline_access refreshes its expired access token and carries on', async () => {
  // Registered for offline_access too (the v1 SDK would register only the challenge's scope), and asking for it.
  const provider = publicClient({}, ['offline_access']);
  const registration = await fetch(`${dev.devAuthorizationServer!.authorizationServerUrl}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...provider.clientMetadata, scope: 'web-search:read offline_access' }),
  });
  expect(registration.status).toBe(201);
  provider.saveClientInformation(await registration.json());
  const client = await authorizeAndConnect(provider);
  try {
    await search(client, 'before expiry');
    const first = provider.tokens()!;
    expect(first.refresh_token).toBeDefined();
    // Wait out the 2 s lifetime and the authorizer's clock tolerance, then call again.
    const expiresAt = (decodeJwt(first.access_token).exp! + 10) * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 1_000));
    const logged = accessLog.length;
    await search(client, 'after expiry');
    // The gateway still held the Allow for the expired token (default TTL 60 s): the MCP function's own
    // JSON 401, which has no challenge, is what sent the client to refresh.
    expect(accessLog.slice(logged)).toContainEqual(expect.objectContaining({ method: 'POST', path: '/web-search/mcp', status: 401, authorizer: 'cached' }));
    const refreshed = provider.tokens()!;
    expect(refreshed.access_token).not.toBe(first.access_token);
    expect(refreshed.refresh_token).not.toBe(first.refresh_token); // rotated
    expect(provider.authorizationUrls).toHaveLength(1); // no second trip through the authorization endpoint
  } finally {
    await client.close();
  }
}, 30_000);

test('machine to machine: the SDK ClientCredentialsProvider with the dev M2M client', async () => {
  const { clientId, clientSecret, authorizationServerUrl } = dev.devAuthorizationServer!;
  const provider = new ClientCredentialsProvider({ clientId, clientSecret, scope: 'web-search:read', expectedIssuer: authorizationServerUrl });
  const client = new Client({ name: 'm2m', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
  try {
    await search(client, 'machine client');
    const claims = decodeJwt(provider.tokens()!.access_token);
    expect(claims.client_id).toBe(clientId);
    expect(claims.aud).toEqual([dev.stack.mcpUrl, 'res_dev']);
  } finally {
    await client.close();
  }
});

test('a wrong M2M secret is refused at the token endpoint', async () => {
  const { clientId, authorizationServerUrl } = dev.devAuthorizationServer!;
  const provider = new ClientCredentialsProvider({ clientId, clientSecret: 'wrong-secret', scope: 'web-search:read', expectedIssuer: authorizationServerUrl });
  const client = new Client({ name: 'm2m', version: '1.0.0' });
  await expect(client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }))).rejects.toThrow();
});

test('step-up: a token without web-search:read gets 403 insufficient_scope; the client re-authorizes with the scope named in the challenge', async () => {
  // A client registered for both scopes that first asked for too little (only web-search:crawl).
  // Without a refresh token the SDK goes straight back to the authorization endpoint on 403;
  // with one it would refresh first, and a refresh cannot add a scope.
  const provider = publicClient({ grant_types: ['authorization_code'] });
  const registration = await fetch(`${dev.devAuthorizationServer!.url}/resources/res_dev/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...provider.clientMetadata, scope: 'web-search:read web-search:crawl' }),
  });
  expect(registration.status).toBe(201);
  provider.saveClientInformation(await registration.json());

  const transport = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
  await expect(new Client({ name: 'step-up', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  const narrowed = new URL(provider.authorizationUrls[0]!);
  narrowed.searchParams.set('scope', 'web-search:crawl');
  await provider.redirectToAuthorization(narrowed);
  await transport.finishAuth(provider.code!);
  expect(decodeJwt(provider.tokens()!.access_token).scope).toBe('web-search:crawl');

  const denied = await fetch(mcpUrl(), {
    method: 'POST',
    headers: { Authorization: `Bearer ${provider.tokens()!.access_token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  expect(denied.status).toBe(403);
  expect(denied.headers.get('www-authenticate')).toContain('error="insufficient_scope", scope="web-search:read"');

  // The SDK reads the challenge, sends the user to authorize web-search:read, and retries.
  const before = provider.authorizationUrls.length;
  const stepUp = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
  await expect(new Client({ name: 'step-up', version: '1.0.0' }).connect(stepUp)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.authorizationUrls.length).toBe(before + 1);
  expect(provider.authorizationUrls.at(-1)!.searchParams.get('scope')).toBe('web-search:read');
  await stepUp.finishAuth(provider.code!);
  expect(decodeJwt(provider.tokens()!.access_token).scope).toBe('web-search:read');
  const upgraded = new Client({ name: 'step-up', version: '1.0.0' });
  await upgraded.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
  try {
    await search(upgraded, 'after step-up');
  } finally {
    await upgraded.close();
  }
});

test('a token for another resource is refused by the authorizer', async () => {
  const { tokenEndpoint, clientId, clientSecret } = dev.devAuthorizationServer!;
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'web-search:read', resource: 'http://127.0.0.1:1/other/mcp' }),
  });
  expect(response.status).toBe(200);
  const { access_token } = await response.json();
  // Only tokens for this server carry its resource id (as with Scalekit, one resource id per server).
  expect(decodeJwt(access_token).aud).toEqual(['http://127.0.0.1:1/other/mcp']);
  const refused = await fetch(mcpUrl(), {
    method: 'POST',
    headers: { Authorization: `Bearer ${access_token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  expect(refused.status).toBe(401);
});

describe('the 2025-03-26 compatibility paths', () => {
  test('the proxied metadata keeps the issuer and points registration at this server', async () => {
    const upstream = await (await fetch(`${dev.devAuthorizationServer!.url}/resources/res_dev/.well-known/oauth-authorization-server`)).json();
    const proxied = await (await fetch(`${dev.stack.baseUrl}/.well-known/oauth-authorization-server`)).json();
    expect(proxied.issuer).toBe(upstream.issuer);
    expect(proxied.authorization_endpoint).toBe(upstream.authorization_endpoint);
    expect(proxied.token_endpoint).toBe(upstream.token_endpoint);
    expect(proxied.registration_endpoint).toBe(`${dev.stack.baseUrl}/oauth/register`);
  });

  test('a client that registers through /oauth/register completes the flow', async () => {
    const registration = await fetch(`${dev.stack.baseUrl}/oauth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        client_name: 'legacy client',
        redirect_uris: [REDIRECT_URL],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    });
    expect(registration.status).toBe(201);
    const information = await registration.json();
    const provider = publicClient();
    provider.saveClientInformation(information);
    const client = await authorizeAndConnect(provider);
    try {
      expect(provider.clientInformation()?.client_id).toBe(information.client_id);
      await search(client, 'registered through the proxy');
    } finally {
      await client.close();
    }
    expect(accessLog.some((entry) => entry.path === '/oauth/register' && entry.status === 201)).toBe(true);
  });
});
