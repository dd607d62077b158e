/**
 * Real clients of both eras through the local gateway, on the same endpoint:
 * the v1 SDK (`@modelcontextprotocol/sdk` 1.32.2, what most deployed agents run,
 * 2025-11-25) and the v2 SDK (`@modelcontextprotocol/client` 2.4.0) in each of
 * its negotiation modes: `legacy`, `auto` (probes with server/discover) and
 * pinned to 2026-07-28. Each lists and calls tools, and every answer it gets is
 * JSON (never SSE). The traffic each sent is recorded to show which era it spoke.
 * (Their own OAuth is proven in oauth-flow.test.ts and v2-client.test.ts.)
 */
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import type { FakeTavily } from '../fixtures/fake-tavily.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';

let running: TestStack;
let tavily: FakeTavily;
let token: string;

beforeAll(async () => {
  running = await startTestStack();
  tavily = running.tavily;
  token = await running.issuer.mint({ expiresInSeconds: 600 });
});
afterAll(() => running?.close());
beforeEach(() => tavily.reset());

interface Exchange {
  readonly method: string;
  readonly headers: Record<string, string | null>;
  readonly status: number;
  readonly contentType: string | null;
}

/** A fetch that records each exchange (the JSON-RPC method sent, the MCP headers, the answer's type). */
function recordingFetch(exchanges: Exchange[]) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await fetch(input, init);
    const headers = new Headers(init?.headers);
    let method = init?.method ?? 'GET';
    if (typeof init?.body === 'string') {
      const body = JSON.parse(init.body);
      method = Array.isArray(body) ? 'batch' : (body.method ?? 'response');
    }
    exchanges.push({
      method,
      headers: { 'mcp-protocol-version': headers.get('mcp-protocol-version'), 'mcp-method': headers.get('mcp-method'), 'mcp-name': headers.get('mcp-name') },
      status: response.status,
      contentType: response.headers.get('content-type'),
    });
    return response;
  };
}

async function listAndCall(client: { listTools(): Promise<{ tools: Array<{ name: string }> }>; callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown> }, query: string) {
  const { tools } = await client.listTools();
  expect(tools.map((tool) => tool.name)).toEqual(['web_search', 'web_extract', 'web_crawl', 'web_map', 'web_research', 'web_research_result']);
  const result = (await client.callTool({ name: 'web_search', arguments: { query, max_results: 2 } })) as { isError?: boolean; content: unknown[] };
  expect(result.isError).toBeFalsy();
  expect(JSON.stringify(result.content)).toContain(query);
  expect(tavily.requests).toHaveLength(1);
}

function expectJsonAnswers(exchanges: readonly Exchange[]) {
  for (const exchange of exchanges) {
    if (exchange.status === 202) continue; // a notification: no body
    if (exchange.method === 'GET') {
      // A 2025-era client tries to open the standalone SSE stream; a stateless server has none.
      expect(exchange).toMatchObject({ status: 405, contentType: expect.stringMatching(/^application\/json/) });
      continue;
    }
    expect(exchange).toMatchObject({ status: 200, contentType: expect.stringMatching(/^application\/json/) });
  }
}

/**
 * The 2025-era handshake and work, in order, plus the one GET with which a client tries to open its
 * standalone SSE stream: fired without waiting after notifications/initialized, so it may be answered
 * before or after tools/list.
 */
function expectLegacyTraffic(exchanges: readonly Exchange[]) {
  const methods = exchanges.map((exchange) => exchange.method);
  expect(methods.filter((method) => method !== 'GET')).toEqual(['initialize', 'notifications/initialized', 'tools/list', 'tools/call']);
  expect(methods.filter((method) => method === 'GET')).toHaveLength(1);
  expect(methods.indexOf('GET')).toBeGreaterThan(methods.indexOf('notifications/initialized'));
}

const requestInit = () => ({ headers: { Authorization: `Bearer ${token}` } });

test('v1 SDK 1.32.2: the 2025-11-25 handshake, tools/list and tools/call, all JSON', async () => {
  const exchanges: Exchange[] = [];
  const client = new V1Client({ name: 'v1-agent', version: '1.0.0' });
  await client.connect(new V1Transport(new URL(running.stack.mcpUrl), { requestInit: requestInit(), fetch: recordingFetch(exchanges) }));
  try {
    expect(client.getServerVersion()).toMatchObject({ name: 'web-search-mcp' });
    await listAndCall(client, 'v1 legacy');
  } finally {
    await client.close();
  }
  expectLegacyTraffic(exchanges);
  expect(exchanges.find((exchange) => exchange.method === 'tools/list')!.headers['mcp-protocol-version']).toBe('2025-11-25');
  expectJsonAnswers(exchanges);
});

test.each([
  ['legacy', 'legacy' as const, '2025-11-25'],
  ['auto', 'auto' as const, '2026-07-28'],
  ['pinned to 2026-07-28', { pin: '2026-07-28' }, '2026-07-28'],
])('v2 SDK 2.4.0 in %s mode: the expected era, tools listed and called, all JSON', async (_label, mode, expectedVersion) => {
  const exchanges: Exchange[] = [];
  const client = new V2Client({ name: 'v2-agent', version: '1.0.0' }, { versionNegotiation: { mode } });
  await client.connect(new V2Transport(new URL(running.stack.mcpUrl), { requestInit: requestInit(), fetch: recordingFetch(exchanges) }));
  try {
    expect(client.getNegotiatedProtocolVersion()).toBe(expectedVersion);
    await listAndCall(client, `v2 ${_label}`);
  } finally {
    await client.close();
  }
  const methods = exchanges.map((exchange) => exchange.method);
  if (expectedVersion === '2026-07-28') {
    // One probe, then work: no initialize, no fallback round trip.
    expect(methods).toEqual(['server/discover', 'tools/list', 'tools/call']);
    const call = exchanges[2]!;
    expect(call.headers).toEqual({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'web_search' });
  } else {
    expectLegacyTraffic(exchanges);
    expect(exchanges.find((exchange) => exchange.method === 'tools/list')!.headers).toMatchObject({ 'mcp-protocol-version': '2025-11-25', 'mcp-method': null });
  }
  expectJsonAnswers(exchanges);
});

test('each era is logged as such by the function, one line per message', async () => {
  const lines = running.logs
    .map((line) => {
      try {
        return JSON.parse(line) as { message?: string; method?: string; era?: string };
      } catch {
        return {};
      }
    })
    .filter((line) => line.message === 'JSON-RPC');
  expect(lines.some((line) => line.method === 'server/discover' && line.era === 'modern')).toBe(true);
  expect(lines.some((line) => line.method === 'initialize' && line.era === 'legacy')).toBe(true);
});
