/**
 * The pure parts of quotas and the cache: Tavily's documented credit costs, the
 * arguments normalised into cache keys, packing, settings and refusal messages.
 */
import { actualCredits, estimateCredits, reportedCredits } from '../../../lambda/mcp/quota/credits.js';
import {
  cacheKey,
  cacheLifetimeSeconds,
  normaliseArguments,
  packResult,
  unpackResult,
} from '../../../lambda/mcp/quota/result-cache.js';
import { identitiesOf, refusalMessage, windowsAt } from '../../../lambda/mcp/quota/usage-guard.js';
import { ConfigurationError, definitions as d, parseSettings } from '../../../lambda/shared/settings.js';

describe('credits', () => {
  test('search: basic, fast and ultra-fast cost 1, advanced 2', () => {
    expect(estimateCredits('web_search', { search_depth: 'basic' })).toBe(1);
    expect(estimateCredits('web_search', { search_depth: 'fast' })).toBe(1);
    expect(estimateCredits('web_search', { search_depth: 'ultra-fast' })).toBe(1);
    expect(estimateCredits('web_search', { search_depth: 'advanced' })).toBe(2);
  });

  test('extract: per 5 URLs, doubled for advanced; only successful URLs are charged', () => {
    const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://example.com/${i}`);
    expect(estimateCredits('web_extract', { urls: urls(5), extract_depth: 'basic' })).toBe(1);
    expect(estimateCredits('web_extract', { urls: urls(6), extract_depth: 'basic' })).toBe(2);
    expect(estimateCredits('web_extract', { urls: urls(11), extract_depth: 'advanced' })).toBe(6);
    // A URL given twice is fetched (and charged) once.
    expect(estimateCredits('web_extract', { urls: ['https://a.example', 'https://a.example'], extract_depth: 'basic' })).toBe(1);
    const answer = { results: [{ url: 'a' }, { url: 'b' }], failed_results: [{ url: 'c' }] };
    expect(actualCredits('web_extract', { urls: urls(3), extract_depth: 'advanced' }, answer)).toBe(2);
    expect(actualCredits('web_extract', { urls: urls(3), extract_depth: 'basic' }, { results: [] })).toBe(0);
  });

  test('map: per 10 pages, doubled with instructions; crawl adds the extraction of its pages', () => {
    expect(estimateCredits('web_map', { limit: 50 })).toBe(5);
    expect(estimateCredits('web_map', { limit: 50, instructions: 'only docs' })).toBe(10);
    expect(estimateCredits('web_crawl', { limit: 10, extract_depth: 'basic' })).toBe(1 + 2);
    expect(estimateCredits('web_crawl', { limit: 10, extract_depth: 'advanced', instructions: 'x' })).toBe(2 + 4);
    expect(actualCredits('web_map', { limit: 50 }, { results: Array(11).fill('u') })).toBe(2);
    expect(actualCredits('web_crawl', { limit: 10, extract_depth: 'basic' }, { results: Array(3).fill({}) })).toBe(1 + 1);
  });

  test("Tavily's own usage figure wins over the rules", () => {
    expect(reportedCredits({ usage: { credits: 7 } })).toBe(7);
    expect(reportedCredits({ usage: { credits: '7' } })).toBeUndefined();
    expect(reportedCredits({ usage: { credits: -1 } })).toBeUndefined();
    expect(actualCredits('web_search', { search_depth: 'basic' }, { results: [], usage: { credits: 4 } })).toBe(4);
  });
});

describe('cache keys', () => {
  const caller = { sub: 'usr_1', clientId: 'client-a' };

  test('key order, unset options, empty lists and set-like list order do not matter', () => {
    const a = { query: 'q', topic: 'general', include_domains: ['b.com', 'A.com'], exclude_domains: [], country: undefined };
    const b = { include_domains: ['a.com', 'b.com', 'a.com'], topic: 'general', query: 'q' };
    expect(normaliseArguments('web_search', a)).toEqual(normaliseArguments('web_search', b));
    expect(JSON.stringify(normaliseArguments('web_search', a))).toBe('{"include_domains":["a.com","b.com"],"query":"q","topic":"general"}');
  });

  test('what changes the answer changes the key', async () => {
    const base = await cacheKey('web_search', { query: 'q', max_results: 5 }, 'shared', caller);
    expect(await cacheKey('web_search', { max_results: 5, query: 'q' }, 'shared', caller)).toBe(base);
    expect(await cacheKey('web_search', { query: 'q', max_results: 6 }, 'shared', caller)).not.toBe(base);
    expect(await cacheKey('web_search', { query: 'Q', max_results: 5 }, 'shared', caller)).not.toBe(base);
    expect(await cacheKey('web_extract', { query: 'q', max_results: 5 }, 'shared', caller)).not.toBe(base);
    // Extract keeps URL order (the results follow it); crawl patterns are regexes, so their case is kept.
    expect(normaliseArguments('web_extract', { urls: ['https://b', 'https://a', 'https://b'] })).toEqual({ urls: ['https://b', 'https://a'] });
    expect(normaliseArguments('web_crawl', { url: 'x', select_paths: ['/B', '/a'] })).toEqual({ select_paths: ['/B', '/a'].sort(), url: 'x' });
    expect(normaliseArguments('web_crawl', { url: 'x', exclude_domains: ['^A\\.com$'] })).toEqual({ exclude_domains: ['^A\\.com$'], url: 'x' });
  });

  test('scope caller keys by user and client; shared does not', async () => {
    const args = { query: 'q' };
    const shared = await cacheKey('web_search', args, 'shared', caller);
    expect(await cacheKey('web_search', args, 'shared', { sub: 'usr_2', clientId: 'client-b' })).toBe(shared);
    const mine = await cacheKey('web_search', args, 'caller', caller);
    expect(mine).not.toBe(shared);
    expect(await cacheKey('web_search', args, 'caller', { sub: 'usr_2', clientId: 'client-a' })).not.toBe(mine);
    expect(mine).not.toContain('usr_1');
  });

  test('entries round-trip compressed; foreign bytes are not an entry; news gets the shorter lifetime', async () => {
    const entry = { text: 'hello '.repeat(1000), structured: { query: 'q', results: [] } };
    const packed = await packResult(entry);
    expect(packed!.byteLength).toBeLessThan(JSON.stringify(entry).length / 10);
    expect(await unpackResult(packed!)).toEqual(entry);
    expect(await unpackResult(new TextEncoder().encode('not gzip'))).toBeUndefined();
    expect(await packResult(entry, 10)).toBeUndefined();
    const ttl = { seconds: 600, newsSeconds: 60 };
    expect(cacheLifetimeSeconds('web_search', { topic: 'news' }, ttl)).toBe(60);
    expect(cacheLifetimeSeconds('web_search', { topic: 'general' }, ttl)).toBe(600);
    expect(cacheLifetimeSeconds('web_search', { topic: 'news' }, { seconds: 30, newsSeconds: 60 })).toBe(30);
    expect(cacheLifetimeSeconds('web_map', {}, { seconds: 0, newsSeconds: 60 })).toBe(0);
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
