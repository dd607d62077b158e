/**
 * Quotas and the result cache on a real DynamoDB API (dynalite on loopback),
 * driven through the real AWS SDK: counters that never overshoot under
 * concurrency, windows that roll over, overrides, the store going down (per
 * QUOTA_ON_STORE_ERROR), cache hits, misses and expiry, and oversize results.
 * The guard prices and caches by web_search's module; the tool it runs is a
 * stand-in that calls a Tavily client and counts how often it did.
 */
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createUsageGuard, STORE_DENIED_MESSAGE, type ToolCallResult, type UsageEvent, type UsageGuardOptions } from '../../lambda/mcp/quota/usage-guard.js';
import { createDynamoUsageStore, type UsageStore } from '../../lambda/mcp/quota/usage-store.js';
import type { TavilyClient } from '../../lambda/mcp/tavily.js';
import { TavilyError } from '../../lambda/mcp/tavily.js';
import webSearch from '../../lambda/mcp/tools/web-search.js';
import { startLocalUsageStore, type LocalUsageStore } from '../../local/usage-store-server.js';

let local: LocalUsageStore;
let tableCounter = 0;

beforeAll(async () => {
  local = await startLocalUsageStore({ tableName: 'quota-test-0' });
});
afterAll(async () => {
  await local.close();
});

/** A fresh table per test, on the one dynalite. */
async function freshStore(): Promise<{ store: UsageStore; tableName: string }> {
  tableCounter += 1;
  const tableName = `quota-test-${tableCounter}`;
  const { DynamoDBClient: Client, CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
  const { createTableInput } = await import('../../lambda/mcp/quota/usage-table.js');
  const client = new Client({ endpoint: local.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  client.destroy();
  return { store: createDynamoUsageStore({ tableName, endpoint: local.endpoint }), tableName };
}

async function scan(tableName: string): Promise<Array<Record<string, string>>> {
  const client = new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
  client.destroy();
  return Items.map((item) => Object.fromEntries(Object.entries(item).map(([key, value]) => [key, value.S ?? value.N ?? '(binary)'])));
}

const NOON = Date.parse('2026-12-02T12:00:10Z');
const OFF = { callsPerMinute: 0, creditsPerDay: 0, creditsPerDayTotal: 0, overrides: [], onStoreError: 'allow' as const };
const NO_CACHE = { ttlSeconds: 0, newsTtlSeconds: 0, scope: 'shared' as const };

/** A Tavily client that answers a search with `answer`, and a tool that calls it once. */
function fakeTool(answer: (body: Record<string, unknown>) => unknown = () => ({ results: [{ url: 'https://example.com' }] })) {
  const bodies: Array<Record<string, unknown>> = [];
  const tavily: TavilyClient = {
    async call(_endpoint, body) {
      bodies.push({ ...body });
      const value = answer({ ...body });
      if (value instanceof Error) throw value;
      return value;
    },
  };
  const run = async (client: TavilyClient): Promise<ToolCallResult> => {
    try {
      const data = (await client.call('search', { query: 'q' }, { deadline: Date.now() + 10_000 })) as Record<string, unknown>;
      return { content: [{ type: 'text', text: `results: ${JSON.stringify(data.results).slice(0, 50)}` }], structuredContent: { query: 'q', results: data.results } };
    } catch (error) {
      return { content: [{ type: 'text', text: (error as Error).message }], isError: true };
    }
  };
  return { tavily, run, bodies };
}

function guardWith(store: UsageStore, options: Partial<UsageGuardOptions>, clock: { now: number }) {
  const events: UsageEvent[] = [];
  const guard = createUsageGuard({
    store,
    limits: OFF,
    cache: NO_CACHE,
    now: () => clock.now,
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { guard, events };
}

const user = { sub: 'usr_1', clientId: 'client-a' };
const machine = { sub: 'm2m-client', clientId: 'm2m-client' };
const search = (caller = user, args: Record<string, unknown> = { query: 'q', search_depth: 'basic', topic: 'general' }) => ({
  tool: webSearch,
  args: webSearch.input.parse(args),
  caller,
  // The guard's clock is the test's; its deadline is far enough away in that clock.
  deadline: Date.parse('2027-01-01T00:00:00Z'),
});
const textOf = (result: ToolCallResult) => result.content.map((block) => block.text).join('\n');

describe('the store', () => {
  test('many parallel conditional ADDs stop exactly at the limit', async () => {
    const { store } = await freshStore();
    const signal = AbortSignal.timeout(10_000);
    const counter = { key: 'calls#t#client#c', attribute: 'n' as const, amount: 1, max: 10, expiresAt: 2_000_000_000 };
    const results = await Promise.all(Array.from({ length: 40 }, () => store.add(counter, { signal })));
    expect(results.filter((result) => result.counted)).toHaveLength(10);
    expect(Math.max(...results.map((result) => (result.counted ? result.value : 0)))).toBe(10);
    const refused = results.find((result) => !result.counted);
    expect(refused).toEqual({ counted: false, value: 10 });
  });

  test('an amount that does not fit is refused even when the counter is below the limit', async () => {
    const { store } = await freshStore();
    const signal = AbortSignal.timeout(10_000);
    const counter = { key: 'credits#d#client#c', attribute: 'credits' as const, amount: 3, max: 10, expiresAt: 2_000_000_000 };
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await store.add(counter, { signal }));
    expect(results.map((result) => result.counted)).toEqual([true, true, true, false]);
    expect(results[3]).toEqual({ counted: false, value: 9 });
  });
});

describe('calls per minute', () => {
  test('with 3 a minute, the fourth call from one caller is refused by name and Tavily is not called', async () => {
    const { store } = await freshStore();
    const clock = { now: NOON };
    const { guard, events } = guardWith(store, { limits: { ...OFF, callsPerMinute: 3 } }, clock);
    const tool = fakeTool();
    for (let i = 0; i < 3; i++) expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    const fourth = await guard({ ...search(), tavily: tool.tavily }, tool.run);
    expect(fourth.isError).toBe(true);
    expect(textOf(fourth)).toBe(
      'Tool call rate limit for this client reached (3/3 calls per minute); resets at 12:01:00 UTC. No search was made: wait until then, or make fewer calls.',
    );
    expect(tool.bodies).toHaveLength(3);
    expect(events.filter((event) => event.kind === 'refused')).toEqual([
      { kind: 'refused', limit: 'calls_per_minute', subject: 'client', tool: 'web_search', sub: 'usr_1', clientId: 'client-a', max: 3 },
    ]);
  });

  test('many parallel calls never overshoot', async () => {
    const { store } = await freshStore();
    const { guard } = guardWith(store, { limits: { ...OFF, callsPerMinute: 5 } }, { now: NOON });
    const tool = fakeTool();
    const results = await Promise.all(Array.from({ length: 16 }, () => guard({ ...search(), tavily: tool.tavily }, tool.run)));
    expect(results.filter((result) => !result.isError)).toHaveLength(5);
    expect(tool.bodies).toHaveLength(5);
  });

  test('the window rolls over at the next minute', async () => {
    const { store } = await freshStore();
    const clock = { now: NOON };
    const { guard } = guardWith(store, { limits: { ...OFF, callsPerMinute: 1 } }, clock);
    const tool = fakeTool();
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBe(true);
    clock.now = NOON + 50_000; // 12:01:00: a new window
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
  });

  test('one user on two clients, and a user and a machine on one client id, are counted apart; a machine token once', async () => {
    const { store, tableName } = await freshStore();
    const { guard } = guardWith(store, { limits: { ...OFF, callsPerMinute: 2 } }, { now: NOON });
    const tool = fakeTool();
    const call = (caller: { sub: string; clientId: string }) => guard({ ...search(caller), tavily: tool.tavily }, tool.run);
    expect((await call({ sub: 'usr_1', clientId: 'a' })).isError).toBeUndefined();
    expect((await call({ sub: 'usr_1', clientId: 'b' })).isError).toBeUndefined();
    // usr_1's two calls used up the user's minute, whichever client they came through.
    expect(textOf(await call({ sub: 'usr_1', clientId: 'c' }))).toContain('for this user reached (2/2 calls per minute)');
    // The refusal gave client c its slot back: another user on it still gets through.
    expect((await call({ sub: 'usr_2', clientId: 'c' })).isError).toBeUndefined();
    expect((await call(machine)).isError).toBeUndefined();
    expect((await call(machine)).isError).toBeUndefined();
    expect(textOf(await call(machine))).toContain('for this client reached');
    const keys = (await scan(tableName)).map((item) => item.pk!);
    expect(keys.filter((key) => key.includes('m2m-client')).sort()).toEqual([
      'calls#2026-12-02T12:00#client#m2m-client',
      'credits#2026-12-02#client#m2m-client',
    ]);
  });
});

describe('daily credits', () => {
  test('the estimate is checked before the call; advanced search costs 2; the total cap protects the plan', async () => {
    const { store } = await freshStore();
    const { guard } = guardWith(store, { limits: { ...OFF, creditsPerDay: 3, creditsPerDayTotal: 4 } }, { now: NOON });
    const tool = fakeTool();
    const advanced = { query: 'q', search_depth: 'advanced', topic: 'general' };
    expect((await guard({ ...search(user, advanced), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    const second = await guard({ ...search(user, advanced), tavily: tool.tavily }, tool.run);
    expect(textOf(second)).toBe('Daily Tavily credit budget for this client reached (2/3; this call needs up to 2); resets at 00:00 UTC. No search was made.');
    // Another caller: their own budget is fine, but the server's total (4) would be passed by 2 + 2 + 1.
    expect((await guard({ ...search({ sub: 'usr_2', clientId: 'b' }, advanced), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    const third = await guard({ ...search({ sub: 'usr_3', clientId: 'c' }), tavily: tool.tavily }, tool.run);
    expect(textOf(third)).toBe('Daily Tavily credit budget for this server reached (4/4); resets at 00:00 UTC. No search was made.');
    expect(tool.bodies).toHaveLength(2);
    // Metered calls ask Tavily to say what it charged.
    expect(tool.bodies[0]).toMatchObject({ include_usage: true });
  });

  test("Tavily's usage figure is what gets recorded; a failed call is refunded", async () => {
    const { store, tableName } = await freshStore();
    const { guard, events } = guardWith(store, { limits: { ...OFF, creditsPerDay: 100 } }, { now: NOON });
    let answer: unknown = { results: [], usage: { credits: 5 } };
    const tool = fakeTool(() => answer);
    await guard({ ...search(), tavily: tool.tavily }, tool.run);
    answer = new TavilyError('plan_limit', 'plan', { status: 432 });
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBe(true);
    const items = await scan(tableName);
    const client = items.find((item) => item.pk === 'credits#2026-12-02#client#client-a')!;
    // Both calls were made (and count as calls today); only the answered one cost credits.
    expect(client).toMatchObject({ credits: '5', calls: '2', day: '2026-12-02', kind: 'client', caller: 'client-a' });
    expect(items.find((item) => item.pk === 'credits#2026-12-02#total#*')).toMatchObject({ credits: '5' });
    expect(events.filter((event) => event.kind === 'call').map((event) => (event as { credits: number }).credits)).toEqual([5, 0]);
  });

  test('days roll over at 00:00 UTC', async () => {
    const { store } = await freshStore();
    const clock = { now: Date.parse('2026-12-02T23:59:59Z') };
    const { guard } = guardWith(store, { limits: { ...OFF, creditsPerDay: 1 } }, clock);
    const tool = fakeTool();
    await guard({ ...search(), tavily: tool.tavily }, tool.run);
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBe(true);
    clock.now = Date.parse('2026-12-03T00:00:01Z');
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
  });

  test('overrides raise (or lift) one client_id or sub above the defaults', async () => {
    const { store } = await freshStore();
    const limits = {
      ...OFF,
      callsPerMinute: 1,
      creditsPerDay: 1,
      overrides: [
        { kind: 'client' as const, id: 'batch', callsPerMinute: 4, creditsPerDay: 0 },
        { kind: 'sub' as const, id: 'usr_vip', creditsPerDay: 3 },
      ],
    };
    const { guard } = guardWith(store, { limits }, { now: NOON });
    const tool = fakeTool();
    const batch = { sub: 'batch', clientId: 'batch' };
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push((await guard({ ...search(batch), tavily: tool.tavily }, tool.run)).isError ?? false);
    expect(outcomes).toEqual([false, false, false, false, true]);
    // usr_vip's own budget is 3 a day, but the client they use keeps the default of 1.
    const vip = { sub: 'usr_vip', clientId: 'shared-client' };
    expect((await guard({ ...search(vip), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    expect(textOf(await guard({ ...search({ sub: 'usr_vip', clientId: 'batch' }), tavily: tool.tavily }, tool.run))).not.toContain('budget');
  });
});

describe('when the store is down', () => {
  test('allow: calls go ahead, uncounted, with a store error event; deny: refused without calling Tavily', async () => {
    const down = await startLocalUsageStore({ tableName: 'down' });
    const store = createDynamoUsageStore({ tableName: 'down', endpoint: down.endpoint });
    await down.pause();
    try {
      const tool = fakeTool();
      const allow = guardWith(store, { limits: { ...OFF, callsPerMinute: 1, creditsPerDay: 1 } }, { now: NOON });
      for (let i = 0; i < 3; i++) expect((await allow.guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
      expect(tool.bodies).toHaveLength(3);
      expect(allow.events.some((event) => event.kind === 'store_error' && event.decision === 'allowed')).toBe(true);

      const deny = guardWith(store, { limits: { ...OFF, callsPerMinute: 1, onStoreError: 'deny' } }, { now: NOON });
      const refused = await deny.guard({ ...search(), tavily: tool.tavily }, tool.run);
      expect(refused).toEqual({ content: [{ type: 'text', text: STORE_DENIED_MESSAGE }], isError: true });
      expect(tool.bodies).toHaveLength(3);
      expect(deny.events).toContainEqual(expect.objectContaining({ kind: 'store_error', decision: 'denied' }));

      // The cache, on a store that is down, is simply skipped.
      const cacheOnly = guardWith(store, { cache: { ttlSeconds: 600, newsTtlSeconds: 60, scope: 'shared' } }, { now: NOON });
      expect((await cacheOnly.guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
      expect(cacheOnly.events).toContainEqual(expect.objectContaining({ kind: 'store_error', operation: 'get', decision: 'cache_skipped' }));
    } finally {
      await down.resume();
      await down.close();
    }
  });

  test('a store that does not answer is given up on within its timeout', async () => {
    // A listening socket that never answers: the SDK's request hangs until the guard's timeout aborts it.
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    try {
      const store = createDynamoUsageStore({ tableName: 't', endpoint: `http://127.0.0.1:${port}` });
      const tool = fakeTool();
      const { guard, events } = guardWith(store, { limits: { ...OFF, callsPerMinute: 1, onStoreError: 'deny' }, storeTimeoutMs: 200 }, { now: NOON });
      const result = await guard({ ...search(), tavily: tool.tavily }, tool.run);
      expect(textOf(result)).toBe(STORE_DENIED_MESSAGE);
      expect(events).toContainEqual(expect.objectContaining({ kind: 'store_error', reason: 'timed out' }));
    } finally {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('the result cache', () => {
  const CACHE = { ttlSeconds: 600, newsTtlSeconds: 60, scope: 'shared' as const };

  test('two identical searches make one Tavily request; the hit says so and costs nothing', async () => {
    const { store } = await freshStore();
    const clock = { now: NOON };
    const { guard, events } = guardWith(store, { cache: CACHE, limits: { ...OFF, creditsPerDay: 10 } }, clock);
    const tool = fakeTool();
    const first = await guard({ ...search(user, { query: 'q', include_domains: ['b.com', 'a.com'], topic: 'general' }), tavily: tool.tavily }, tool.run);
    clock.now += 42_000;
    const second = await guard({ ...search({ sub: 'usr_2', clientId: 'other' }, { topic: 'general', include_domains: ['A.com', 'b.com'], query: 'q' }), tavily: tool.tavily }, tool.run);
    expect(tool.bodies).toHaveLength(1);
    expect(second.structuredContent).toEqual({ ...first.structuredContent, cache: { hit: true, age_seconds: 42, stored_at: new Date(NOON).toISOString() } });
    expect(second.content[0]!.text).toBe(first.content[0]!.text);
    expect(second.content[1]!.text).toBe("(From this server's cache: the same call was answered 42 s ago; no Tavily credits used.)");
    expect(events.filter((event) => event.kind === 'call').map((event) => [(event as { cache: string }).cache, (event as { credits: number }).credits])).toEqual([
      ['miss', 1],
      ['hit', 0],
    ]);
  });

  test('a hit counts against calls per minute but not against the credit budget', async () => {
    const { store } = await freshStore();
    const { guard } = guardWith(store, { cache: CACHE, limits: { ...OFF, callsPerMinute: 2, creditsPerDay: 1 } }, { now: NOON });
    const tool = fakeTool();
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    const hit = await guard({ ...search(), tavily: tool.tavily }, tool.run);
    expect(hit.structuredContent?.cache).toMatchObject({ hit: true });
    expect(textOf(await guard({ ...search(), tavily: tool.tavily }, tool.run))).toContain('rate limit');
    expect(tool.bodies).toHaveLength(1);
  });

  test('entries expire; news expires sooner; errors are never cached; caller scope keeps callers apart', async () => {
    const { store } = await freshStore();
    const clock = { now: NOON };
    const tool = fakeTool();
    const shared = guardWith(store, { cache: CACHE }, clock).guard;
    await shared({ ...search(), tavily: tool.tavily }, tool.run);
    clock.now = NOON + 599_000;
    await shared({ ...search(), tavily: tool.tavily }, tool.run);
    expect(tool.bodies).toHaveLength(1);
    clock.now = NOON + 601_000;
    await shared({ ...search(), tavily: tool.tavily }, tool.run);
    expect(tool.bodies).toHaveLength(2);

    const news = { query: 'q', topic: 'news' };
    await shared({ ...search(user, news), tavily: tool.tavily }, tool.run);
    clock.now += 61_000;
    await shared({ ...search(user, news), tavily: tool.tavily }, tool.run);
    expect(tool.bodies).toHaveLength(4);

    const failing = fakeTool(() => new TavilyError('unavailable', 'down', { status: 503 }));
    await shared({ ...search(user, { query: 'fails' }), tavily: failing.tavily }, failing.run);
    await shared({ ...search(user, { query: 'fails' }), tavily: failing.tavily }, failing.run);
    expect(failing.bodies).toHaveLength(2);

    const perCaller = guardWith(store, { cache: { ...CACHE, scope: 'caller' } }, clock).guard;
    const mine = fakeTool();
    await perCaller({ ...search(user, { query: 'mine' }), tavily: mine.tavily }, mine.run);
    await perCaller({ ...search({ sub: 'usr_2', clientId: 'client-a' }, { query: 'mine' }), tavily: mine.tavily }, mine.run);
    await perCaller({ ...search(user, { query: 'mine' }), tavily: mine.tavily }, mine.run);
    expect(mine.bodies).toHaveLength(2);
  });

  test('a result too large for an item is not cached', async () => {
    const { store } = await freshStore();
    const { guard, events } = guardWith(store, { cache: CACHE }, { now: NOON });
    // Random text does not compress: about 600 KB of it stays far above the 400 KB item limit.
    const noise = Array.from({ length: 600_000 }, () => String.fromCharCode(33 + Math.floor(Math.random() * 90))).join('');
    const tool = fakeTool(() => ({ results: [{ url: 'https://example.com', raw_content: noise }] }));
    const run = async (client: TavilyClient): Promise<ToolCallResult> => {
      const data = (await client.call('search', {}, { deadline: Date.now() + 10_000 })) as { results: unknown[] };
      return { content: [{ type: 'text', text: 'big' }], structuredContent: { results: data.results } };
    };
    await guard({ ...search(), tavily: tool.tavily }, run);
    await guard({ ...search(), tavily: tool.tavily }, run);
    expect(tool.bodies).toHaveLength(2);
    expect(events.filter((event) => event.kind === 'call').map((event) => (event as { cache: string }).cache)).toEqual(['not_stored', 'not_stored']);
  });
});
