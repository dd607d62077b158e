/**
 * When API Gateway's cached Allow outlives a token, the MCP function answers a
 * JSON 401 of its own, with no challenge (API Gateway would rename one from a
 * function). The MCP TypeScript SDK v2 client (2.4.0) must re-authorize on it:
 * here, by refreshing, since it asked for offline_access. The v1 client's case
 * is in oauth-flow.test.ts.
 */
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { decodeJwt } from 'jose';
import { startDevStack, type DevStack } from '../../local/dev-stack.js';
import { startFakeTavily, type FakeTavily } from '../fixtures/fake-tavily.js';
import { V2HeadlessOAuthClient } from './v2-headless-oauth-client.js';

const REDIRECT_URL = 'http://127.0.0.1:53684/callback';

let tavily: FakeTavily;
let dev: DevStack;
const accessLog: Array<{ method: string; path: string; status: number; authorizer?: string }> = [];

beforeAll(async () => {
  tavily = await startFakeTavily();
  dev = await startDevStack(
    { TAVILY_API_KEY: tavily.apiKey, TAVILY_API_BASE_URL: tavily.url, DEV_ACCESS_TOKEN_TTL_SECONDS: '2' },
    { port: 0, devAuthPort: 0, hosts: ['127.0.0.1'], publicHost: '127.0.0.1', onLog: () => undefined, onAccessLog: (entry) => accessLog.push(entry) },
  );
});

afterAll(async () => {
  await dev?.close();
  await tavily?.close();
});

test('the v2 client refreshes on the MCP function\'s JSON 401 under a cached Allow, and carries on', async () => {
  const mcpUrl = new URL(dev.stack.mcpUrl);
  const provider = new V2HeadlessOAuthClient(REDIRECT_URL, {
    client_name: 'v2 re-authorize client',
    redirect_uris: [REDIRECT_URL],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  });
  const newClient = () => new Client({ name: 'v2-reauthorize', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
  await expect(newClient().connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  await first.finishAuth(provider.callback!);
  const client = newClient();
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  try {
    await client.listTools();
    const before = provider.tokens()!;
    expect(before.refresh_token).toEqual(expect.any(String));
    // Past the 2 s lifetime and the authorizer's 10 s clock tolerance; the gateway's Allow (60 s) is still cached.
    const expiresAt = (decodeJwt(before.access_token).exp! + 10) * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 1_000));
    const logged = accessLog.length;
    const result = await client.callTool({ name: 'web_search', arguments: { query: 'after expiry', max_results: 2 } });
    expect(result.isError).toBeFalsy();
    expect(accessLog.slice(logged)).toContainEqual(expect.objectContaining({ method: 'POST', path: '/web-search/mcp', status: 401, authorizer: 'cached' }));
    expect(provider.tokens()!.access_token).not.toBe(before.access_token);
    expect(provider.authorizationUrls).toHaveLength(1); // refreshed, not sent back through the authorization endpoint
  } finally {
    await client.close();
  }
}, 40_000);
