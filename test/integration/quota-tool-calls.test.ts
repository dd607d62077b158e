/**
 * Quotas and the cache through the whole local stack: the MCP SDK client, the
 * local gateway and authorizer, the MCP function's real bundle in its Lambda
 * instances, dynalite started by the local stack with the stack's table, and the
 * fake Tavily counting what reaches it. The attacks here were made over HTTP:
 * a burst at cold instances, identities the store could not key, a token naming
 * nobody, Tavily reporting other charges than its price list, and a cache that
 * told one organisation about another's questions.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { definitions as d, parseSettings } from '../../lambda/shared/settings.js';
import { usageOfDay } from '../../scripts/usage.js';
import { defaultAnswer } from '../fixtures/fake-tavily.js';
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
/** The default CACHE_SCOPE, as a deployment without the setting gets it. */
const DEFAULT_CACHE_SCOPE = parseSettings({ scope: ['CACHE_SCOPE', d.cacheScope] }, {}).scope;

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
const outcomesOf = (results: readonly Result[]) => results.map((result) => (result.isError ? 'refused' : 'ok'));
/** Log lines that would mean a quota was not enforced, or the store was not reached. */
const storeTrouble = (running: TestStack) => running.logs.filter((line) => /Usage store|Quota not enforced/.test(line));
/** Today's usage per caller, read from the stack's table as `npm run usage` reads it. */
async function usageToday(running: TestStack) {
  const { endpoint, tableName } = running.stack.usageStore!;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    return await usageOfDay(client, tableName, new Date().toISOString().slice(0, 10));
  } finally {
    client.destroy();
  }
}

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

  // First, while every instance is cold: loading the store's client is not a store outage.
  test('a burst of 30 parallel calls from one caller at cold instances lets at most 3 through, none of them uncounted', async () => {
    const client = await connect(running, { sub: 'usr_burst', client_id: 'client-burst' });
    await awayFromMinuteEdge();
    const before = running.tavily.requests.length;
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => search(client, `burst ${i}`)));
    const passed = outcomesOf(results).filter((outcome) => outcome === 'ok').length;
    expect(storeTrouble(running)).toEqual([]);
    // Two counters (the user, the client): a call counted by one and refused by the other gives its slot back, so
    // fewer may pass in a burst; never more. The minute then holds exactly 3.
    expect(passed).toBeGreaterThanOrEqual(1);
    expect(passed).toBeLessThanOrEqual(3);
    for (let more = passed; more < 3; more++) expect((await search(client, `more ${more}`)).isError).toBeFalsy();
    expect((await search(client, 'one too many')).isError).toBe(true);
    expect(running.tavily.requests.length).toBe(before + 3);
    await client.close();
  });

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
    const refusal = running.logs.find((line) => line.includes('"Quota refused"') && line.includes('"sub":"usr_quota"'));
    expect(JSON.parse(refusal!)).toMatchObject({ limit: 'calls_per_minute', max: 3, needed: 1, tool: 'web_search', client_id: 'client-quota' });
    await client.close();
  });

  test.each([
    // A client ID metadata document's URL is the client's choice: far past DynamoDB's 2 KB key limit here.
    ['a client_id of 3,000 characters', { sub: 'usr_long', client_id: `https://client.example/${'c'.repeat(3_000)}` }],
    ['a sub of 3,000 characters', { sub: `usr_${'s'.repeat(3_000)}`, client_id: 'client-of-long-sub' }],
    ['a machine token, whose sub is its client_id', { sub: 'skc_machine', client_id: 'skc_machine' }],
    ['a machine token with its client in azp only', { sub: 'skc_azp_machine', client_id: undefined, azp: 'skc_azp_machine' }],
  ])('%s is counted: 3 of 6 calls get through', async (_name, claims) => {
    const client = await connect(running, claims);
    await awayFromMinuteEdge();
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await search(client, `counted ${i}`));
    expect(outcomesOf(results)).toEqual(['ok', 'ok', 'ok', 'refused', 'refused', 'refused']);
    expect(storeTrouble(running)).toEqual([]);
    await client.close();
  });

  test('a token that names neither a user (sub) nor a client (client_id, azp) is refused at the door: 401 with the challenge', async () => {
    const token = await running.issuer.mint({ claims: { sub: undefined, client_id: undefined } });
    const before = running.tavily.requests.length;
    const response = await fetch(running.stack.mcpUrl, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'web_search', arguments: { query: 'nobody' } } }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('resource_metadata=');
    expect(running.tavily.requests.length).toBe(before);
    const decision = running.logs.filter((line) => line.includes('"Authorization decision"')).map((line) => JSON.parse(line) as Record<string, unknown>).at(-1);
    expect(decision).toMatchObject({ outcome: 'unauthorized', reason: 'no_identity' });
  });
});

describe('QUOTA_CREDITS_PER_DAY=5, Tavily reporting other charges than its prices', () => {
  let running: TestStack;
  beforeAll(async () => {
    running = await startTestStack({ stack: { usage: { ...OFF, quotaCreditsPerDay: 5 } } });
  });
  afterAll(() => running?.close());
  const answering = (credits: number) => ({ kind: 'json' as const, body: { ...(defaultAnswer('search', { query: 'q' }) as object), usage: { credits } } });

  test('a reported usage of 0 is not trusted: 5 searches at 1 credit fill the budget, the sixth is refused by name', async () => {
    running.tavily.always('search', answering(0));
    const client = await connect(running, { sub: 'usr_free', client_id: 'client-free' });
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await search(client, `free ${i}`));
    expect(outcomesOf(results)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'refused']);
    expect(results[5]!.content[0]!.text).toMatch(/^Daily Tavily credit budget for this (client|user) reached \(5\/5 used; this call needs up to 1\); resets at 00:00 UTC\./);
    expect((await usageToday(running)).find((row) => row.caller === 'usr_free')).toMatchObject({ credits: 5, calls: 5 });
    await client.close();
  });

  test('10 parallel searches, each reported at 3 credits, against a budget of 5: the budget never goes past 5', async () => {
    running.tavily.always('search', answering(3));
    const client = await connect(running, { sub: 'skc_parallel', client_id: 'skc_parallel' });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => search(client, `parallel ${i}`)));
    expect(outcomesOf(results).filter((outcome) => outcome === 'ok')).toHaveLength(5);
    expect((await usageToday(running)).find((row) => row.caller === 'skc_parallel')).toMatchObject({ credits: 5, calls: 5 });
    const usage = running.logs.filter((line) => line.includes('"message":"Usage"') && line.includes('skc_parallel')).map((line) => JSON.parse(line));
    expect(usage).toHaveLength(5);
    for (const line of usage) expect(line).toMatchObject({ credits: 1, reservedCredits: 1, reportedCredits: 3 });
    expect(storeTrouble(running)).toEqual([]);
    await client.close();
  });
});

describe('the result cache (CACHE_TTL_SECONDS=600, the default scope: per organisation)', () => {
  let running: TestStack;
  beforeAll(async () => {
    running = await startTestStack({ stack: { usage: { ...OFF, cacheTtlSeconds: 600, quotaCreditsPerDay: 100, cacheScope: DEFAULT_CACHE_SCOPE } } });
  });
  afterAll(() => running?.close());
  const ask = (client: Client) =>
    client.callTool({ name: 'web_search', arguments: { query: 'cached once', include_domains: ['b.com', 'a.com'] } }) as Promise<Result>;

  test('within one organisation, two identical searches make one Tavily request; the hit says so, and not when the other asked', async () => {
    const first = await connect(running, { sub: 'usr_a', client_id: 'client-a', oid: 'org_shared' });
    const second = await connect(running, { sub: 'usr_b', client_id: 'client-b', oid: 'org_shared' });
    const before = running.tavily.requests.length;
    const miss = await ask(first);
    const hit = (await second.callTool({ name: 'web_search', arguments: { include_domains: ['a.com', 'B.com'], query: 'cached once', max_results: 5 } })) as Result;
    expect(running.tavily.requests.length).toBe(before + 1);
    expect(miss.structuredContent?.cache).toBeUndefined();
    expect(hit.structuredContent).toEqual({ ...miss.structuredContent, cache: { hit: true } });
    expect(hit.content[0]!.text).toBe(miss.content[0]!.text);
    expect(hit.content[1]!.text).toBe("(From this server's cache; no Tavily credits used.)");
    const usage = running.logs.filter((line) => line.includes('"message":"Usage"')).map((line) => JSON.parse(line));
    expect(usage.slice(-2).map((line) => [line.cache, line.credits, line.client_id])).toEqual([
      ['miss', 1, 'client-a'],
      ['hit', 0, 'client-b'],
    ]);
    await first.close();
    await second.close();
  });

  test('another organisation is never served it, nor told of it; a token without an organisation has entries of its own, and only those tell their age', async () => {
    const before = running.tavily.requests.length;
    const outsider = await connect(running, { sub: 'usr_c', client_id: 'client-a', oid: 'org_other' });
    expect((await ask(outsider)).structuredContent?.cache).toBeUndefined();
    expect(running.tavily.requests.length).toBe(before + 1);
    const loner = await connect(running, { sub: 'usr_d', client_id: 'client-d', oid: undefined });
    expect((await ask(loner)).structuredContent?.cache).toBeUndefined();
    const again = await ask(loner);
    expect(again.structuredContent?.cache).toEqual({ hit: true, age_seconds: expect.any(Number), stored_at: expect.any(String) });
    expect(again.content[1]!.text).toMatch(/^\(From this server's cache: you made the same call \d+ s ago; no Tavily credits used\.\)$/);
    expect(running.tavily.requests.length).toBe(before + 2);
    // An oid that is not one (too long, or not text) is no organisation: its bearer falls back to entries of their own.
    const odd = await connect(running, { sub: 'usr_e', client_id: 'client-e', oid: 'o'.repeat(500) });
    expect((await ask(odd)).structuredContent?.cache).toBeUndefined();
    expect(running.tavily.requests.length).toBe(before + 3);
    for (const client of [outsider, loner, odd]) await client.close();
  });
});
