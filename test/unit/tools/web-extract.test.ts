/** web_extract against the loopback fake Tavily: per-URL failures are part of the result, not a failed call. */
import { TavilyError } from '../../../lambda/mcp/tavily.js';
import { toolFailureMessage } from '../../../lambda/mcp/tools/tool-errors.js';
import webExtract from '../../../lambda/mcp/tools/web-extract.js';
import { issuesOf, startToolHarness, type ToolHarness } from './harness.js';

let harness: ToolHarness;
beforeAll(async () => {
  harness = await startToolHarness();
});
afterAll(() => harness.fake.close());
beforeEach(() => harness.fake.reset());

const extract = async (raw: Record<string, unknown>, remainingMs?: number) => {
  const result = await webExtract.run(webExtract.input.parse(raw), harness.context(remainingMs));
  return { result, text: webExtract.render(result) };
};

const failureOf = (promise: Promise<unknown>) => promise.then(
  () => {
    throw new Error('expected the call to fail');
  },
  (error: unknown) => error,
);

describe('the request to Tavily', () => {
  test('POST /extract with the key as Bearer and the defaults, nothing unset', async () => {
    await extract({ urls: ['https://example.com/a', 'https://example.com/b'] });
    const request = harness.onlyRequest();
    expect(request.endpoint).toBe('extract');
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe(`Bearer ${harness.fake.apiKey}`);
    expect(request.body).toEqual({
      urls: ['https://example.com/a', 'https://example.com/b'],
      extract_depth: 'basic',
      format: 'markdown',
      include_images: false,
    });
  });

  test('every option is passed on; a URL given twice is asked for once', async () => {
    await extract({
      urls: ['https://example.com/a', 'https://example.com/a'],
      extract_depth: 'advanced',
      format: 'text',
      query: 'pricing',
      include_images: true,
    });
    expect(harness.onlyRequest().body).toEqual({
      urls: ['https://example.com/a'],
      extract_depth: 'advanced',
      format: 'text',
      query: 'pricing',
      include_images: true,
    });
  });

  test("a timeout is sent only when the deadline is shorter than Tavily's own default wait", async () => {
    // About 20 s left, less the margin: shorter than advanced's 30 s default, longer than basic's 10 s.
    await extract({ urls: ['https://example.com/a'], extract_depth: 'advanced' }, 20_000);
    const { timeout } = harness.onlyRequest().body as { timeout: number };
    expect(Number.isInteger(timeout)).toBe(true);
    expect(timeout).toBeGreaterThanOrEqual(10);
    expect(timeout).toBeLessThanOrEqual(17);
    harness.fake.reset();
    await extract({ urls: ['https://example.com/a'] }, 20_000);
    expect(harness.onlyRequest().body).not.toHaveProperty('timeout');
  });
});

describe('the result', () => {
  test('pages are mapped into structured content that satisfies the output schema, and rendered', async () => {
    const { result, text } = await extract({ urls: ['https://example.com/a'], include_images: true });
    expect(webExtract.output.parse(result)).toEqual(result);
    expect(result).toEqual({
      results: [
        {
          url: 'https://example.com/a',
          raw_content: '# https://example.com/a\n\nExtracted content of https://example.com/a.',
          images: [{ url: 'https://example.com/a/image.png' }],
        },
      ],
      failed_results: [],
      response_time: 0.31,
    });
    expect(text).toBe(
      [
        '## Web extract: 1 of 1 URL extracted',
        '',
        '### 1. [https://example.com/a](https://example.com/a)',
        '<page-content>',
        '# https://example.com/a',
        '',
        'Extracted content of https://example.com/a.',
        '</page-content>',
        'Images:',
        '- https://example.com/a/image.png',
        '',
      ].join('\n'),
    );
  });

  test('a page title, when Tavily sends one, becomes the link text', async () => {
    harness.fake.enqueue('extract', {
      kind: 'json',
      body: { results: [{ url: 'https://example.com/a', title: 'Pricing', raw_content: 'Pro: $10' }], failed_results: [], response_time: 0.2 },
    });
    const { result, text } = await extract({ urls: ['https://example.com/a'] });
    expect(result.results[0]).toEqual({ url: 'https://example.com/a', title: 'Pricing', raw_content: 'Pro: $10' });
    expect(text).toContain('### 1. [Pricing](https://example.com/a)\n<page-content>\nPro: $10\n</page-content>');
  });

  test('URLs that fail are reported one by one, and the others still returned', async () => {
    const { result, text } = await extract({ urls: ['https://example.com/ok', 'https://example.com/fail'] });
    expect(webExtract.output.parse(result)).toEqual(result);
    expect(result.results.map((page) => page.url)).toEqual(['https://example.com/ok']);
    expect(result.failed_results).toEqual([{ url: 'https://example.com/fail', error: 'Failed to fetch url' }]);
    expect(text).toContain('## Web extract: 1 of 2 URLs extracted');
    expect(text).toContain('### Failed URLs\n- https://example.com/fail: Failed to fetch url');
  });

  test('when every URL fails, the call fails, listing each URL and why', async () => {
    const error = await failureOf(extract({ urls: ['https://example.com/fail-1', 'https://example.com/fail-2'] }));
    expect(error).toBeInstanceOf(TavilyError);
    expect(error).toMatchObject({ kind: 'bad_request' });
    const message = toolFailureMessage(error, webExtract);
    expect(message).toContain('- https://example.com/fail-1: Failed to fetch url\n- https://example.com/fail-2: Failed to fetch url');
    expect(message).toContain('try extract_depth "advanced"');
  });

  test('when Tavily returns nothing at all, every URL is listed as failed', async () => {
    harness.fake.enqueue('extract', { kind: 'json', body: { results: [], failed_results: [], response_time: 0.1 } });
    const error = await failureOf(extract({ urls: ['https://example.com/a'], extract_depth: 'advanced' }));
    const message = toolFailureMessage(error, webExtract);
    expect(message).toContain('- https://example.com/a: no content returned');
    expect(message).not.toContain('try extract_depth');
  });

  test.each([
    ['no results list', { failed_results: [] }],
    ['a page without a URL', { results: [{ raw_content: 'x' }] }],
    ['failures that are not objects', { results: [], failed_results: ['https://example.com/a'] }],
    ['a string', 'https://example.com/a'],
  ])('garbage from Tavily (%s) is a bad_response', async (_case, body) => {
    harness.fake.enqueue('extract', { kind: 'json', body });
    const error = await failureOf(extract({ urls: ['https://example.com/a'] }));
    expect(error).toBeInstanceOf(TavilyError);
    expect(error).toMatchObject({ kind: 'bad_response' });
  });
});

describe('input validation', () => {
  const check = (raw: Record<string, unknown>) => issuesOf(webExtract.input.safeParse(raw));
  const urls = (count: number) => Array.from({ length: count }, (_, i) => `https://example.com/${i}`);

  test.each([
    ['no URLs', { urls: [] }, /^urls: Give at least one URL$/],
    ['21 URLs', { urls: urls(21) }, /^urls: Tavily extracts at most 20 URLs per call: split them over several calls$/],
    ['a URL without a scheme', { urls: ['example.com/a'] }, /^urls\.0: Use a full http\(s\) URL/],
    ['an ftp URL', { urls: ['https://example.com/a', 'ftp://example.com/a'] }, /^urls\.1: Use a full http\(s\) URL/],
    ['a javascript: URL', { urls: ['javascript:alert(1)'] }, /^urls\.0: Use a full http\(s\) URL/],
    ['an unknown extract_depth', { urls: urls(1), extract_depth: 'deep' }, /^extract_depth: .*"basic"\|"advanced"/],
    ['an unknown format', { urls: urls(1), format: 'html' }, /^format: .*"markdown"\|"text"/],
    ['an empty query', { urls: urls(1), query: ' ' }, /^query: /],
  ])('%s is refused', (_case, raw, message) => {
    expect(check(raw).some((issue) => message.test(issue))).toBe(true);
  });

  test('20 URLs are accepted, with the defaults', () => {
    expect(webExtract.input.parse({ urls: urls(20) })).toEqual({
      urls: urls(20),
      extract_depth: 'basic',
      format: 'markdown',
      include_images: false,
    });
  });
});
