/**
 * Quotas and the cache through the whole local stack: the MCP SDK client, the
 * local gateway and authorizer, the MCP function's real bundle in its Lambda
 * instance, dynalite started by the local stack with the stack's table, and the
 * fake Tavily counting what reaches it.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';

const OFF = {
  quotaCallsPerMinute: 0,
  quotaCreditsPerDay: 0,
  quotaCreditsPerDayTotal: 0,
  quotaOverrides: [],
  quotaOnStoreError: 'allow' as const,
  cacheTtlSeconds: 0,
  cacheTtlNewsSeconds: 60,
  cacheScope: 'shared' as const,
};

async function connect(running: TestStack, claims: Record<string, unknown> = {}) {
  const token = await running.issuer.mint({ claims });
  const client = new Client({ name: 'quota-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(running.stack.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  return client;
}

type Result = { isError?: boolean; content: Array<{ type: string; text: string }>; structuredContent?: Record<string, unknown> };
const search = async (client: Client, query: string) => (await client.callTool({ name: 'web_search', arguments: { query } })) as Result;

/** Counting per minute in real time: start a sequence well inside a minute, so that it cannot straddle two. */
async function awayFromMinuteEdge() {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - intoMinute));
}

describe('QUOTA_CALLS_PER_MINUTE=3', () => {
  let running: TestStack;
  beforeAll(async () => {
    running = await startTestStack({ stack: { usage: { ...OFF, quotaCallsPerMinute: 3 } } });
  });
  afterAll(() => running?.close());

  test('the fourth call in a minute from one caller gets the named error, and Tavily is not called', async () => {
    const client = await connect(running, { sub: 'usr_quota', client_id: 'client-quota' });
    await awayFromMinuteEdge();
    const before = running.tavily.requests.length;
    for (const query of ['one', 'two', 'three']) expect((await search(client, query)).isError).toBeFalsy();
    const fourth = await search(client, 'four');
    expect(fourth.isError).toBe(true);
    expect(fourth.content[0]!.text).toMatch(/^Tool call rate limit for this (client|user) reached \(3\/3 calls per minute\); resets at \d\d:\d\d:00 UTC\./);
    expect(running.tavily.requests.length).toBe(before + 3);
    expect(running.tavily.requests.every((request) => (request.body as { include_usage?: boolean }).include_usage === true)).toBe(true);
    // Someone else is not held back by it.
    expect((await search(await connect(running, { sub: 'usr_other', client_id: 'client-other' }), 'five')).isError).toBeFalsy();
    const refusal = running.logs.find((line) => line.includes('"Quota refused"'));
    expect(JSON.parse(refusal!)).toMatchObject({ limit: 'calls_per_minute', max: 3, tool: 'web_search' });
    expect(refusal).toContain('usr_quota');
    await client.close();
  });
});

describe('the result cache (CACHE_TTL_SECONDS=600, shared)', () => {
  let running: TestStack;
  beforeAll(async () => {
    running = await startTestStack({ stack: { usage: { ...OFF, cacheTtlSeconds: 600, quotaCreditsPerDay: 100 } } });
  });
  afterAll(() => running?.close());

  test('two identical searches make one Tavily request; the second says it came from the cache', async () => {
    const first = await connect(running, { sub: 'usr_a', client_id: 'client-a' });
    const second = await connect(running, { sub: 'usr_b', client_id: 'client-b' });
    const before = running.tavily.requests.length;
    const miss = (await first.callTool({ name: 'web_search', arguments: { query: 'cached once', include_domains: ['b.com', 'a.com'] } })) as Result;
    const hit = (await second.callTool({ name: 'web_search', arguments: { include_domains: ['a.com', 'B.com'], query: 'cached once', max_results: 5 } })) as Result;
    expect(running.tavily.requests.length).toBe(before + 1);
    expect(miss.structuredContent?.cache).toBeUndefined();
    expect(hit.structuredContent).toEqual({ ...miss.structuredContent, cache: { hit: true, age_seconds: expect.any(Number), stored_at: expect.any(String) } });
    expect(hit.content[0]!.text).toBe(miss.content[0]!.text);
    expect(hit.content[1]!.text).toMatch(/^\(From this server's cache: the same call was answered \d+ s ago; no Tavily credits used\.\)$/);
    const usage = running.logs.filter((line) => line.includes('"message":"Usage"')).map((line) => JSON.parse(line));
    expect(usage.slice(-2).map((line) => [line.cache, line.credits, line.client_id])).toEqual([
      ['miss', 1, 'client-a'],
      ['hit', 0, 'client-b'],
    ]);
    await first.close();
    await second.close();
  });
});
