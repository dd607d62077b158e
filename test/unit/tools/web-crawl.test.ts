/** web_crawl against the loopback fake Tavily, including the timeout it derives from the deadline. */
import { TavilyError } from '../../../lambda/mcp/tavily.js';
import { toolFailureMessage } from '../../../lambda/mcp/tools/tool-errors.js';
import webCrawl from '../../../lambda/mcp/tools/web-crawl.js';
import { startToolHarness, type ToolHarness } from './harness.js';

let harness: ToolHarness;
beforeAll(async () => {
  harness = await startToolHarness();
});
afterAll(() => harness.fake.close());
beforeEach(() => harness.fake.reset());

const crawl = async (raw: Record<string, unknown>, remainingMs?: number) => {
  const result = await webCrawl.run(webCrawl.input.parse(raw), harness.context(remainingMs));
  return { result, text: webCrawl.render(result) };
};

describe('the request to Tavily', () => {
  test('POST /crawl with the key as Bearer, the defaults, and the longest timeout when time is plentiful', async () => {
    await crawl({ url: 'https://docs.example.com' });
    const request = harness.onlyRequest();
    expect(request.endpoint).toBe('crawl');
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe(`Bearer ${harness.fake.apiKey}`);
    expect(request.body).toEqual({
      url: 'https://docs.example.com',
      max_depth: 1,
      max_breadth: 20,
      limit: 10,
      allow_external: false,
      extract_depth: 'basic',
      format: 'markdown',
      timeout: 150,
    });
  });

  test('every option is passed on as Tavily spells it; empty pattern lists are not sent', async () => {
    await crawl({
      url: 'docs.example.com',
      max_depth: 3,
      max_breadth: 50,
      limit: 120,
      instructions: 'only the API reference',
      select_paths: ['/api/.*'],
      select_domains: ['^docs\\.example\\.com$'],
      exclude_paths: ['/api/v1/.*'],
      exclude_domains: [],
      allow_external: true,
      extract_depth: 'advanced',
      format: 'text',
    });
    expect(harness.onlyRequest().body).toEqual({
      url: 'docs.example.com',
      max_depth: 3,
      max_breadth: 50,
      limit: 120,
      instructions: 'only the API reference',
      select_paths: ['/api/.*'],
      select_domains: ['^docs\\.example\\.com$'],
      exclude_paths: ['/api/v1/.*'],
      allow_external: true,
      extract_depth: 'advanced',
      format: 'text',
      timeout: 150,
    });
  });

  test("Tavily's timeout is derived from the deadline, leaving a margin, so Tavily stops first", async () => {
    await crawl({ url: 'https://docs.example.com' }, 30_000);
    const { timeout } = harness.onlyRequest().body as { timeout: number };
    expect(Number.isInteger(timeout)).toBe(true);
    expect(timeout).toBeGreaterThanOrEqual(10);
    expect(timeout).toBeLessThanOrEqual(27);
  });

  test("with little time left, Tavily's minimum timeout is sent", async () => {
    await crawl({ url: 'https://docs.example.com' }, 5_000);
    expect(harness.onlyRequest().body).toMatchObject({ timeout: 10 });
  });
});

describe('the result', () => {
  test('pages are mapped into structured content that satisfies the output schema, and rendered', async () => {
    const { result, text } = await crawl({ url: 'https://docs.example.com', limit: 2 });
    expect(webCrawl.output.parse(result)).toEqual(result);
    expect(result).toEqual({
      base_url: 'https://docs.example.com',
      results: [
        { url: 'https://docs.example.com/page-1', raw_content: '# Page 1\n\nCrawled content 1 of https://docs.example.com.' },
        { url: 'https://docs.example.com/page-2', raw_content: '# Page 2\n\nCrawled content 2 of https://docs.example.com.' },
      ],
      response_time: 1.2,
    });
    expect(text).toBe(
      [
        '## Web crawl: https://docs.example.com (2 pages)',
        '',
        '### 1. [https://docs.example.com/page-1](https://docs.example.com/page-1)',
        '<page-content>',
        '# Page 1',
        '',
        'Crawled content 1 of https://docs.example.com.',
        '</page-content>',
        '',
        '### 2. [https://docs.example.com/page-2](https://docs.example.com/page-2)',
        '<page-content>',
        '# Page 2',
        '',
        'Crawled content 2 of https://docs.example.com.',
        '</page-content>',
        '',
      ].join('\n'),
    );
  });

  test('a page without content and an empty crawl are said so', async () => {
    harness.fake.enqueue(
      'crawl',
      { kind: 'json', body: { base_url: 'docs.example.com', results: [{ url: 'https://docs.example.com/x', raw_content: null }], response_time: '0.5' } },
      { kind: 'json', body: { base_url: 'docs.example.com', results: [], response_time: 0.5 } },
    );
    const first = await crawl({ url: 'docs.example.com' });
    expect(first.result).toEqual({ base_url: 'docs.example.com', results: [{ url: 'https://docs.example.com/x', raw_content: '' }], response_time: 0.5 });
    expect(first.text).toContain('### 1. [https://docs.example.com/x](https://docs.example.com/x)\n_(no content)_');
    const second = await crawl({ url: 'docs.example.com' });
    expect(second.text).toContain('(0 pages)');
    expect(second.text).toContain('No pages found.');
  });

  test('a timeout tells the agent to narrow the crawl with limit/max_depth', () => {
    expect(webCrawl.timeoutAdvice).toContain('narrow the crawl with limit/max_depth');
    expect(toolFailureMessage(new TavilyError('timeout', 'Tavily did not answer in time'), webCrawl)).toContain(
      'Try again and narrow the crawl with limit/max_depth',
    );
  });

  test.each([
    ['pages that are URLs only', { base_url: 'x', results: ['https://docs.example.com/a'] }],
    ['no results list', { base_url: 'x', pages: [] }],
    ['null', null],
  ])('garbage from Tavily (%s) is a bad_response', async (_case, body) => {
    harness.fake.enqueue('crawl', { kind: 'json', body });
    await expect(crawl({ url: 'https://docs.example.com' })).rejects.toMatchObject({ name: 'TavilyError', kind: 'bad_response' });
  });
});
