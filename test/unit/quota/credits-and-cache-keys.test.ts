/**
 * The pure parts of quotas and the cache: each tool's credit rule (Tavily's
 * documented prices), cache keys made from the request each tool sends, each
 * tool's cache lifetime, packing, settings and refusal messages.
 */
import { chargedCredits, reportedCredits } from '../../../lambda/mcp/quota/credits.js';
import { cacheKey, packResult, unpackResult } from '../../../lambda/mcp/quota/result-cache.js';
import { identitiesOf, refusalMessage, windowsAt } from '../../../lambda/mcp/quota/usage-guard.js';
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

  test("Tavily's own usage figure wins over the tool's rule", () => {
    expect(reportedCredits({ usage: { credits: 7 } })).toBe(7);
    expect(reportedCredits({ usage: { credits: '7' } })).toBeUndefined();
    expect(reportedCredits({ usage: { credits: -1 } })).toBeUndefined();
    const args = webSearch.input.parse({ query, search_depth: 'basic' });
    expect(chargedCredits(webSearch.credits, args, { results: [], usage: { credits: 4 } })).toBe(4);
    expect(chargedCredits(webSearch.credits, args, { results: [] })).toBe(1);
  });
});

describe('cache keys: a hash of exactly the request the tool sends', () => {
  const caller = { sub: 'usr_1', clientId: 'client-a' };
  const keyOf = (tool: AnyTool, raw: Record<string, unknown>) => cacheKey(tool.name, requestOf(tool, raw), 'shared', caller);

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
    expect(await cacheKey('web_extract', requestOf(webSearch, { query: 'q', max_results: 5 }), 'shared', caller)).not.toBe(base);
    // Extract keeps URL order (the results follow it) and asks for a URL once.
    expect(requestOf(webExtract, { urls: ['https://b.example/', 'https://a.example/', 'https://b.example/'] }).body).toMatchObject({
      urls: ['https://b.example/', 'https://a.example/'],
    });
  });

  test('scope caller keys by user and client; shared does not', async () => {
    const request = requestOf(webSearch, { query: 'q' });
    const shared = await cacheKey('web_search', request, 'shared', caller);
    expect(await cacheKey('web_search', request, 'shared', { sub: 'usr_2', clientId: 'client-b' })).toBe(shared);
    const mine = await cacheKey('web_search', request, 'caller', caller);
    expect(mine).not.toBe(shared);
    expect(await cacheKey('web_search', request, 'caller', { sub: 'usr_2', clientId: 'client-a' })).not.toBe(mine);
    expect(mine).not.toContain('usr_1');
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
  test('sub and client_id count separately, a machine token (sub = client) once', () => {
    expect(identitiesOf({ sub: 'usr_1', clientId: 'c' })).toEqual([
      { kind: 'client', id: 'c' },
      { kind: 'sub', id: 'usr_1' },
    ]);
    expect(identitiesOf({ sub: 'c', clientId: 'c' })).toEqual([{ kind: 'client', id: 'c' }]);
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

  test('messages name the limit, the figures and the reset', () => {
    const midnight = Date.parse('2026-12-03T00:00:00Z');
    expect(refusalMessage('credits_per_day', 'client', 500, 500, 1, midnight)).toBe(
      'Daily Tavily credit budget for this client reached (500/500); resets at 00:00 UTC. No search was made.',
    );
    expect(refusalMessage('credits_per_day', 'sub', 500, 499, 2, midnight)).toContain('for this user reached (499/500; this call needs up to 2)');
    expect(refusalMessage('credits_per_day_total', 'total', 9000, 9000, 1, midnight)).toContain('Daily Tavily credit budget for this server reached (9000/9000)');
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
  } as const;

  test('defaults: quotas off, cache on for 600 s and shared, allow on store errors', () => {
    expect(parseSettings(shape, {})).toEqual({ overrides: [], onStoreError: 'allow', ttl: 600, scope: 'shared', calls: 0 });
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
      parseSettings(shape, { QUOTA_OVERRIDES: 'client:a=calls:1,calls:2', QUOTA_ON_STORE_ERROR: 'maybe', CACHE_SCOPE: 'global' });
    } catch (error) {
      const { problems } = error as ConfigurationError;
      expect(problems.map((problem) => problem.split(':')[0])).toEqual(['QUOTA_OVERRIDES', 'QUOTA_ON_STORE_ERROR', 'CACHE_SCOPE']);
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
