/** web_search against the loopback fake Tavily: the request sent, the result mapped, the text rendered. */
import { TavilyError } from '../../../lambda/mcp/tavily.js';
import { jsonSchemaOf } from '../../../lambda/mcp/tools/tool.js';
import webSearch from '../../../lambda/mcp/tools/web-search.js';
import { issuesOf, startToolHarness, type ToolHarness } from './harness.js';

let harness: ToolHarness;
beforeAll(async () => {
  harness = await startToolHarness();
});
afterAll(() => harness.fake.close());
beforeEach(() => harness.fake.reset());

const search = async (raw: Record<string, unknown>) => {
  const result = await webSearch.run(webSearch.input.parse(raw), harness.context());
  return { result, text: webSearch.render(result) };
};

describe('the request to Tavily', () => {
  test('a bare query: POST /search with the key as Bearer and the defaults, nothing unset', async () => {
    await search({ query: 'model context protocol' });
    const request = harness.onlyRequest();
    expect(request.endpoint).toBe('search');
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe(`Bearer ${harness.fake.apiKey}`);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toEqual({
      query: 'model context protocol',
      search_depth: 'basic',
      topic: 'general',
      max_results: 5,
      include_answer: false,
      include_raw_content: false,
      include_images: false,
      exact_match: false,
    });
  });

  test('every option is passed on as Tavily spells it', async () => {
    await search({
      query: '"John Smith" CEO',
      search_depth: 'advanced',
      start_date: '2025-01-01',
      end_date: '2025-06-30',
      max_results: 2,
      include_answer: 'advanced',
      include_raw_content: 'text',
      include_images: true,
      include_domains: ['example.com'],
      exclude_domains: ['spam.example'],
      country: 'United States',
      exact_match: true,
    });
    expect(harness.onlyRequest().body).toEqual({
      query: '"John Smith" CEO',
      search_depth: 'advanced',
      topic: 'general',
      start_date: '2025-01-01',
      end_date: '2025-06-30',
      max_results: 2,
      include_answer: 'advanced',
      include_raw_content: 'text',
      include_images: true,
      include_domains: ['example.com'],
      exclude_domains: ['spam.example'],
      country: 'united states',
      exact_match: true,
    });
  });

  test('time_range in its short form, news and finance topics; empty domain lists are not sent', async () => {
    await search({ query: 'election', topic: 'news', time_range: 'w', include_domains: [], exclude_domains: [] });
    expect(harness.onlyRequest().body).toMatchObject({ topic: 'news', time_range: 'w' });
    expect(harness.onlyRequest().body).not.toHaveProperty('include_domains');
    expect(harness.onlyRequest().body).not.toHaveProperty('exclude_domains');
    harness.fake.reset();
    await search({ query: 'rates', topic: 'finance', time_range: 'month' });
    expect(harness.onlyRequest().body).toMatchObject({ topic: 'finance', time_range: 'month' });
  });
});

describe('the result', () => {
  test('results are mapped into structured content that satisfies the output schema', async () => {
    const { result } = await search({ query: 'model context protocol', max_results: 2 });
    expect(webSearch.output.parse(result)).toEqual(result);
    expect(result).toEqual({
      query: 'model context protocol',
      results: [
        {
          title: 'Result 1 for model context protocol',
          url: 'https://example.com/model-context-protocol/1',
          content: 'Snippet 1 about model context protocol.',
          score: 0.9,
        },
        {
          title: 'Result 2 for model context protocol',
          url: 'https://example.com/model-context-protocol/2',
          content: 'Snippet 2 about model context protocol.',
          score: 0.85,
        },
      ],
      response_time: 0.42,
    });
  });

  test('the text is markdown with titles, URLs and snippets', async () => {
    const { text } = await search({ query: 'model context protocol', max_results: 2 });
    expect(text).toBe(
      [
        '## Web search: model context protocol',
        '',
        '1. [Result 1 for model context protocol](https://example.com/model-context-protocol/1)',
        '   Snippet 1 about model context protocol.',
        '2. [Result 2 for model context protocol](https://example.com/model-context-protocol/2)',
        '   Snippet 2 about model context protocol.',
      ].join('\n'),
    );
  });

  test('answer, published dates, page contents and images', async () => {
    const { result, text } = await search({
      query: 'storm',
      topic: 'news',
      max_results: 1,
      include_answer: true,
      include_raw_content: true,
      include_images: true,
    });
    expect(webSearch.output.parse(result)).toEqual(result);
    expect(result).toMatchObject({
      answer: 'A short answer about storm.',
      results: [{ published_date: 'Mon, 23 Nov 2026 10:00:00 GMT', raw_content: '# Page 1\n\nFull content about storm.' }],
      images: [{ url: 'https://images.example.com/storm.png' }],
    });
    expect(text).toContain('**Answer:** A short answer about storm.');
    expect(text).toContain('1. [Result 1 for storm](https://example.com/storm/1) (Mon, 23 Nov 2026 10:00:00 GMT)');
    expect(text).toContain('<page-content>\n# Page 1\n\nFull content about storm.\n</page-content>');
    expect(text).toContain('**Images:**\n- https://images.example.com/storm.png');
  });

  test('image descriptions, a response time sent as a string, and a title that would break the link', async () => {
    harness.fake.enqueue('search', {
      kind: 'json',
      body: {
        query: 'q',
        answer: null,
        images: [{ url: 'https://img.example/a.png', description: 'A chart' }],
        results: [{ title: 'See [this]', url: 'https://example.com/a', content: 'c', score: 0.5, raw_content: null }],
        response_time: '1.67',
      },
    });
    const { result, text } = await search({ query: 'q' });
    expect(result.images).toEqual([{ url: 'https://img.example/a.png', description: 'A chart' }]);
    expect(result.response_time).toBe(1.67);
    expect(text).toContain('1. [See \\[this\\]](https://example.com/a)');
    expect(text).toContain('- https://img.example/a.png — A chart');
  });

  test('no results: the text says what to try', async () => {
    harness.fake.enqueue('search', { kind: 'json', body: { query: 'q', results: [], images: [], response_time: 0.1 } });
    const { result, text } = await search({ query: 'q' });
    expect(result.results).toEqual([]);
    expect(text).toContain('No results.');
  });

  test.each([
    ['no results list', { query: 'q', images: [] }],
    ['results that are not objects', { query: 'q', results: ['https://example.com'] }],
    ['a result without a URL', { query: 'q', results: [{ title: 't', content: 'c' }] }],
    ['an array', []],
  ])('garbage from Tavily (%s) is a bad_response, not echoed', async (_case, body) => {
    harness.fake.enqueue('search', { kind: 'json', body });
    const error = await search({ query: 'q' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TavilyError);
    expect(error).toMatchObject({ kind: 'bad_response' });
    expect((error as Error).message).not.toContain('https://example.com');
  });
});

describe('input validation', () => {
  const check = (raw: Record<string, unknown>) => issuesOf(webSearch.input.safeParse(raw));

  test('defaults fill in what was not given', () => {
    expect(webSearch.input.parse({ query: 'q' })).toEqual({
      query: 'q',
      search_depth: 'basic',
      topic: 'general',
      max_results: 5,
      include_answer: false,
      include_raw_content: false,
      include_images: false,
      exact_match: false,
    });
  });

  test.each([
    ['an empty query', { query: '' }, /^query: /],
    ['a query over 400 characters', { query: 'x'.repeat(401) }, /^query: Tavily accepts at most 400 characters/],
    ['max_results 0', { query: 'q', max_results: 0 }, /^max_results: .*>=1/],
    ['max_results 21', { query: 'q', max_results: 21 }, /^max_results: .*<=20/],
    ['a fractional max_results', { query: 'q', max_results: 2.5 }, /^max_results: .*expected int/],
    ['an unknown search_depth', { query: 'q', search_depth: 'deep' }, /^search_depth: .*"basic"\|"advanced"\|"fast"\|"ultra-fast"/],
    ['an unknown topic', { query: 'q', topic: 'sports' }, /^topic: .*"general"\|"news"\|"finance"/],
    ['an unknown time_range', { query: 'q', time_range: 'decade' }, /^time_range: /],
    ['a date in another format', { query: 'q', start_date: '01/02/2025' }, /^start_date: Use the format YYYY-MM-DD$/],
    ['a date that does not exist', { query: 'q', end_date: '2025-02-30' }, /^end_date: Not a real calendar date$/],
    ['301 include_domains', { query: 'q', include_domains: Array.from({ length: 301 }, (_, i) => `d${i}.example`) }, /^include_domains: At most 300 domains$/],
    ['151 exclude_domains', { query: 'q', exclude_domains: Array.from({ length: 151 }, (_, i) => `d${i}.example`) }, /^exclude_domains: At most 150 domains$/],
    ['an ISO country code', { query: 'q', country: 'us' }, /^country: "us" is not a country Tavily knows: use its English name in lower case, e.g. "united states"/],
    ['a misspelt country', { query: 'q', country: 'germny' }, /did you mean "germany"\?$/],
    ['an unknown include_answer', { query: 'q', include_answer: 'detailed' }, /^include_answer: /],
  ])('%s is refused', (_case, raw, message) => {
    const issues = check(raw);
    expect(issues.some((issue) => message.test(issue))).toBe(true);
  });

  test('the bounds themselves are accepted', () => {
    expect(webSearch.input.safeParse({ query: 'x'.repeat(400), max_results: 20 }).success).toBe(true);
    expect(webSearch.input.safeParse({ query: 'q', max_results: 1, search_depth: 'ultra-fast', time_range: 'y' }).success).toBe(true);
    expect(webSearch.input.safeParse({ query: 'q', include_domains: Array.from({ length: 300 }, (_, i) => `d${i}.example`) }).success).toBe(true);
  });

  test('time_range together with dates is refused, saying why', () => {
    expect(check({ query: 'q', time_range: 'week', start_date: '2025-01-01' })).toEqual([
      'time_range: time_range cannot be combined with start_date/end_date: give either a period back from today or explicit dates',
    ]);
    expect(check({ query: 'q', time_range: 'd', end_date: '2025-01-01' })).toHaveLength(1);
  });

  test('country outside topic "general" is refused, saying how to fix it', () => {
    expect(check({ query: 'q', topic: 'news', country: 'germany' })).toEqual([
      'country: country only works with topic "general", not "news": remove country or set topic to "general"',
    ]);
  });

  test('dates in the wrong order are refused', () => {
    expect(check({ query: 'q', start_date: '2025-06-01', end_date: '2025-01-01' })).toEqual(['end_date: end_date is before start_date']);
  });

  test('the country list stays out of the JSON Schema (it would weigh on every tools/list)', () => {
    expect(JSON.stringify(jsonSchemaOf(webSearch.input, 'input'))).not.toContain('united arab emirates');
  });

  test('country names are accepted in any case and sent in lower case', () => {
    expect(webSearch.input.parse({ query: 'q', country: ' South Korea ' }).country).toBe('south korea');
  });
});
