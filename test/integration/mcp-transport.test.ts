/**
 * The HTTP side of MCP (streamable HTTP, 2025-11-25) through the local gateway,
 * and the Lambda instance model: one request at a time per instance, a reused
 * server per instance, new instances for concurrent clients, never a shared
 * in-flight server.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { LocalStack } from '../../local/stack.js';
import type { FakeTavily } from '../fixtures/fake-tavily.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import type { TokenIssuer } from '../fixtures/token-issuer.js';

let running: TestStack;
let issuer: TokenIssuer;
let tavily: FakeTavily;
let stack: LocalStack;
let token: string;

beforeAll(async () => {
  running = await startTestStack();
  ({ issuer, tavily, stack } = running);
  token = await issuer.mint({ expiresInSeconds: 600 });
});

afterAll(() => running?.close());

const ACCEPT_BOTH = 'application/json, text/event-stream';

function post(body: string | object, headers: Record<string, string> = {}) {
  return fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: ACCEPT_BOTH, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const request = (method: string, params: object = {}, id: number | string = 1) => ({ jsonrpc: '2.0', id, method, params });

describe('requests the transport refuses', () => {
  test('Accept without text/event-stream: 406', async () => {
    const response = await post(request('ping'), { Accept: 'application/json' });
    expect(response.status).toBe(406);
  });

  test('a Content-Type other than JSON: 415', async () => {
    const response = await post(JSON.stringify(request('ping')), { 'Content-Type': 'text/plain' });
    expect(response.status).toBe(415);
  });

  test('a body that is not JSON: 400 with JSON-RPC -32700', async () => {
    const response = await post('{"jsonrpc": "2.0", "id": 1,');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 }, id: null });
  });

  test('JSON that is not a JSON-RPC message: 400 with -32600 (invalid request)', async () => {
    const response = await post({ hello: 'world' });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe(-32600);
  });

  test('an unsupported MCP-Protocol-Version on a 2025-era request: 400 naming the supported ones', async () => {
    const response = await post(request('ping'), { 'MCP-Protocol-Version': '1999-01-01' });
    expect(response.status).toBe(400);
    const { error } = await response.json();
    expect(error.message).toMatch(/Unsupported protocol version/i);
    expect(error.message).toContain('2025-11-25');
  });

  test('a body over the limit: 413', async () => {
    const response = await post(request('ping', { padding: 'x'.repeat(1024 * 1024 + 1) }));
    expect(response.status).toBe(413);
  });

  test('GET (no SSE stream here) and DELETE (no sessions): 405 with Allow: POST', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(stack.mcpUrl, { method, headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
      expect((await response.json()).error.code).toBe(-32000);
    }
  });
});

describe('requests the server answers', () => {
  test('initialize negotiates 2025-11-25 and offers tools, without a session id', async () => {
    const response = await post(
      request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('mcp-session-id')).toBeNull();
    const { result } = await response.json();
    expect(result.protocolVersion).toBe('2025-11-25');
    expect(result.capabilities.tools).toEqual({ listChanged: false });
    expect(result.serverInfo).toMatchObject({ name: 'web-search-mcp' });
  });

  test('an older client version is answered in its own version', async () => {
    const response = await post(
      request('initialize', { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'old', version: '1' } }),
    );
    expect((await response.json()).result.protocolVersion).toBe('2025-03-26');
  });

  test('a notification alone: 202 and no body', async () => {
    const response = await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('');
  });

  test('ping: an empty result', async () => {
    const response = await post(request('ping', {}, 'p-1'), { 'MCP-Protocol-Version': '2025-11-25' });
    expect(await response.json()).toEqual({ jsonrpc: '2.0', id: 'p-1', result: {} });
  });

  test('an unknown method: JSON-RPC -32601', async () => {
    const response = await post(request('resources/list'));
    expect(response.status).toBe(200);
    expect((await response.json()).error.code).toBe(-32601);
  });

  test('an unknown tool: JSON-RPC invalid params naming it', async () => {
    const response = await post(request('tools/call', { name: 'no_such_tool', arguments: {} }));
    const { error } = await response.json();
    expect(error.code).toBe(-32602);
    expect(error.message).toContain('no_such_tool');
  });

  test('tools carry titles, read-only and open-world annotations, and output schemas', async () => {
    const { result } = await (await post(request('tools/list'))).json();
    expect(result.tools.map((tool: { name: string }) => tool.name)).toEqual(['web_search', 'web_extract', 'web_crawl', 'web_map', 'web_research', 'web_research_result']);
    for (const tool of result.tools) {
      expect(tool.title).toEqual(expect.any(String));
      expect(tool.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: true });
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema.type).toBe('object');
      for (const property of Object.values(tool.inputSchema.properties) as Array<{ description?: string }>) {
        expect(property.description).toEqual(expect.any(String));
      }
    }
  });

  test('arguments outside the schema: an isError result naming the argument', async () => {
    const response = await post(request('tools/call', { name: 'web_search', arguments: { query: 'x', max_results: 99 } }));
    const { result } = await response.json();
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toContain('max_results');
  });
});

describe('the Lambda instance model', () => {
  test('sequential requests are served by one instance and its one reused server', async () => {
    await stack.pools.mcp.recycle();
    const before = stack.pools.mcp.coldStarts;
    for (let i = 0; i < 5; i++) expect((await post(request('ping', {}, i))).status).toBe(200);
    expect(stack.pools.mcp.coldStarts - before).toBe(1);
  });

  test('concurrent clients get instances of their own and only their own answers', async () => {
    await stack.pools.mcp.recycle();
    tavily.always('search', { kind: 'delay', ms: 300 });
    const before = stack.pools.mcp.coldStarts;
    try {
      const queries = Array.from({ length: 4 }, (_, i) => `parallel query ${i}`);
      const results = await Promise.all(
        queries.map(async (query) => {
          const client = new Client({ name: query, version: '1' });
          await client.connect(new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
          try {
            return await client.callTool({ name: 'web_search', arguments: { query, max_results: 1 } });
          } finally {
            await client.close();
          }
        }),
      );
      results.forEach((result, i) => {
        expect(result.isError).toBeFalsy();
        expect((result.structuredContent as { query: string }).query).toBe(queries[i]);
      });
      // Calls overlapped (each waits on Tavily), so more than one instance had to start.
      expect(stack.pools.mcp.coldStarts - before).toBeGreaterThan(1);
    } finally {
      tavily.reset();
    }
  });
});
