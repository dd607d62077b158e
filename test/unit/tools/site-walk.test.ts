/** The site-walking parameters web_crawl and web_map share, and the timeout derived from a deadline. */
import { SITE_WALK_TIMEOUT_RANGE } from '../../../lambda/mcp/tools/site-walk.js';
import { TAVILY_TIMEOUT_MARGIN_MS, tavilyTimeoutSeconds } from '../../../lambda/mcp/tools/tavily-request.js';
import webCrawl from '../../../lambda/mcp/tools/web-crawl.js';
import webMap from '../../../lambda/mcp/tools/web-map.js';
import { issuesOf } from './harness.js';

describe.each([webCrawl, webMap])('$name input validation', (tool) => {
  const check = (raw: Record<string, unknown>) => issuesOf(tool.input.safeParse(raw));
  const url = 'https://docs.example.com';
  const patterns = (count: number) => Array.from({ length: count }, (_, i) => `/p${i}/.*`);

  test.each([
    ['no url', {}, /^url: /],
    ['an ftp url', { url: 'ftp://docs.example.com' }, /^url: Use an http\(s\) URL such as/],
    ['a url with a space in the host', { url: 'docs example.com' }, /^url: Use an http\(s\) URL/],
    ['max_depth 0', { url, max_depth: 0 }, /^max_depth: .*>=1/],
    ['max_depth 6', { url, max_depth: 6 }, /^max_depth: .*<=5/],
    ['max_breadth 0', { url, max_breadth: 0 }, /^max_breadth: .*>=1/],
    ['max_breadth 501', { url, max_breadth: 501 }, /^max_breadth: .*<=500/],
    ['limit 0', { url, limit: 0 }, /^limit: .*>=1/],
    ['limit 501', { url, limit: 501 }, /^limit: .*<=500/],
    ['a fractional limit', { url, limit: 1.5 }, /^limit: .*expected int/],
    ['an invalid path pattern', { url, select_paths: ['/docs/(.*'] }, /^select_paths\.0: Not a valid regular expression \(Invalid regular expression: .*\)$/],
    ['an invalid domain pattern', { url, exclude_domains: ['['] }, /^exclude_domains\.0: Not a valid regular expression/],
    ['21 path patterns', { url, exclude_paths: patterns(21) }, /^exclude_paths: At most 20 patterns$/],
    ['an empty pattern', { url, select_domains: [''] }, /^select_domains\.0: /],
    ['empty instructions', { url, instructions: '  ' }, /^instructions: /],
  ])('%s is refused', (_case, raw, message) => {
    expect(check(raw).some((issue) => message.test(issue))).toBe(true);
  });

  test('bounds, bare domains and valid patterns are accepted', () => {
    for (const accepted of [
      { url: 'docs.example.com', max_depth: 5, max_breadth: 500, limit: 500 },
      { url: 'http://docs.example.com/guide?x=1', max_depth: 1, max_breadth: 1, limit: 1 },
      { url, select_paths: patterns(20), select_domains: ['^docs\\.example\\.com$'], exclude_domains: ['^(www|blog)\\.'] },
    ]) {
      expect(tool.input.safeParse(accepted).error?.issues).toBeUndefined();
    }
  });
});

describe('tavilyTimeoutSeconds', () => {
  const now = 1_000_000;
  test('the time left less the margin, in whole seconds', () => {
    expect(tavilyTimeoutSeconds(now + 27_500, SITE_WALK_TIMEOUT_RANGE, now)).toBe(Math.floor((27_500 - TAVILY_TIMEOUT_MARGIN_MS) / 1000));
    expect(tavilyTimeoutSeconds(now + 60_999 + TAVILY_TIMEOUT_MARGIN_MS, SITE_WALK_TIMEOUT_RANGE, now)).toBe(60);
  });
  test("clamped to Tavily's documented range", () => {
    expect(tavilyTimeoutSeconds(now + 15 * 60_000, SITE_WALK_TIMEOUT_RANGE, now)).toBe(150);
    expect(tavilyTimeoutSeconds(now + 2_000, SITE_WALK_TIMEOUT_RANGE, now)).toBe(10);
    expect(tavilyTimeoutSeconds(now - 5_000, { min: 1, max: 60 }, now)).toBe(1);
  });
});
