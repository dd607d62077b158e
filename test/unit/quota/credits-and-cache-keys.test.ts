/**
 * The pure parts of quotas and the cache: each tool's credit rule (Tavily's
 * documented prices), cache keys made from the request each tool sends, each
 * tool's cache lifetime, packing, settings and refusal messages.
 */
import { chargedCredits, reportedCredits } from '../../../lambda/mcp/quota/credits.js';
import { cacheKey, cacheScopeOf, packResult, unpackResult } from '../../../lambda/mcp/quota/result-cache.js';
import { identitiesOf, refusalMessage, windowsAt } from '../../../lambda/mcp/quota/usage-guard.js';
import { digestOf } from '../../../lambda/mcp/quota/usage-table.js';
import webCrawl from '../../../lambda/mcp/tools/web-crawl.js';
import webExtract from '../../../lambda/mcp/tools/web-extract.js';
import webMap from '../../../lambda/mcp/tools/web-map.js';
import webSearch from '../../../lambda/mcp/tools/web-search.js';
import type { AnyTool } from '../../../lambda/mcp/tools/tool.js';
import { ConfigurationError, definitions as d, parseSettings } from '../../../lambda/shared/settings.js';

/** A tool's rule for arguments as a caller sends them (validated and defaulted first, as the server does). */
const estimate = (tool: AnyTool, raw: Record<string, unknown>) => tool.credits.estimate(tool.input.parse(raw));
const priceOf = (tool: AnyTool, raw: Record<string, unknown>, answer: unknown) => tool.credits.priceOf(tool.input.parse(raw), answer);
const requestOf = (tool: AnyTool, raw: Record<string, unknown>) => tool.tavilyRequest(tool.input.parse(raw));

describe('credits', () => {
  const query = 'q';

  test('search: basic, fast and ultra-fast cost 1, advanced 2', () => {
    expect(estimate(webSearch, { query, search_depth: 'basic' })).toBe(1);
    expect(estimate(webSearch, { query, search_depth: 'fast' })).toBe(1);
    expect(estimate(webSearch, { query, search_depth: 'ultra-fast' })).toBe(1);
    expect(estimate(webSearch, { query, search_depth: 'advanced' })).toBe(2);
    expect(priceOf(webSearch, { query, search_depth: 'advanced' }, { results: [] })).toBe(2);
  });

  test('extract: per 5 URLs, doubled for advanced; only successful URLs are charged', () => {
    const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://example.com/${i}`);
    expect(estimate(webExtract, { urls: urls(5), extract_depth: 'basic' })).toBe(1);
    expect(estimate(webExtract, { urls: urls(6), extract_depth: 'basic' })).toBe(2);
    expect(estimate(webExtract, { urls: urls(11), extract_depth: 'advanced' })).toBe(6);
    // A URL given twice is fetched (and charged) once.
    expect(estimate(webExtract, { urls: ['https://a.example', 'https://a.example'], extract_depth: 'basic' })).toBe(1);
    const answer = { results: [{ url: 'a' }, { url: 'b' }], failed_results: [{ url: 'c' }] };
    expect(priceOf(webExtract, { urls: urls(3), extract_depth: 'advanced' }, answer)).toBe(2);
    expect(priceOf(webExtract, { urls: urls(3), extract_depth: 'basic' }, { results: [] })).toBe(0);
  });

  test('map: per 10 pages, doubled with instructions; crawl adds the extraction of its pages', () => {
    const url = 'https://docs.example.com';
    expect(estimate(webMap, { url })).toBe(5); // the default limit, 50
    expect(estimate(webMap, { url, limit: 50, instructions: 'only docs' })).toBe(10);
    expect(estimate(webCrawl, { url, limit: 10, extract_depth: 'basic' })).toBe(1 + 2);
    expect(estimate(webCrawl, { url, limit: 10, extract_depth: 'advanced', instructions: 'x' })).toBe(2 + 4);
    expect(priceOf(webMap, { url, limit: 50 }, { results: Array(11).fill('u') })).toBe(2);
    expect(priceOf(webCrawl, { url, limit: 10, extract_depth: 'basic' }, { results: Array(3).fill({}) })).toBe(1 + 1);
  });

  test("Tavily's own usage figure is taken within the documented prices: at least the price of what came back, at most what the arguments allow", () => {
    expect(reportedCredits({ usage: { credits: 7 } })).toBe(7);
    expect(reportedCredits({ usage: { credits: '7' } })).toBeUndefined();
    expect(reportedCredits({ usage: { credits: -1 } })).toBeUndefined();
    const search = webSearch.input.parse({ query, search_depth: 'basic' });
    expect(chargedCredits(webSearch.credits, search, { results: [] })).toEqual({ credits: 1 });
    // A real search costs its documented price: a report of 0, or of 4, is not what it cost.
    expect(chargedCredits(webSearch.credits, search, { results: [], usage: { credits: 0 } })).toEqual({ credits: 1, reported: 0 });
    expect(chargedCredits(webSearch.credits, search, { results: [], usage: { credits: 4 } })).toEqual({ credits: 1, reported: 4 });
    const urls = Array.from({ length: 10 }, (_, i) => `https://example.com/${i}`);
    const extract = webExtract.input.parse({ urls, extract_depth: 'advanced' });
    const sixPages = { results: Array(6).fill({ url: 'u' }), failed_results: [] };
    // 6 pages extracted cost at least 4 credits, and 10 URLs at most 4: a report of 3 is raised, and one of 2 too.
    expect(chargedCredits(webExtract.credits, extract, { ...sixPages, usage: { credits: 3 } })).toEqual({ credits: 4, reported: 3 });
    // 3 pages: between 2 (their price) and 4 (every URL); Tavily's 3 stands.
    expect(chargedCredits(webExtract.credits, extract, { results: Array(3).fill({ url: 'u' }), usage: { credits: 3 } })).toEqual({ credits: 3, reported: 3 });
    // An answer with more pages than asked for is charged no more than the arguments allow.
    expect(chargedCredits(webExtract.credits, extract, { results: Array(40).fill({ url: 'u' }) })).toEqual({ credits: 4 });
  });
});

describe('cache keys: a hash of exactly the request the tool sends', () => {
  const caller = { sub: 'usr_1', clientId: 'client-a' };
  const SHARED = { keyPart: 'shared', oneCaller: false };
  const keyOf = (tool: AnyTool, raw: Record<string, unknown>) => cacheKey(tool.name, requestOf(tool, raw), SHARED);

  test('what a tool treats as equal it sends as one request: domain sets in any order and case, unset options, empty lists', async () => {
    const a = { query: 'q', include_domains: ['b.com', 'A.com'], exclude_domains: [] };
    const b = { include_domains: ['a.com', 'b.com', 'a.com'], topic: 'general', query: 'q' };
    expect(requestOf(webSearch, a)).toEqual(requestOf(webSearch, b));
    expect(requestOf(webSearch, a).body).toMatchObject({ include_domains: ['a.com', 'b.com'] });
    expect(requestOf(webSearch, a).body).not.toHaveProperty('exclude_domains');
    expect(await keyOf(webSearch, a)).toBe(await keyOf(webSearch, b));
  });

  test('a regular expression is sent, and keyed, exactly as written: a trailing space is another pattern', async () => {
    const url = 'https://docs.example.com';
    const spaced = requestOf(webMap, { url, select_paths: ['/docs/.* '] });
    expect(spaced.body).toMatchObject({ select_paths: ['/docs/.* '] });
    expect(await keyOf(webMap, { url, select_paths: ['/docs/.* '] })).not.toBe(await keyOf(webMap, { url, select_paths: ['/docs/.*'] }));
    // Case matters in a pattern; only the order of a set does not.
    expect(requestOf(webCrawl, { url, exclude_domains: ['^A\\.com$'] }).body).toMatchObject({ exclude_domains: ['^A\\.com$'] });
    expect(await keyOf(webCrawl, { url, select_paths: ['/B', '/a', '/B'] })).toBe(await keyOf(webCrawl, { url, select_paths: ['/a', '/B'] }));
  });

  test('what changes the answer changes the key', async () => {
    const base = await keyOf(webSearch, { query: 'q', max_results: 5 });
    expect(await keyOf(webSearch, { max_results: 5, query: 'q' })).toBe(base);
    expect(await keyOf(webSearch, { query: 'q', max_results: 6 })).not.toBe(base);
    expect(await keyOf(webSearch, { query: 'Q', max_results: 5 })).not.toBe(base);
    expect(await cacheKey('web_extract', requestOf(webSearch, { query: 'q', max_results: 5 }), SHARED)).not.toBe(base);
    // Extract keeps URL order (the results follow it) and asks for a URL once.
    expect(requestOf(webExtract, { urls: ['https://b.example/', 'https://a.example/', 'https://b.example/'] }).body).toMatchObject({
      urls: ['https://b.example/', 'https://a.example/'],
    });
  });

  test('scopes: shared is one for all; organization one per oid, else per caller; caller one per user and client; only identities hashed', async () => {
    const request = requestOf(webSearch, { query: 'q' });
    const key = async (scope: 'shared' | 'organization' | 'caller', who: { sub: string; clientId: string; organizationId?: string }) =>
      cacheKey('web_search', request, await cacheScopeOf(scope, who));
    const alice = { sub: 'usr_1', clientId: 'client-a', organizationId: 'org_1' };
    const bob = { sub: 'usr_2', clientId: 'client-b', organizationId: 'org_1' };
    const carol = { sub: 'usr_3', clientId: 'client-a', organizationId: 'org_2' };
    expect(await key('shared', alice)).toBe(await key('shared', carol));
    expect(await key('organization', alice)).toBe(await key('organization', bob));
    expect(await key('organization', alice)).not.toBe(await key('organization', carol));
    expect(await key('organization', alice)).not.toBe(await key('shared', alice));
    // Without an oid: entries of one's own, the same as in `caller` scope.
    const loner = { sub: 'usr_4', clientId: 'client-a' };
    expect(await key('organization', loner)).toBe(await key('caller', loner));
    expect(await key('caller', alice)).not.toBe(await key('caller', { ...alice, sub: 'usr_2' }));
    expect(await key('caller', alice)).toBe(await key('caller', { ...alice, organizationId: 'org_9' }));
    // A sub and client id that only join into the same text are two callers.
    expect(await key('caller', { sub: 'a\nb', clientId: 'c' })).not.toBe(await key('caller', { sub: 'a', clientId: 'b\nc' }));
    // An organisation is not a caller of the same name.
    expect(await key('organization', { sub: 'x', clientId: 'x', organizationId: 'x' })).not.toBe(await key('caller', { sub: 'x', clientId: 'x' }));
    for (const each of [await key('caller', alice), await key('organization', alice)]) {
      expect(each).not.toMatch(/usr_1|client-a|org_1/);
      expect(each).toMatch(/^cache#(caller|org):[A-Za-z0-9_-]{43}#web_search#[A-Za-z0-9_-]{43}$/);
    }
    expect((await cacheScopeOf('organization', alice)).oneCaller).toBe(false);
    expect((await cacheScopeOf('organization', loner)).oneCaller).toBe(true);
    expect((await cacheScopeOf('shared', loner)).oneCaller).toBe(false);
  });

  test('entries round-trip compressed; foreign bytes are not an entry; news gets the shorter lifetime', async () => {
    const entry = { text: 'hello '.repeat(1000), structured: { query: 'q', results: [] } };
    const packed = await packResult(entry);
    expect(packed!.byteLength).toBeLessThan(JSON.stringify(entry).length / 10);
    expect(await unpackResult(packed!)).toEqual(entry);
    expect(await unpackResult(new TextEncoder().encode('not gzip'))).toBeUndefined();
    expect(await packResult(entry, 10)).toBeUndefined();
    const lifetimes = { seconds: 600, newsSeconds: 60 };
    const lifetime = (tool: AnyTool, raw: Record<string, unknown>, given = lifetimes) => tool.cache.lifetimeSeconds(tool.input.parse(raw), given);
    expect(lifetime(webSearch, { query: 'q', topic: 'news' })).toBe(60);
    expect(lifetime(webSearch, { query: 'q', topic: 'general' })).toBe(600);
    expect(lifetime(webSearch, { query: 'q', topic: 'news' }, { seconds: 30, newsSeconds: 60 })).toBe(30);
    expect(lifetime(webMap, { url: 'https://docs.example.com' })).toBe(600);
  });
});

describe('callers, windows, messages', () => {
  test("a user counts as the user (and as the client only when an override names it); a client acting for itself as the client", () => {
    // A public client's client_id is shared by all its users: by default, no limit of the client's is shared by them.
    expect(identitiesOf({ sub: 'usr_1', clientId: 'c' }, [])).toEqual([{ kind: 'sub', id: 'usr_1' }]);
    expect(identitiesOf({ sub: 'usr_1', clientId: 'c' }, [{ kind: 'client', id: 'c', creditsPerDay: 5 }])).toEqual([
      { kind: 'client', id: 'c' },
      { kind: 'sub', id: 'usr_1' },
    ]);
    expect(identitiesOf({ sub: 'usr_1', clientId: 'c' }, [{ kind: 'client', id: 'other', creditsPerDay: 5 }])).toEqual([{ kind: 'sub', id: 'usr_1' }]);
    // A machine token (sub = client_id, or no sub): the client, once.
    expect(identitiesOf({ sub: 'c', clientId: 'c' }, [])).toEqual([{ kind: 'client', id: 'c' }]);
    expect(identitiesOf({ sub: '', clientId: 'c' }, [])).toEqual([{ kind: 'client', id: 'c' }]);
    // A user without a client_id: the user.
    expect(identitiesOf({ sub: 'usr_1', clientId: '' }, [])).toEqual([{ kind: 'sub', id: 'usr_1' }]);
    expect(identitiesOf({ sub: '', clientId: '' }, [])).toEqual([]);
  });

  test('fixed UTC windows', () => {
    const at = Date.parse('2026-12-02T23:59:30.500Z');
    expect(windowsAt(at)).toEqual({
      minute: '2026-12-02T23:59',
      minuteEnds: Date.parse('2026-12-03T00:00:00Z'),
      day: '2026-12-02',
      dayEnds: Date.parse('2026-12-03T00:00:00Z'),
    });
  });

  test('messages name the limit, the figures, what the call needed and the reset', () => {
    const midnight = Date.parse('2026-12-03T00:00:00Z');
    expect(refusalMessage('credits_per_day', 'client', 500, 500, 1, midnight)).toBe(
      'Daily Tavily credit budget for this client reached (500/500 used; this call needs up to 1); resets at 00:00 UTC. No search was made.',
    );
    expect(refusalMessage('credits_per_day', 'sub', 500, 499, 2, midnight)).toContain('for this user reached (499/500 used; this call needs up to 2)');
    expect(refusalMessage('credits_per_day', 'sub', 500, undefined, 2, midnight)).toContain('for this user reached (500 credits; this call needs up to 2)');
    expect(refusalMessage('credits_per_day_total', 'total', 9000, 9000, 1, midnight)).toContain('Daily Tavily credit budget for this server reached (9000/9000 used');
    expect(refusalMessage('credits_per_day', 'client', 5, 0, 8, midnight)).toBe(
      'Daily Tavily credit budget for this client is 5 credits, and this call may cost up to 8: it can never fit. No search was made: ask for less (fewer URLs or pages, a basic depth, no instructions).',
    );
    expect(refusalMessage('calls_per_minute', 'client', 3, undefined, 1, Date.parse('2026-12-02T18:56:00Z'))).toContain(
      'Tool call rate limit for this client reached (3/3 calls per minute); resets at 18:56:00 UTC',
    );
  });
});

describe('settings', () => {
  const shape = {
    overrides: ['QUOTA_OVERRIDES', d.quotaOverrides],
    onStoreError: ['QUOTA_ON_STORE_ERROR', d.quotaOnStoreError],
    ttl: ['CACHE_TTL_SECONDS', d.cacheTtlSeconds],
    scope: ['CACHE_SCOPE', d.cacheScope],
    calls: ['QUOTA_CALLS_PER_MINUTE', d.quotaCallsPerMinute],
    storeTimeout: ['USAGE_STORE_TIMEOUT_MS', d.usageStoreTimeoutMs],
  } as const;

  test('defaults: quotas off, cache on for 600 s and per organisation, allow on store errors, a 1 s store timeout', () => {
    expect(parseSettings(shape, {})).toEqual({ overrides: [], onStoreError: 'allow', ttl: 600, scope: 'organization', calls: 0, storeTimeout: 1000 });
    expect(parseSettings(shape, { CACHE_SCOPE: 'Shared', USAGE_STORE_TIMEOUT_MS: '15000' })).toMatchObject({ scope: 'shared', storeTimeout: 15_000 });
    expect(parseSettings(shape, { CACHE_SCOPE: 'caller' })).toMatchObject({ scope: 'caller' });
  });

  test('overrides per client_id and per sub', () => {
    const parsed = parseSettings(shape, { QUOTA_OVERRIDES: 'client:batch-agent=calls:600,credits:50000; sub:usr_123=credits:0' });
    expect(parsed.overrides).toEqual([
      { kind: 'client', id: 'batch-agent', callsPerMinute: 600, creditsPerDay: 50000 },
      { kind: 'sub', id: 'usr_123', creditsPerDay: 0 },
    ]);
  });

  test('one message names every bad setting', () => {
    expect(() =>
      parseSettings(shape, { QUOTA_OVERRIDES: 'batch=calls:1', QUOTA_ON_STORE_ERROR: 'maybe', CACHE_SCOPE: 'global', QUOTA_CALLS_PER_MINUTE: '-1' }),
    ).toThrow(ConfigurationError);
    try {
      parseSettings(shape, { QUOTA_OVERRIDES: 'client:a=calls:1,calls:2', QUOTA_ON_STORE_ERROR: 'maybe', CACHE_SCOPE: 'global', USAGE_STORE_TIMEOUT_MS: '5' });
    } catch (error) {
      const { problems } = error as ConfigurationError;
      expect(problems.map((problem) => problem.split(':')[0])).toEqual(['QUOTA_OVERRIDES', 'QUOTA_ON_STORE_ERROR', 'CACHE_SCOPE', 'USAGE_STORE_TIMEOUT_MS']);
    }
  });
});

describe('the hook from the settings', () => {
  const off = {
    quotaCallsPerMinute: 0,
    quotaCreditsPerDay: 0,
    quotaCreditsPerDayTotal: 0,
    quotaOverrides: [],
    quotaOnStoreError: 'allow' as const,
    cacheTtlSeconds: 0,
    cacheTtlNewsSeconds: 60,
    cacheScope: 'shared' as const,
  };

  test('nothing on the path when quotas and cache are off, or when only the cache is on without a table', async () => {
    const { usageGuardFromSettings } = await import('../../../lambda/mcp/quota/index.js');
    const { createObservability } = await import('../../../lambda/shared/observability.js');
    const observability = createObservability('mcp');
    expect(usageGuardFromSettings(off, observability)).toBeUndefined();
    expect(usageGuardFromSettings({ ...off, cacheTtlSeconds: 600 }, observability)).toBeUndefined();
    expect(typeof usageGuardFromSettings({ ...off, cacheTtlSeconds: 600, usageTableName: 'usage' }, observability)).toBe('function');
    // Quotas that cannot count must not silently stop counting.
    expect(() => usageGuardFromSettings({ ...off, quotaCallsPerMinute: 3 }, observability)).toThrow(/USAGE_TABLE_NAME: missing/);
  });

  test('the function environment: off is said explicitly; on carries every setting and the table', async () => {
    const { usageEnvironment } = await import('../../../lambda/mcp/quota/usage-settings.js');
    expect(usageEnvironment(off)).toEqual({ CACHE_TTL_SECONDS: '0' });
    expect(
      usageEnvironment({ ...off, quotaCallsPerMinute: 3, quotaOverrides: [{ kind: 'client', id: 'batch', callsPerMinute: 600 }], usageTableName: 't' }),
    ).toMatchObject({ QUOTA_CALLS_PER_MINUTE: '3', QUOTA_OVERRIDES: 'client:batch=calls:600', USAGE_TABLE_NAME: 't', CACHE_TTL_SECONDS: '0' });
  });
});

test("keys' digests are SHA-256 of the value's JSON, base64url: fixed, so items written by an earlier version are found", async () => {
  // Computed independently (Python hashlib) from the JSON texts "usr_1", ["a","b"] and "\ud800x".
  expect(await digestOf('usr_1')).toBe('c75Qi0kbanUll-vhvj0P6RubkVkttijqQFhssxzRE-Y');
  expect(await digestOf(['a', 'b'])).toBe('BHPvLcDTJKtlnTWAwRNOnYEgNZBcR4H91tUpsMaGDhM');
  // A lone surrogate is its JSON escape, never UTF-8's replacement character.
  expect(await digestOf('\ud800x')).toBe('7RZ1Xx7ZIFikp7hp3y5WzG1Zblyl0f8-c6GC4Zd5ytk');
  expect(await digestOf('\ufffdx')).not.toBe(await digestOf('\ud800x'));
});
