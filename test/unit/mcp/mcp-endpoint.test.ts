/**
 * The MCP endpoint core, called with web-standard Requests and no AWS event in
 * sight: what it refuses before the SDK sees anything, and how the invocation's
 * remaining time becomes the deadline a slow Tavily runs into.
 */
import { createMcpEndpoint } from '../../../lambda/mcp/mcp-endpoint.js';
import { createMcpServerFactory } from '../../../lambda/mcp/server.js';
import { createTavilyClient } from '../../../lambda/mcp/tavily.js';
import { toolEntries } from '../../../lambda/mcp/tools/index.js';
import type { Invocation } from '../../../lambda/shared/api-gateway.js';
import { createOriginPolicy } from '../../../lambda/shared/cors.js';
import { defaultToolScopes } from '../../../lambda/shared/settings.js';
import { startFakeTavily, type FakeTavily } from '../../fixtures/fake-tavily.js';

let tavily: FakeTavily;
beforeAll(async () => {
  tavily = await startFakeTavily();
});
afterAll(() => tavily.close());
beforeEach(() => tavily.reset());

function endpoint(outputBudgetChars?: number) {
  const newServer = createMcpServerFactory({
    tools: toolEntries,
    toolScopes: defaultToolScopes(),
    tavily: createTavilyClient({ baseUrl: tavily.url, apiKey: async () => tavily.apiKey }),
    ...(outputBudgetChars ? { outputBudgetChars } : {}),
  });
  return createMcpEndpoint({ newServer, originPolicy: createOriginPolicy(['https://app.example.com']) });
}

const future = () => Math.floor(Date.now() / 1000) + 300;
const invocation = (overrides: Partial<Invocation> = {}): Invocation => ({
  requestId: 'req-1',
  authorizer: { sub: 'usr_1', clientId: 'c', scopes: '["web-search:read"]', exp: String(future()), tokenId: 't' },
  remainingTimeMs: () => 20_000,
  ...overrides,
});

function rpc(body: object, headers: Record<string, string> = {}, method = 'POST') {
  return new Request('https://mcp.example.com/web-search/mcp', {
    method,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: 'Bearer secret-token', ...headers },
    ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
  });
}

const call = (name: string, args: object) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } });

test('when Tavily hangs, the call ends before the invocation does, as an isError result saying how to ask for less', async () => {
  tavily.always('search', { kind: 'hang' });
  // 1.8 s left, 1.5 s kept back for the answer: Tavily gets about 300 ms.
  const response = await endpoint()(rpc(call('web_search', { query: 'slow' })), invocation({ remainingTimeMs: () => 1_800 }));
  expect(response.status).toBe(200);
  const { result } = await response.json();
  expect(result.isError).toBe(true);
  expect(result.content[0].text).toMatch(/took too long.*before this server's time limit.*search_depth "basic" or "fast"/);
});

test('the client token never reaches the tools: Tavily gets the server key', async () => {
  const response = await endpoint()(rpc(call('web_search', { query: 'who sees what' })), invocation());
  expect((await response.json()).result.isError).toBeFalsy();
  expect(tavily.requests[0]!.headers.authorization).toBe(`Bearer ${tavily.apiKey}`);
  expect(JSON.stringify(tavily.requests[0])).not.toContain('secret-token');
});

test('a token past exp (while an Allow may still sit in API Gateway\'s cache): 401 with a JSON body', async () => {
  const expired = invocation({ authorizer: { sub: 'usr_1', clientId: 'c', scopes: '["web-search:read"]', exp: String(Math.floor(Date.now() / 1000) - 60) } });
  const response = await endpoint()(rpc({ jsonrpc: '2.0', id: 1, method: 'ping' }), expired);
  expect(response.status).toBe(401);
  expect(await response.json()).toMatchObject({ error: 'invalid_token' });
});

test('no authorizer context at all: 401, the SDK never runs', async () => {
  const response = await endpoint()(rpc({ jsonrpc: '2.0', id: 1, method: 'ping' }), invocation({ authorizer: undefined }));
  expect(response.status).toBe(401);
});

test('a foreign Origin: 403; an allowed one: served', async () => {
  expect((await endpoint()(rpc({ jsonrpc: '2.0', id: 1, method: 'ping' }, { Origin: 'https://evil.example' }), invocation())).status).toBe(403);
  expect((await endpoint()(rpc({ jsonrpc: '2.0', id: 1, method: 'ping' }, { Origin: 'https://app.example.com' }), invocation())).status).toBe(200);
});

test('GET and DELETE: 405 with Allow: POST', async () => {
  for (const method of ['GET', 'DELETE']) {
    const response = await endpoint()(rpc({}, {}, method), invocation());
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  }
});

test('one server serves request after request, each on a fresh transport', async () => {
  const serve = endpoint();
  for (let id = 1; id <= 5; id++) {
    const response = await serve(rpc({ jsonrpc: '2.0', id, method: 'ping' }), invocation());
    expect(await response.json()).toEqual({ jsonrpc: '2.0', id, result: {} });
  }
});

test('an answer that would pass Lambda\'s 6 MB limit becomes a JSON-RPC error saying what to do, never a 502', async () => {
  // The largest budget, filled with three-byte characters, in the text and the structured content: over 6 MB.
  const page = '€'.repeat(1_000_000);
  tavily.always('extract', { kind: 'json', body: { results: [{ url: 'https://example.com/a', raw_content: page }], failed_results: [] } });
  const response = await endpoint(1_000_000)(rpc(call('web_extract', { urls: ['https://example.com/a'] })), invocation());
  expect(response.status).toBe(200);
  const text = await response.text();
  expect(Buffer.byteLength(text)).toBeLessThan(1000);
  expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32000, message: expect.stringContaining('too large') } });
});
