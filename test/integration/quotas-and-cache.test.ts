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
import { createDynamoUsageStore, type UsageCount, type UsageStore } from '../../lambda/mcp/quota/usage-store.js';
import { usageItemKey } from '../../lambda/mcp/quota/usage-table.js';
import type { TavilyClient } from '../../lambda/mcp/tavily.js';
import { TavilyError } from '../../lambda/mcp/tavily.js';
import webSearch from '../../lambda/mcp/tools/web-search.js';
import { LOCAL_USAGE_STORE_TIMEOUT_MS, startLocalUsageStore, type LocalUsageStore } from '../../local/usage-store-server.js';
import { memoryUsageStore } from '../unit/quota/memory-usage-store.js';

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
  // The local stack's timeout: this suite must hold on a loaded machine, where dynalite (in this process) can be slow.
  return { store: createDynamoUsageStore({ tableName, endpoint: local.endpoint, requestTimeoutMs: LOCAL_USAGE_STORE_TIMEOUT_MS }), tableName };
}

async function scan(tableName: string): Promise<Array<Record<string, string>>> {
  const client = new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
  client.destroy();
  return Items.map((item) => Object.fromEntries(Object.entries(item).map(([key, value]) => [key, value.S ?? value.N ?? '(binary)'])));
}

const NOON = Date.parse('2026-12-02T12:00:10Z');
const OFF = { callsPerMinute: 0, creditsPerDay: 0, creditsPerDayTotal: 0, overrides: [], onStoreError: 'allow' as const };
const NO_CACHE = { ttlSeconds: 0, newsTtlSeconds: 0, scope: 'organization' as const };
const DAY = '2026-12-02';
/** The usage item of an identity on the test's day, as the table keys it. */
const itemOf = async (tableName: string, kind: 'client' | 'sub' | 'total', id = '*') => {
  const key = await usageItemKey(DAY, kind, id);
  return (await scan(tableName)).find((item) => item.pk === key);
};

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
/** An override naming client-a (no limit of its own: the defaults apply), so that a user's calls count against it too. */
const CLIENT_A_NAMED = [{ kind: 'client' as const, id: 'client-a' }];
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
  const count = (changes: Partial<UsageCount> = {}): UsageCount => ({
    key: 'usage#t#client#c',
    expiresAt: 2_000_000_000,
    labels: { day: 't', kind: 'client', caller: 'c' },
    credits: 0,
    calls: 1,
    ...changes,
  });
  const signal = () => AbortSignal.timeout(LOCAL_USAGE_STORE_TIMEOUT_MS);

  test('many parallel conditional updates stop exactly at the limit', async () => {
    const { store } = await freshStore();
    const update = count({ minuteCalls: { minute: 'm1', amount: 1, max: 10 } });
    const results = await Promise.all(Array.from({ length: 40 }, () => store.count(update, { signal: signal() })));
    expect(results.filter((result) => result.counted)).toHaveLength(10);
    expect(Math.max(...results.map((result) => (result.counted ? result.counters.minuteCalls : 0)))).toBe(10);
    expect(results.find((result) => !result.counted)).toEqual({
      counted: false,
      over: 'calls_per_minute',
      counters: { credits: 0, calls: 10, minute: 'm1', minuteCalls: 10 },
    });
  });

  test('an amount that does not fit is refused even when the counter is below the limit; one item holds every counter', async () => {
    const { store, tableName } = await freshStore();
    const update = count({ credits: 3, creditsMax: 10, minuteCalls: { minute: 'm1', amount: 1, max: 100 } });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await store.count(update, { signal: signal() }));
    expect(results.map((result) => result.counted)).toEqual([true, true, true, false]);
    expect(results[3]).toEqual({ counted: false, over: 'credits_per_day', counters: { credits: 9, calls: 3, minute: 'm1', minuteCalls: 3 } });
    expect(await scan(tableName)).toEqual([
      { pk: 'usage#t#client#c', credits: '9', calls: '3', minute: 'm1', n: '3', expiresAt: '2000000000', day: 't', kind: 'client', caller: 'c' },
    ]);
  });

  test('a new minute starts its count again in the same item, even from many instances at once; a call is given back only to its own minute', async () => {
    const { store } = await freshStore();
    const first = count({ minuteCalls: { minute: '2026-12-02T12:00', amount: 1, max: 3 } });
    for (let i = 0; i < 3; i++) await store.count(first, { signal: signal() });
    expect(await store.count(first, { signal: signal() })).toMatchObject({ counted: false, over: 'calls_per_minute' });
    const next = count({ minuteCalls: { minute: '2026-12-02T12:01', amount: 1, max: 3 } });
    const results = await Promise.all(Array.from({ length: 8 }, () => store.count(next, { signal: signal() })));
    expect(results.filter((result) => result.counted)).toHaveLength(3);
    // Giving back a call of the minute before changes nothing in this one.
    const late = await store.count(count({ calls: -1, minuteCalls: { minute: '2026-12-02T12:00', amount: -1 } }), { signal: signal() });
    expect(late).toEqual({ counted: true, counters: { credits: 0, calls: 5, minute: '2026-12-02T12:01', minuteCalls: 3 } });
    const back = await store.count(count({ calls: -1, minuteCalls: { minute: '2026-12-02T12:01', amount: -1 } }), { signal: signal() });
    expect(back).toEqual({ counted: true, counters: { credits: 0, calls: 4, minute: '2026-12-02T12:01', minuteCalls: 2 } });
  });

  test('the in-memory store the unit tests use answers a script of counts exactly as DynamoDB does', async () => {
    const { store } = await freshStore();
    const memory = memoryUsageStore();
    const script: UsageCount[] = [
      count({ credits: 2, creditsMax: 5, minuteCalls: { minute: 'm1', amount: 1, max: 2 } }),
      count({ credits: 2, creditsMax: 5, minuteCalls: { minute: 'm1', amount: 1, max: 2 } }),
      count({ credits: 2, creditsMax: 5, minuteCalls: { minute: 'm1', amount: 1, max: 2 } }),
      count({ credits: 2, creditsMax: 5, minuteCalls: { minute: 'm2', amount: 1, max: 2 } }),
      count({ credits: -1, calls: 0 }),
      count({ credits: 2, creditsMax: 5, minuteCalls: { minute: 'm2', amount: 1, max: 2 } }),
      count({ credits: 0, calls: -1, minuteCalls: { minute: 'm1', amount: -1 } }),
      count({ credits: 0, calls: -1, minuteCalls: { minute: 'm2', amount: -1 } }),
      count({ credits: 6, creditsMax: 5, minuteCalls: { minute: 'm2', amount: 1, max: 2 } }),
      count({ credits: 0, calls: 0, minuteCalls: { minute: 'm3', amount: 1, max: 2 } }),
      count({ key: 'usage#t#total', credits: 4, creditsMax: 4 }),
      count({ key: 'usage#t#total', credits: 1, creditsMax: 4 }),
    ];
    for (const update of script) {
      expect(await memory.count(update, { signal: signal() })).toEqual(await store.count(update, { signal: signal() }));
    }
  });
});

describe('calls per minute', () => {
  test('with 3 a minute, the fourth call from one caller is refused by name and Tavily is not called', async () => {
    const { store } = await freshStore();
    const clock = { now: NOON };
    const { guard, events } = guardWith(store, { limits: { ...OFF, callsPerMinute: 3 , overrides: CLIENT_A_NAMED } }, clock);
    const tool = fakeTool();
    for (let i = 0; i < 3; i++) expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    const fourth = await guard({ ...search(), tavily: tool.tavily }, tool.run);
    expect(fourth.isError).toBe(true);
    expect(textOf(fourth)).toBe(
      'Tool call rate limit for this client reached (3/3 calls per minute); resets at 12:01:00 UTC. No search was made: wait until then, or make fewer calls.',
    );
    expect(tool.bodies).toHaveLength(3);
    expect(events.filter((event) => event.kind === 'refused')).toEqual([
      { kind: 'refused', limit: 'calls_per_minute', subject: 'client', tool: 'web_search', sub: 'usr_1', clientId: 'client-a', max: 3, needed: 1 },
    ]);
  });

  test('many parallel calls never overshoot', async () => {
    const { store } = await freshStore();
    const { guard, events } = guardWith(store, { limits: { ...OFF, callsPerMinute: 5 , overrides: CLIENT_A_NAMED } }, { now: NOON });
    const tool = fakeTool();
    const call = (caller = user) => guard({ ...search(caller), tavily: tool.tavily }, tool.run);
    // One counted identity (a machine token): exactly the limit gets through.
    const machineResults = await Promise.all(Array.from({ length: 16 }, () => call(machine)));
    expect(machineResults.filter((result) => !result.isError)).toHaveLength(5);
    expect(tool.bodies).toHaveLength(5);
    // A user on a client is two counters: a call counted on one and refused by the other gives its slot back, so for
    // that moment another call may be refused that would have fitted; never the reverse. After the burst, the
    // slots given back are there again: the minute holds exactly 5 calls.
    const burst = await Promise.all(Array.from({ length: 16 }, () => call()));
    const passed = burst.filter((result) => !result.isError).length;
    expect(passed).toBeGreaterThanOrEqual(1);
    expect(passed).toBeLessThanOrEqual(5);
    for (let more = passed; more < 5; more++) expect((await call()).isError).toBeUndefined();
    expect((await call()).isError).toBe(true);
    expect(tool.bodies).toHaveLength(10);
    expect(events.some((event) => event.kind === 'store_error')).toBe(false);
  });

  test('the window rolls over at the next minute', async () => {
    const { store } = await freshStore();
    const clock = { now: NOON };
    const { guard } = guardWith(store, { limits: { ...OFF, callsPerMinute: 1 , overrides: CLIENT_A_NAMED } }, clock);
    const tool = fakeTool();
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBe(true);
    clock.now = NOON + 50_000; // 12:01:00: a new window
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
  });

  test('one user on two clients, and a user and a machine on one client id, are counted apart; a machine token once', async () => {
    const { store, tableName } = await freshStore();
    const { guard } = guardWith(store, { limits: { ...OFF, callsPerMinute: 2 , overrides: CLIENT_A_NAMED } }, { now: NOON });
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
    // The machine has one item, its client's: every counter of the day in it, hashed in its key.
    const machineItems = (await scan(tableName)).filter((item) => item.caller === 'm2m-client');
    expect(machineItems).toEqual([expect.objectContaining({ pk: await usageItemKey(DAY, 'client', 'm2m-client'), kind: 'client', n: '2', calls: '2' })]);
  });

  test('identities of any length, and any characters, are counted in items of their own', async () => {
    const { store, tableName } = await freshStore();
    const { guard, events } = guardWith(store, { limits: { ...OFF, callsPerMinute: 2 , overrides: CLIENT_A_NAMED } }, { now: NOON });
    const tool = fakeTool();
    // A client ID metadata document's URL is chosen by the client: far past DynamoDB's 2 KB key limit here.
    // A client acting for itself (sub = client_id), so that its client_id is what counts.
    const url = `https://client.example/${'x'.repeat(5_000)}`;
    const long = { sub: url, clientId: url };
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await guard({ ...search(long), tavily: tool.tavily }, tool.run));
    expect(results.map((result) => result.isError ?? false)).toEqual([false, false, true, true]);
    expect(events.some((event) => event.kind === 'store_error')).toBe(false);
    const item = await itemOf(tableName, 'client', long.clientId);
    expect(item).toMatchObject({ n: '2', kind: 'client' });
    expect(item!.pk!.length).toBeLessThan(100);
    expect(item!.caller!.length).toBeLessThanOrEqual(200);
  });
});

describe('daily credits', () => {
  test('the estimate is checked before the call; advanced search costs 2; the total cap protects the plan', async () => {
    const { store } = await freshStore();
    const { guard } = guardWith(store, { limits: { ...OFF, creditsPerDay: 3, creditsPerDayTotal: 4 , overrides: CLIENT_A_NAMED } }, { now: NOON });
    const tool = fakeTool();
    const advanced = { query: 'q', search_depth: 'advanced', topic: 'general' };
    expect((await guard({ ...search(user, advanced), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    const second = await guard({ ...search(user, advanced), tavily: tool.tavily }, tool.run);
    expect(textOf(second)).toBe('Daily Tavily credit budget for this client reached (2/3 used; this call needs up to 2); resets at 00:00 UTC. No search was made.');
    // Another caller: their own budget is fine, but the server's total (4) would be passed by 2 + 2 + 1.
    expect((await guard({ ...search({ sub: 'usr_2', clientId: 'b' }, advanced), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
    const third = await guard({ ...search({ sub: 'usr_3', clientId: 'c' }), tavily: tool.tavily }, tool.run);
    expect(textOf(third)).toBe('Daily Tavily credit budget for this server reached (4/4 used; this call needs up to 1); resets at 00:00 UTC. No search was made.');
    expect(tool.bodies).toHaveLength(2);
    // Metered calls ask Tavily to say what it charged.
    expect(tool.bodies[0]).toMatchObject({ include_usage: true });
  });

  test("what is recorded is Tavily's figure within the documented prices; a failed call is refunded", async () => {
    const { store, tableName } = await freshStore();
    const { guard, events } = guardWith(store, { limits: { ...OFF, creditsPerDay: 100, creditsPerDayTotal: 1_000 , overrides: CLIENT_A_NAMED } }, { now: NOON });
    let answer: unknown = { results: [], usage: { credits: 2 } };
    const tool = fakeTool(() => answer);
    const advanced = { query: 'q', search_depth: 'advanced', topic: 'general' };
    await guard({ ...search(user, advanced), tavily: tool.tavily }, tool.run);
    answer = new TavilyError('plan_limit', 'plan', { status: 432 });
    expect((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBe(true);
    // Both calls were made (and count as calls today); only the answered one cost credits.
    expect(await itemOf(tableName, 'client', 'client-a')).toMatchObject({ credits: '2', calls: '2', day: DAY, kind: 'client', caller: 'client-a' });
    expect(await itemOf(tableName, 'total')).toMatchObject({ credits: '2', caller: '*' });
    expect(events.filter((event) => event.kind === 'call').map((event) => (event as { credits: number }).credits)).toEqual([2, 0]);
  });

  test('a reported usage of 0 for a real search is not trusted: the documented price is charged', async () => {
    const { store, tableName } = await freshStore();
    const { guard, events } = guardWith(store, { limits: { ...OFF, creditsPerDay: 3 , overrides: CLIENT_A_NAMED } }, { now: NOON });
    const tool = fakeTool(() => ({ results: [{ url: 'https://example.com' }], usage: { credits: 0 } }));
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push((await guard({ ...search(), tavily: tool.tavily }, tool.run)).isError ?? false);
    expect(outcomes).toEqual([false, false, false, true, true]);
    expect(tool.bodies).toHaveLength(3);
    expect(await itemOf(tableName, 'client', 'client-a')).toMatchObject({ credits: '3', calls: '3' });
    expect(events.find((event) => event.kind === 'call')).toMatchObject({ credits: 1, reservedCredits: 1, reportedCredits: 0 });
  });

  test('parallel calls cannot take a budget past its limit, however much Tavily says each cost', async () => {
    const { store, tableName } = await freshStore();
    const { guard, events } = guardWith(store, { limits: { ...OFF, creditsPerDay: 5, creditsPerDayTotal: 1_000 , overrides: CLIENT_A_NAMED } }, { now: NOON });
    const tool = fakeTool(() => ({ results: [{ url: 'https://example.com' }], usage: { credits: 3 } }));
    const advanced = { query: 'q', search_depth: 'advanced', topic: 'general' };
    const results = await Promise.all(Array.from({ length: 10 }, () => guard({ ...search(machine, advanced), tavily: tool.tavily }, tool.run)));
    // Each reserved the most an advanced search costs (2) before Tavily was asked: two fit in 5.
    expect(results.filter((result) => !result.isError)).toHaveLength(2);
    expect(tool.bodies).toHaveLength(2);
    expect(await itemOf(tableName, 'client', machine.clientId)).toMatchObject({ credits: '4', calls: '2' });
    expect(await itemOf(tableName, 'total')).toMatchObject({ credits: '4' });
    const refusal = results.find((result) => result.isError)!;
    expect(textOf(refusal)).toBe('Daily Tavily credit budget for this client reached (4/5 used; this call needs up to 2); resets at 00:00 UTC. No search was made.');
    expect(events.filter((event) => event.kind === 'call')).toEqual([
      expect.objectContaining({ credits: 2, reservedCredits: 2, reportedCredits: 3 }),
      expect.objectContaining({ credits: 2, reservedCredits: 2, reportedCredits: 3 }),
    ]);
  });

  test('days roll over at 00:00 UTC', async () => {
    const { store } = await freshStore();
    const clock = { now: Date.parse('2026-12-02T23:59:59Z') };
    const { guard } = guardWith(store, { limits: { ...OFF, creditsPerDay: 1 , overrides: CLIENT_A_NAMED } }, clock);
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
    const store = createDynamoUsageStore({ tableName: 'down', endpoint: down.endpoint, requestTimeoutMs: LOCAL_USAGE_STORE_TIMEOUT_MS });
    await down.pause();
    try {
      const tool = fakeTool();
      const allow = guardWith(store, { limits: { ...OFF, callsPerMinute: 1, creditsPerDay: 1 , overrides: CLIENT_A_NAMED } }, { now: NOON });
      for (let i = 0; i < 3; i++) expect((await allow.guard({ ...search(), tavily: tool.tavily }, tool.run)).isError).toBeUndefined();
      expect(tool.bodies).toHaveLength(3);
      expect(allow.events.some((event) => event.kind === 'store_error' && event.decision === 'allowed')).toBe(true);

      const deny = guardWith(store, { limits: { ...OFF, callsPerMinute: 1, onStoreError: 'deny' , overrides: CLIENT_A_NAMED } }, { now: NOON });
      const refused = await deny.guard({ ...search(), tavily: tool.tavily }, tool.run);
      expect(refused).toEqual({ content: [{ type: 'text', text: STORE_DENIED_MESSAGE }], isError: true });
      expect(tool.bodies).toHaveLength(3);
      expect(deny.events).toContainEqual(expect.objectContaining({ kind: 'store_error', decision: 'denied' }));

      // The cache, on a store that is down, is simply skipped.
      const cacheOnly = guardWith(store, { cache: { ttlSeconds: 600, newsTtlSeconds: 60, scope: 'organization' } }, { now: NOON });
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
      const store = createDynamoUsageStore({ tableName: 't', endpoint: `http://127.0.0.1:${port}`, requestTimeoutMs: 200 });
      const tool = fakeTool();
      const { guard, events } = guardWith(store, { limits: { ...OFF, callsPerMinute: 1, onStoreError: 'deny' , overrides: CLIENT_A_NAMED } }, { now: NOON });
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
    const { guard, events } = guardWith(store, { cache: CACHE, limits: { ...OFF, creditsPerDay: 10 , overrides: CLIENT_A_NAMED } }, clock);
    const tool = fakeTool();
    const first = await guard({ ...search(user, { query: 'q', include_domains: ['b.com', 'a.com'], topic: 'general' }), tavily: tool.tavily }, tool.run);
    clock.now += 42_000;
    const second = await guard({ ...search({ sub: 'usr_2', clientId: 'other' }, { topic: 'general', include_domains: ['A.com', 'b.com'], query: 'q' }), tavily: tool.tavily }, tool.run);
    expect(tool.bodies).toHaveLength(1);
    // Shared: the hit says it is one, and not when someone else asked.
    expect(second.structuredContent).toEqual({ ...first.structuredContent, cache: { hit: true } });
    expect(second.content[0]!.text).toBe(first.content[0]!.text);
    expect(second.content[1]!.text).toBe("(From this server's cache; no Tavily credits used.)");
    expect(events.filter((event) => event.kind === 'call').map((event) => [(event as { cache: string }).cache, (event as { credits: number }).credits])).toEqual([
      ['miss', 1],
      ['hit', 0],
    ]);
  });

  test('organization scope: one organisation shares, another does not, a token without oid has its own; only its own entry tells its age', async () => {
    const { store } = await freshStore();
    const clock = { now: NOON };
    const { guard } = guardWith(store, { cache: { ...CACHE, scope: 'organization' } }, clock);
    const tool = fakeTool();
    const ask = (caller: { sub: string; clientId: string; organizationId?: string }) => guard({ ...search(caller, { query: 'org question' }), tavily: tool.tavily }, tool.run);
    await ask({ sub: 'usr_a', clientId: 'client-a', organizationId: 'org_1' });
    clock.now += 5_000;
    const colleague = await ask({ sub: 'usr_b', clientId: 'client-b', organizationId: 'org_1' });
    expect(colleague.structuredContent?.cache).toEqual({ hit: true });
    expect(colleague.content[1]!.text).toBe("(From this server's cache; no Tavily credits used.)");
    expect(tool.bodies).toHaveLength(1);
    expect((await ask({ sub: 'usr_c', clientId: 'client-a', organizationId: 'org_2' })).structuredContent?.cache).toBeUndefined();
    expect(tool.bodies).toHaveLength(2);
    const loner = { sub: 'usr_d', clientId: 'client-a' };
    expect((await ask(loner)).structuredContent?.cache).toBeUndefined();
    clock.now += 7_000;
    const again = await ask(loner);
    expect(again.structuredContent?.cache).toEqual({ hit: true, age_seconds: 7, stored_at: new Date(clock.now - 7_000).toISOString() });
    expect(again.content[1]!.text).toBe("(From this server's cache: you made the same call 7 s ago; no Tavily credits used.)");
    expect(tool.bodies).toHaveLength(3);
  });

  test('a hit counts against calls per minute but not against the credit budget', async () => {
    const { store } = await freshStore();
    const { guard } = guardWith(store, { cache: CACHE, limits: { ...OFF, callsPerMinute: 2, creditsPerDay: 1 , overrides: CLIENT_A_NAMED } }, { now: NOON });
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
