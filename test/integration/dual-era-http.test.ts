/**
 * Both MCP eras on one endpoint, in raw HTTP through the local gateway (so the
 * headers cross the gateway as they would cross API Gateway): 2026-07-28's
 * server/discover, envelope and header rules with their exact codes, caching
 * hints, and 2025-11-25 unchanged beside it. Then what hostile testing found:
 * batches, cancelled requests inside them, malformed tool arguments and
 * invented method names, each refused quickly, with no Tavily call.
 */
import { request as httpRequest } from 'node:http';
import type { LocalStack } from '../../local/stack.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../../lambda/mcp/protocol-answers.generated.js';
import { LIST_CACHE_TTL_MS } from '../../lambda/mcp/server.js';
import { MALFORMED_TOOL_CALL_MESSAGE } from '../../lambda/mcp/protocol.js';
import { defaultToolScopes } from '../../lambda/shared/settings.js';
import type { FakeTavily } from '../fixtures/fake-tavily.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import type { TokenIssuer } from '../fixtures/token-issuer.js';

const MODERN = '2026-07-28';
const LEGACY = '2025-11-25';

let running: TestStack;
let issuer: TokenIssuer;
let tavily: FakeTavily;
let stack: LocalStack;
let token: string;
let crawlToken: string;

beforeAll(async () => {
  running = await startTestStack({ stack: { toolScopes: { ...defaultToolScopes(), web_crawl: ['web-search:crawl'] } } });
  ({ issuer, tavily, stack } = running);
  token = await issuer.mint({ expiresInSeconds: 600 });
  crawlToken = await issuer.mint({ expiresInSeconds: 600, claims: { scope: 'web-search:read web-search:crawl' } });
});
afterAll(() => running?.close());
beforeEach(() => tavily.reset());

const envelope = (version = MODERN) => ({
  'io.modelcontextprotocol/protocolVersion': version,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw-http', version: '1.0.0' },
});

/** A 2026-07-28 request with its headers (overridable). */
function modern(method: string, params: Record<string, unknown> = {}, headers: Record<string, string | undefined> = {}, id: number | string = 1) {
  const defaults: Record<string, string> = { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': method };
  if (method === 'tools/call' && typeof params.name === 'string') defaults['Mcp-Name'] = params.name;
  return post({ jsonrpc: '2.0', id, method, params: { ...params, _meta: envelope() } }, { ...defaults, ...headers });
}

function post(body: unknown, headers: Record<string, string | undefined> = {}, bearer = token) {
  const all: Record<string, string> = {
    Authorization: `Bearer ${bearer}`,
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) delete all[name];
    else all[name] = value;
  }
  return fetch(stack.mcpUrl, { method: 'POST', headers: all, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function json(response: Response) {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return response.json();
}

describe('2026-07-28', () => {
  test('server/discover: the modern version, tools without listChanged, instructions, caching hints, server info', async () => {
    const response = await modern('server/discover');
    expect(response.status).toBe(200);
    const { result, id } = await json(response);
    expect(id).toBe(1);
    expect(result.supportedVersions.slice(0, 2)).toEqual([MODERN, LEGACY]);
    expect(result).toMatchObject({
      // A dual-era endpoint lists every version it serves, newest first (the spec's versioning page).
      supportedVersions: SUPPORTED_PROTOCOL_VERSIONS,
      capabilities: { tools: { listChanged: false } },
      resultType: 'complete',
      ttlMs: LIST_CACHE_TTL_MS,
      cacheScope: 'private',
      _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'web-search-mcp' } },
    });
    expect(result.instructions).toMatch(/web_search/);
  });

  test('tools/list: filtered by the token\'s scopes, cached privately (the list depends on the caller)', async () => {
    const plain = (await json(await modern('tools/list'))).result;
    expect(plain).toMatchObject({ ttlMs: LIST_CACHE_TTL_MS, cacheScope: 'private', resultType: 'complete' });
    expect(plain.tools.map((tool: { name: string }) => tool.name)).toEqual(['web_search', 'web_extract', 'web_map', 'web_research', 'web_research_result']);
    const crawl = (await json(await post(
      { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: envelope() } },
      { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/list' },
      crawlToken,
    ))).result;
    expect(crawl.tools.map((tool: { name: string }) => tool.name)).toEqual(['web_search', 'web_extract', 'web_crawl', 'web_map', 'web_research', 'web_research_result']);
  });

  test('tools/call: answered as JSON, Tavily called once with the server key', async () => {
    const response = await modern('tools/call', { name: 'web_search', arguments: { query: 'dual era' } });
    expect(response.status).toBe(200);
    const { result } = await json(response);
    expect(result.isError).toBeFalsy();
    expect(result.resultType).toBe('complete');
    expect(tavily.requests).toHaveLength(1);
    expect(tavily.requests[0]!.headers.authorization).toBe(`Bearer ${tavily.apiKey}`);
  });

  test.each([
    ['MCP-Protocol-Version missing', { 'MCP-Protocol-Version': undefined }],
    ['MCP-Protocol-Version differs from _meta', { 'MCP-Protocol-Version': LEGACY }],
    ['Mcp-Method missing', { 'Mcp-Method': undefined }],
    ['Mcp-Method differs from the body', { 'Mcp-Method': 'tools/list' }],
    ['Mcp-Name missing on tools/call', { 'Mcp-Name': undefined }],
    ['Mcp-Name differs from params.name', { 'Mcp-Name': 'web_map' }],
  ])('%s: 400 with -32020, and no Tavily call', async (_case, headers) => {
    const response = await modern('tools/call', { name: 'web_search', arguments: { query: 'q' } }, headers);
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe(-32020);
    expect(tavily.requests).toHaveLength(0);
  });

  test('an unsupported version: 400 with -32022 listing every supported version, 2025-era ones included', async () => {
    const response = await post(
      { jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: envelope('2099-01-01') } },
      { 'MCP-Protocol-Version': '2099-01-01', 'Mcp-Method': 'tools/list' },
    );
    expect(response.status).toBe(400);
    const { error, id } = await json(response);
    expect(id).toBe(3);
    expect(error).toMatchObject({ code: -32022, data: { supported: SUPPORTED_PROTOCOL_VERSIONS, requested: '2099-01-01' } });
    expect(error.data.supported).toContain(LEGACY);
  });

  test('an envelope without clientCapabilities: 400 with -32602 naming the key', async () => {
    const response = await post(
      { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } } },
      { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/list' },
    );
    expect(response.status).toBe(400);
    const { error } = await json(response);
    expect(error.code).toBe(-32602);
    expect(error.message).toContain('io.modelcontextprotocol/clientCapabilities');
  });

  test('a modern header on a request without the envelope: 400 with -32602', async () => {
    const response = await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/list' });
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe(-32602);
  });

  test.each(['ping', 'logging/setLevel', 'no/such-method', 'initialize'])('%s under the envelope: 404 with -32601 (not part of 2026-07-28)', async (method) => {
    const response = await modern(method);
    expect(response.status).toBe(404);
    expect((await json(response)).error.code).toBe(-32601);
  });

  test('initialize (the legacy handshake) with a modern MCP-Protocol-Version header: 400 with -32020', async () => {
    const response = await post(
      { jsonrpc: '2.0', id: 6, method: 'initialize', params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
      { 'MCP-Protocol-Version': MODERN },
    );
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe(-32020);
  });

  test('subscriptions/listen with listChanged false: acknowledged and closed at once, never held open', async () => {
    const response = await modern('subscriptions/listen', { notifications: { toolsListChanged: true } });
    expect(response.status).toBe(200);
    const text = await response.text(); // resolves only once the stream is closed
    expect(text).toContain('notifications/subscriptions/acknowledged');
    expect(text).toContain('"resultType":"complete"');
  });

  test('a notification: 202 without a body', async () => {
    const response = await post(
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: envelope() } },
      { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'notifications/cancelled' },
    );
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('');
  });
});

describe('2025-11-25 on the same endpoint', () => {
  test('initialize, notifications/initialized, ping, tools/list, tools/call: all JSON, as before', async () => {
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    expect(init.status).toBe(200);
    expect((await json(init)).result).toMatchObject({ protocolVersion: LEGACY, capabilities: { tools: { listChanged: false } }, serverInfo: { name: 'web-search-mcp' } });
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'MCP-Protocol-Version': LEGACY })).status).toBe(202);
    expect((await json(await post({ jsonrpc: '2.0', id: 2, method: 'ping' }, { 'MCP-Protocol-Version': LEGACY }))).result).toEqual({});
    const list = (await json(await post({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'MCP-Protocol-Version': LEGACY }))).result;
    // 2025-era answers carry no 2026-07-28 fields.
    expect(list).not.toHaveProperty('ttlMs');
    expect(list).not.toHaveProperty('resultType');
    expect(list.tools).toHaveLength(5);
    const call = await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'web_search', arguments: { query: 'legacy' } } }, { 'MCP-Protocol-Version': LEGACY });
    expect((await json(call)).result.isError).toBeFalsy();
    expect(tavily.requests).toHaveLength(1);
  });

  test('server/discover without the envelope is a 2025-era request, which has no such method', async () => {
    const response = await post({ jsonrpc: '2.0', id: 1, method: 'server/discover' }, { 'MCP-Protocol-Version': LEGACY });
    expect((await json(response)).error.code).toBe(-32601);
  });
});

describe('batches, and what hostile testing found', () => {
  const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list' });
  const search = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'web_search', arguments: { query: `q${id}` } } });

  test.each([
    ['2025-06-18', { 'MCP-Protocol-Version': '2025-06-18' }],
    ['2025-11-25', { 'MCP-Protocol-Version': LEGACY }],
    ['an unknown version', { 'MCP-Protocol-Version': '2099-01-01' }],
  ])('a batch under %s: 400 with -32600, nothing run', async (_version, headers) => {
    const response = await post([list(1), search(2)], headers);
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe(-32600);
    expect(tavily.requests).toHaveLength(0);
  });

  test('a batch holding a 2026-07-28 request: 400 with -32600', async () => {
    const response = await post([{ ...list(1), params: { _meta: envelope() } }], { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/list' });
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe(-32600);
  });

  test('an empty batch: 400 with -32600', async () => {
    const response = await post([]);
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe(-32600);
  });

  test('2025-03-26 (no version header): tools/list plus a notifications/cancelled for it is answered, not held until the timeout', async () => {
    const response = await post([list(7), { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } }]);
    expect(response.status).toBe(200);
    const answers = await json(response);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ id: 7, result: { tools: expect.any(Array) } });
  });

  test('2025-03-26: at most one tools/call per batch, so one request cannot multiply Tavily calls', async () => {
    const many = await post(Array.from({ length: 5 }, (_, index) => search(index + 1)), { 'MCP-Protocol-Version': '2025-03-26' });
    expect(many.status).toBe(400);
    expect((await json(many)).error).toMatchObject({ code: -32600, message: expect.stringContaining('at most 1 tools/call') });
    expect(tavily.requests).toHaveLength(0);

    const one = await post([list(1), search(2)], { 'MCP-Protocol-Version': '2025-03-26' });
    const answers = await json(one);
    expect(answers.map((answer: { id: number }) => answer.id)).toEqual([1, 2]);
    expect(answers[1].result.isError).toBeFalsy();
    expect(tavily.requests).toHaveLength(1);
  });

  test('the batch hostile testing sent (100 tools/call): 400 with -32600 before any Tavily call', async () => {
    const response = await post(Array.from({ length: 100 }, (_, index) => search(index + 1)));
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe(-32600);
    expect(tavily.requests).toHaveLength(0);
  });

  test('2025-03-26: more than 10 messages, or an initialize inside: 400 with -32600', async () => {
    const tooMany = await post(Array.from({ length: 11 }, (_, index) => list(index)));
    expect(tooMany.status).toBe(400);
    expect((await json(tooMany)).error.code).toBe(-32600);
    const withInitialize = await post([{ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }]);
    expect(withInitialize.status).toBe(400);
    expect((await json(withInitialize)).error.code).toBe(-32600);
  });

  test.each([
    ['2025-11-25', (body: object) => post(body, { 'MCP-Protocol-Version': LEGACY })],
    ['2026-07-28', (body: { params: Record<string, unknown> }) => modern('tools/call', body.params, {}, 9)],
  ])('%s: tools/call with arguments that are not an object gets -32602 in one sentence, not a schema dump', async (_era, send) => {
    for (const args of ['a string', 5, [1, 2], null]) {
      const response = await send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'web_search', arguments: args } } as never);
      expect(response.status).toBe(200);
      const { error, id } = await json(response);
      expect(id).toBe(9);
      expect(error).toEqual({ code: -32602, message: MALFORMED_TOOL_CALL_MESSAGE });
    }
    expect(tavily.requests).toHaveLength(0);
  });

  test('arguments the tool\'s schema refuses are a tool execution error the model can correct (spec), with no Tavily call', async () => {
    const response = await post(
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'web_search', arguments: { query: 5 } } },
      { 'MCP-Protocol-Version': LEGACY },
    );
    const { result } = await json(response);
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/query/);
    expect(tavily.requests).toHaveLength(0);
  });

  test('an unknown tool: -32602', async () => {
    const response = await modern('tools/call', { name: 'no_such_tool', arguments: {} });
    expect((await json(response)).error.code).toBe(-32602);
  });

  test('invented method names are logged as "unknown", never copied into the log', async () => {
    const invented = 'x'.repeat(20_000);
    const before = running.logs.join('\n').length;
    const response = await post(Array.from({ length: 10 }, (_, index) => ({ jsonrpc: '2.0', method: `notifications/${invented}${index}` })));
    expect(response.status).toBe(202);
    // The function's lines reach the test through the instance's stdout, a moment after the answer.
    const logsSince = () => running.logs.join('\n').slice(before);
    for (let waited = 0; !logsSince().includes('"method":"unknown"') && waited < 3000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    const added = logsSince();
    expect(added).not.toContain('xxxxxxxxxx');
    expect(added).toContain('"method":"unknown"');
    expect(added.length).toBeLessThan(10_000);
  });
});

describe('a malformed Host, through the gateway', () => {
  /** A POST with the Host header as given (fetch would write its own). */
  function postWithHost(host: string, body: object, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const url = new URL(stack.mcpUrl);
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          setHost: false,
          headers: {
            Host: host,
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            ...headers,
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        },
      );
      outgoing.on('error', reject);
      outgoing.end(JSON.stringify(body));
    });
  }

  test.each(['localhost:99999', 'localhost:65536', '[:::]', '[1.2.3.4]:1'])('%s: the same 400 for every method, in both eras', async (host) => {
    const expected = { status: 400, text: JSON.stringify({ error: 'invalid_request', error_description: 'The Host header is not a valid host.' }) };
    const requests: Array<[object, Record<string, string>]> = [
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'MCP-Protocol-Version': LEGACY }],
      [{ jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'x', version: '1' } } }, {}],
      [{ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'web_search', arguments: { query: 'q' } } }, { 'MCP-Protocol-Version': LEGACY }],
      [{ jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: envelope() } }, { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/list' }],
      [{ jsonrpc: '2.0', id: 5, method: 'server/discover', params: { _meta: envelope() } }, { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'server/discover' }],
    ];
    for (const [body, headers] of requests) expect(await postWithHost(host, body, headers)).toEqual(expected);
    expect(tavily.requests).toHaveLength(0);
  });
});
