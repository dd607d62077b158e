/**
 * What the usage guard decides, through the real tools and the loopback fake
 * Tavily, on the in-memory store (whose answers match DynamoDB's:
 * test/integration/quotas-and-cache.test.ts runs one script against both):
 * the store requests and sequential phases each kind of call makes, the worst
 * case reserved before Tavily and settled down after, what a cache hit costs,
 * and what a failing or rejecting store does to a call.
 */
import { createUsageGuard, settleReservation, STORE_DENIED_MESSAGE, STORE_REJECTED_MESSAGE, type ToolCallResult, type UsageEvent, type UsageGuardOptions } from '../../../lambda/mcp/quota/usage-guard.js';
import { UsageStoreError, type UsageStore } from '../../../lambda/mcp/quota/usage-store.js';
import { usageItemKey } from '../../../lambda/mcp/quota/usage-table.js';
import type { AnyTool } from '../../../lambda/mcp/tools/tool.js';
import webCrawl from '../../../lambda/mcp/tools/web-crawl.js';
import webExtract from '../../../lambda/mcp/tools/web-extract.js';
import webSearch from '../../../lambda/mcp/tools/web-search.js';
import { startToolHarness, type ToolHarness } from '../tools/harness.js';
import { memoryUsageStore, type MemoryUsageStore } from './memory-usage-store.js';

let harness: ToolHarness;
beforeAll(async () => {
  harness = await startToolHarness();
});
afterAll(() => harness.fake.close());
beforeEach(() => harness.fake.reset());

const NOW = Date.parse('2026-12-02T12:00:10Z');
const DAY = '2026-12-02';
const OFF = { callsPerMinute: 0, creditsPerDay: 0, creditsPerDayTotal: 0, overrides: [], onStoreError: 'allow' as const };
const NO_CACHE = { ttlSeconds: 0, newsTtlSeconds: 0, scope: 'organization' as const };
const CACHE = { ttlSeconds: 600, newsTtlSeconds: 60, scope: 'organization' as const };
const user = { sub: 'usr_1', clientId: 'client-a', organizationId: 'org_1' };
/** An override naming client-a (no limit of its own: the defaults apply), so that a user's calls count against it too. */
const CLIENT_A_NAMED = [{ kind: 'client' as const, id: 'client-a' }];
const textOf = (result: ToolCallResult) => result.content.map((block) => block.text).join('\n');

/**
 * The store, as the guard uses it: every request counted, and the sequential phases they came in
 * (a phase starts when a request is sent while none is under way). `fail` makes requests fail.
 */
function observedStore(inner: MemoryUsageStore = memoryUsageStore()) {
  let inFlight = 0;
  const seen = { requests: 0, phases: 0 };
  let fail: ((operation: 'count' | 'get' | 'put', key: string) => Error | undefined) | undefined;
  const observe = async <T>(operation: 'count' | 'get' | 'put', key: string, work: () => Promise<T>): Promise<T> => {
    if (inFlight === 0) seen.phases += 1;
    inFlight += 1;
    seen.requests += 1;
    try {
      await Promise.resolve();
      const failure = fail?.(operation, key);
      if (failure) throw failure;
      return await work();
    } finally {
      inFlight -= 1;
    }
  };
  const store: UsageStore = {
    count: (update, call) => observe('count', update.key, () => inner.count(update, call)),
    getCached: (key, call) => observe('get', key, () => inner.getCached(key, call)),
    putCached: (key, item, call) => observe('put', key, () => inner.putCached(key, item, call)),
  };
  return {
    store,
    inner,
    /** What was sent since the last call of `take`. */
    take() {
      const taken = { ...seen };
      seen.requests = 0;
      seen.phases = 0;
      return taken;
    },
    failWith(failing: typeof fail) {
      fail = failing;
    },
  };
}

function guarded(store: UsageStore, options: Partial<UsageGuardOptions>) {
  const events: UsageEvent[] = [];
  const guard = createUsageGuard({ store, limits: OFF, cache: NO_CACHE, now: () => NOW, onEvent: (event) => events.push(event), ...options });
  const call = (tool: AnyTool, raw: Record<string, unknown>, caller: { sub: string; clientId: string; organizationId?: string } = user) => {
    const args = tool.input.parse(raw);
    return guard({ tool, args, caller, deadline: Date.parse('2027-01-01T00:00:00Z'), tavily: harness.tavily }, async (client) => {
      const result = await tool.run(args, { tavily: client, deadline: Date.now() + 60_000, signal: new AbortController().signal });
      return { content: [{ type: 'text', text: tool.render(result) }], structuredContent: result as Record<string, unknown> };
    });
  };
  return { call, events };
}

const usageOf = async (store: MemoryUsageStore, kind: 'client' | 'sub' | 'total', id = '*') => store.items.get(await usageItemKey(DAY, kind, id));

describe('store requests and sequential phases per call (a user on a client an override names: two identities; the server only under a total cap)', () => {
  test('quotas and cache on: a miss is one phase before Tavily (2 counts, 1 lookup) and one after (the entry stored); a hit gives its reservation back', async () => {
    const observed = observedStore();
    const { call } = guarded(observed.store, { limits: { ...OFF, callsPerMinute: 10, creditsPerDay: 100 , overrides: CLIENT_A_NAMED }, cache: CACHE });
    expect((await call(webSearch, { query: 'phases' })).isError).toBeUndefined();
    expect(observed.take()).toEqual({ requests: 4, phases: 2 });
    expect(harness.fake.requests).toHaveLength(1);
    expect((await call(webSearch, { query: 'phases' })).structuredContent?.cache).toEqual({ hit: true });
    expect(observed.take()).toEqual({ requests: 5, phases: 2 });
    expect(await usageOf(observed.inner, 'client', 'client-a')).toEqual({ credits: 1, calls: 1, minute: '2026-12-02T12:00', minuteCalls: 2 });
  });

  test('quotas only: one phase before Tavily, none after when Tavily charged what was reserved, one when it charged less', async () => {
    const observed = observedStore();
    const { call } = guarded(observed.store, { limits: { ...OFF, callsPerMinute: 10, creditsPerDay: 100 , overrides: CLIENT_A_NAMED } });
    await call(webSearch, { query: 'q' });
    expect(observed.take()).toEqual({ requests: 2, phases: 1 });
    // Ten URLs reserve 2 credits; one of them fails, so 9 pages cost 2 as well.
    const urls = Array.from({ length: 10 }, (_, i) => `https://example.com/${i === 0 ? 'fail' : i}`);
    await call(webExtract, { urls });
    expect(observed.take()).toEqual({ requests: 2, phases: 1 });
    // Six URLs reserve 2; five fail, so one page costs 1: the reservation comes down by 1.
    await call(webExtract, { urls: [...urls.slice(0, 1), 'https://a.example/fail', 'https://b.example/fail', 'https://c.example/fail', 'https://d.example/fail', urls[1]!] });
    expect(observed.take()).toEqual({ requests: 4, phases: 2 });
    expect(await usageOf(observed.inner, 'client', 'client-a')).toMatchObject({ credits: 1 + 2 + 1, calls: 3 });
  });

  test('a user on a client no override names (a public client shared by its users): one count, so a miss is 3 requests', async () => {
    const observed = observedStore();
    const { call } = guarded(observed.store, { limits: { ...OFF, callsPerMinute: 10, creditsPerDay: 100 }, cache: CACHE });
    await call(webSearch, { query: 'public' });
    expect(observed.take()).toEqual({ requests: 3, phases: 2 });
    expect(await usageOf(observed.inner, 'sub', 'usr_1')).toMatchObject({ credits: 1, calls: 1 });
    expect(await usageOf(observed.inner, 'client', 'client-a')).toBeUndefined();
  });

  test('a machine token (sub = client_id) is one identity: one count, not two', async () => {
    const observed = observedStore();
    const { call } = guarded(observed.store, { limits: { ...OFF, callsPerMinute: 10 , overrides: CLIENT_A_NAMED } });
    await call(webSearch, { query: 'q' }, { sub: 'm2m', clientId: 'm2m' });
    expect(observed.take()).toEqual({ requests: 1, phases: 1 });
    expect(await usageOf(observed.inner, 'sub', 'm2m')).toBeUndefined();
  });

  test("the server's item is counted only under a total cap: a third count in the same phase, and no write to one hot item otherwise", async () => {
    const observed = observedStore();
    const { call } = guarded(observed.store, { limits: { ...OFF, creditsPerDay: 100 , overrides: CLIENT_A_NAMED } });
    await call(webSearch, { query: 'q' });
    expect(observed.take()).toEqual({ requests: 2, phases: 1 });
    expect(await usageOf(observed.inner, 'total')).toBeUndefined();
    const capped = guarded(observed.store, { limits: { ...OFF, creditsPerDay: 100, creditsPerDayTotal: 50 , overrides: CLIENT_A_NAMED } });
    await capped.call(webSearch, { query: 'q' });
    expect(observed.take()).toEqual({ requests: 3, phases: 1 });
    expect(await usageOf(observed.inner, 'total')).toMatchObject({ credits: 1, calls: 1 });
  });

  test('cache only: a lookup before, the entry stored after; a hit, the lookup alone', async () => {
    const observed = observedStore();
    const { call } = guarded(observed.store, { cache: CACHE });
    await call(webSearch, { query: 'q' });
    expect(observed.take()).toEqual({ requests: 2, phases: 2 });
    await call(webSearch, { query: 'q' });
    expect(observed.take()).toEqual({ requests: 1, phases: 1 });
  });
});

describe('credits: the worst case the arguments allow is reserved before Tavily, and settled down after', () => {
  test('a crawl reserves its mapping and extraction of `limit` pages, and is charged for the pages it returned', async () => {
    const store = memoryUsageStore();
    const { call, events } = guarded(store, { limits: { ...OFF, creditsPerDay: 100 , overrides: CLIENT_A_NAMED } });
    // limit 20, advanced, with instructions: 2 credits per 10 pages mapped (4) + 2 per 5 extracted (8) = 12 reserved.
    await call(webCrawl, { url: 'https://docs.example.com', limit: 20, extract_depth: 'advanced', instructions: 'api pages' });
    const reservation = store.counts[0]!;
    expect(reservation).toMatchObject({ credits: 12, creditsMax: 100, calls: 1 });
    // The fake returns 3 pages: 2 for mapping (with instructions) + 2 for extraction (advanced).
    expect(events.at(-1)).toMatchObject({ kind: 'call', credits: 4, reservedCredits: 12 });
    expect(await usageOf(store, 'client', 'client-a')).toMatchObject({ credits: 4, calls: 1 });
  });

  test('a reservation that does not fit is refused by name, with what it needed, and Tavily is not called', async () => {
    const store = memoryUsageStore();
    const { call, events } = guarded(store, { limits: { ...OFF, creditsPerDay: 10 , overrides: CLIENT_A_NAMED } });
    const urls = Array.from({ length: 20 }, (_, i) => `https://example.com/${i}`);
    expect((await call(webExtract, { urls: urls.slice(0, 10), extract_depth: 'advanced' })).isError).toBeUndefined();
    const refused = await call(webExtract, { urls, extract_depth: 'advanced' });
    expect(textOf(refused)).toBe('Daily Tavily credit budget for this client reached (4/10 used; this call needs up to 8); resets at 00:00 UTC. No search was made.');
    expect(events.at(-1)).toEqual({ kind: 'refused', limit: 'credits_per_day', subject: 'client', tool: 'web_extract', sub: 'usr_1', clientId: 'client-a', used: 4, max: 10, needed: 8 });
    expect(harness.fake.requests).toHaveLength(1);
    // Nothing of the refused call stays counted, for the user either.
    expect(await usageOf(store, 'sub', 'usr_1')).toMatchObject({ credits: 4, calls: 1 });
    const never = await guarded(memoryUsageStore(), { limits: { ...OFF, creditsPerDay: 5 , overrides: CLIENT_A_NAMED } }).call(webExtract, { urls, extract_depth: 'advanced' });
    expect(textOf(never)).toContain('is 5 credits, and this call may cost up to 8: it can never fit');
  });

  test('a hit needs no credits: a credit budget that is full does not refuse it, and the hit still counts against the minute', async () => {
    const store = memoryUsageStore();
    const { call } = guarded(store, { limits: { ...OFF, callsPerMinute: 3, creditsPerDay: 1 , overrides: CLIENT_A_NAMED }, cache: CACHE });
    await call(webSearch, { query: 'popular' });
    expect(textOf(await call(webSearch, { query: 'other' }))).toContain('credit budget');
    expect((await call(webSearch, { query: 'popular' })).structuredContent?.cache).toEqual({ hit: true });
    expect(await usageOf(store, 'client', 'client-a')).toEqual({ credits: 1, calls: 1, minute: '2026-12-02T12:00', minuteCalls: 2 });
    expect(textOf(await call(webSearch, { query: 'popular' }))).toContain('(From this server');
    expect(textOf(await call(webSearch, { query: 'popular' }))).toContain('rate limit');
  });
});

describe('a failing store', () => {
  const outage = () => new UsageStoreError('count', 'ThrottlingException', 'outage');
  const rejected = () => new UsageStoreError('count', 'ValidationException', 'rejected');

  test('an outage with QUOTA_ON_STORE_ERROR=allow: the call goes on, said once (decision allowed), counted where it could be', async () => {
    const observed = observedStore();
    const subKey = await usageItemKey(DAY, 'sub', 'usr_1');
    observed.failWith((operation, key) => (operation === 'count' && key === subKey ? outage() : undefined));
    const { call, events } = guarded(observed.store, { limits: { ...OFF, callsPerMinute: 1 , overrides: CLIENT_A_NAMED } });
    expect((await call(webSearch, { query: 'q' })).isError).toBeUndefined();
    expect(events.filter((event) => event.kind === 'store_error')).toEqual([
      { kind: 'store_error', operation: 'count', reason: 'ThrottlingException', fault: 'outage', tool: 'web_search', sub: 'usr_1', clientId: 'client-a', decision: 'allowed' },
    ]);
    // The client's count still holds the line.
    expect(textOf(await call(webSearch, { query: 'q' }))).toContain('rate limit for this client');
  });

  test('an outage with deny: refused, and what was counted is given back', async () => {
    const observed = observedStore();
    const subKey = await usageItemKey(DAY, 'sub', 'usr_1');
    observed.failWith((operation, key) => (operation === 'count' && key === subKey ? outage() : undefined));
    const { call, events } = guarded(observed.store, { limits: { ...OFF, callsPerMinute: 1, onStoreError: 'deny' , overrides: CLIENT_A_NAMED } });
    expect(textOf(await call(webSearch, { query: 'q' }))).toBe(STORE_DENIED_MESSAGE);
    expect(events.at(-1)).toMatchObject({ kind: 'store_error', decision: 'denied', fault: 'outage' });
    expect(await usageOf(observed.inner, 'client', 'client-a')).toMatchObject({ calls: 0, minuteCalls: 0, credits: 0 });
    expect(harness.fake.requests).toHaveLength(0);
  });

  test('a request the store rejects (a bug, not an outage) is refused even with allow, and logged as rejected', async () => {
    const observed = observedStore();
    observed.failWith((operation) => (operation === 'count' ? rejected() : undefined));
    const { call, events } = guarded(observed.store, { limits: { ...OFF, callsPerMinute: 5 , overrides: CLIENT_A_NAMED } });
    expect(textOf(await call(webSearch, { query: 'q' }))).toBe(STORE_REJECTED_MESSAGE);
    expect(events).toEqual([
      { kind: 'store_error', operation: 'count', reason: 'ValidationException', fault: 'rejected', tool: 'web_search', sub: 'usr_1', clientId: 'client-a', decision: 'denied' },
    ]);
    expect(harness.fake.requests).toHaveLength(0);
  });

  test('a cache the store cannot read is skipped, whatever the failure', async () => {
    const observed = observedStore();
    observed.failWith((operation) => (operation === 'get' ? new UsageStoreError('get', 'ValidationException', 'rejected') : undefined));
    const { call, events } = guarded(observed.store, { cache: CACHE });
    expect((await call(webSearch, { query: 'q' })).isError).toBeUndefined();
    expect(events[0]).toMatchObject({ kind: 'store_error', operation: 'get', fault: 'rejected', decision: 'cache_skipped' });
  });
});

test('a refusal by calls per minute says so, and what the other identity counted is given back', async () => {
  const store = memoryUsageStore();
  const { call } = guarded(store, { limits: { ...OFF, callsPerMinute: 1, overrides: [{ kind: 'client', id: 'client-a' }, { kind: 'client', id: 'client-b' }] } });
  await call(webSearch, { query: 'q' }, { sub: 'usr_1', clientId: 'client-a' });
  // A second client (named by an override, so counted) for the same user: the user is over, the new client is not, and gets its slot back.
  const refused = await call(webSearch, { query: 'q' }, { sub: 'usr_1', clientId: 'client-b' });
  expect(textOf(refused)).toBe('Tool call rate limit for this user reached (1/1 calls per minute); resets at 12:01:00 UTC. No search was made: wait until then, or make fewer calls.');
  expect(await usageOf(store, 'client', 'client-b')).toMatchObject({ minuteCalls: 0, calls: 0, credits: 0 });
});

describe('settleReservation: a reservation that outlived its call', () => {
  const caller = { sub: 'usr_1', clientId: 'client_1' };
  const keys = async (day: string) => Promise.all([usageItemKey(day, 'client', 'client_1'), usageItemKey(day, 'sub', 'usr_1'), usageItemKey(day, 'total', '*')]);

  test('brings the items the guard reserved on, that day, down to the charge, with no limit and no call counted', async () => {
    const store = memoryUsageStore();
    const signal = new AbortController().signal;
    for (const key of await keys(DAY)) await store.count({ key, expiresAt: 1, labels: {}, credits: 250, calls: 1 }, { signal });
    const limits = { ...OFF, callsPerMinute: 5, creditsPerDay: 300, creditsPerDayTotal: 1000, overrides: [{ kind: 'client' as const, id: 'client_1' }] };
    await settleReservation(store, { caller, day: DAY, reserved: 250, charged: 40 }, limits, { signal });
    expect((await keys(DAY)).map((key) => [store.items.get(key)?.credits, store.items.get(key)?.calls])).toEqual([[40, 1], [40, 1], [40, 1]]);
    expect(store.counts.slice(3).every((count) => count.creditsMax === undefined && count.minuteCalls === undefined && count.calls === 0)).toBe(true);
  });

  test("without a total cap the server's item was never reserved on, nor the client's without an override: neither is settled", async () => {
    const store = memoryUsageStore();
    const signal = new AbortController().signal;
    await settleReservation(store, { caller, day: DAY, reserved: 250, charged: 40 }, { ...OFF, creditsPerDay: 300 }, { signal });
    const [client, sub, total] = await keys(DAY);
    // Nor the client's, which no override names: a user's call counts against the user alone.
    expect(store.counts.map((count) => count.key)).toEqual([sub]);
    expect(store.items.get(total!)).toBeUndefined();
    expect(store.items.get(client!)).toBeUndefined();
  });

  test('never above what was reserved, and no request when nothing changes', async () => {
    const store = memoryUsageStore();
    const signal = new AbortController().signal;
    await settleReservation(store, { caller, day: DAY, reserved: 110, charged: 500 }, OFF, { signal });
    expect(store.counts).toHaveLength(0);
  });

  test("throws the store's error when an item could not be settled", async () => {
    const failing: UsageStore = { ...memoryUsageStore(), count: async () => Promise.reject(new UsageStoreError('count', 'ThrottlingException', 'outage')) };
    await expect(settleReservation(failing, { caller, day: DAY, reserved: 110, charged: 4 }, OFF, { signal: new AbortController().signal })).rejects.toBeInstanceOf(UsageStoreError);
  });
});
