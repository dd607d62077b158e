/** web_map against the loopback fake Tavily: the site-walking request, URLs only. */
import webMap from '../../../lambda/mcp/tools/web-map.js';
import { startToolHarness, type ToolHarness } from './harness.js';

let harness: ToolHarness;
beforeAll(async () => {
  harness = await startToolHarness();
});
afterAll(() => harness.fake.close());
beforeEach(() => harness.fake.reset());

const map = async (raw: Record<string, unknown>, remainingMs?: number) => {
  const result = await webMap.run(webMap.input.parse(raw), harness.context(remainingMs));
  return { result, text: webMap.render(result) };
};

describe('the request to Tavily', () => {
  test('POST /map with the key as Bearer, the defaults, and the longest timeout when time is plentiful', async () => {
    await map({ url: 'https://docs.example.com' });
    const request = harness.onlyRequest();
    expect(request.endpoint).toBe('map');
    expect(request.method).toBe('POST');
    expect(request.headers.authorization).toBe(`Bearer ${harness.fake.apiKey}`);
    expect(request.body).toEqual({
      url: 'https://docs.example.com',
      max_depth: 1,
      max_breadth: 20,
      limit: 50,
      allow_external: false,
      timeout: 150,
    });
  });

  test('every site-walking option is passed on; extraction options are not part of a map', async () => {
    await map({
      url: 'https://docs.example.com/guide',
      max_depth: 5,
      max_breadth: 500,
      limit: 500,
      instructions: 'tutorials',
      select_paths: ['/guide/.*'],
      select_domains: ['^docs\\.example\\.com$'],
      exclude_paths: ['/guide/old/.*'],
      exclude_domains: ['^blog\\.'],
      allow_external: true,
      extract_depth: 'advanced',
      format: 'text',
    });
    expect(harness.onlyRequest().body).toEqual({
      url: 'https://docs.example.com/guide',
      max_depth: 5,
      max_breadth: 500,
      limit: 500,
      instructions: 'tutorials',
      select_paths: ['/guide/.*'],
      select_domains: ['^docs\\.example\\.com$'],
      exclude_paths: ['/guide/old/.*'],
      exclude_domains: ['^blog\\.'],
      allow_external: true,
      timeout: 150,
    });
  });

  test("Tavily's timeout is derived from the deadline", async () => {
    await map({ url: 'https://docs.example.com' }, 30_000);
    const { timeout } = harness.onlyRequest().body as { timeout: number };
    expect(timeout).toBeGreaterThanOrEqual(10);
    expect(timeout).toBeLessThanOrEqual(27);
  });
});

describe('the result', () => {
  test('URLs are mapped into structured content that satisfies the output schema, and rendered as a list', async () => {
    const { result, text } = await map({ url: 'https://docs.example.com', limit: 3 });
    expect(webMap.output.parse(result)).toEqual(result);
    expect(result).toEqual({
      base_url: 'https://docs.example.com',
      urls: ['https://docs.example.com/section-1', 'https://docs.example.com/section-2', 'https://docs.example.com/section-3'],
      response_time: 0.8,
    });
    expect(text).toBe(
      [
        '## Web map: https://docs.example.com (3 URLs)',
        '',
        '- https://docs.example.com/section-1',
        '- https://docs.example.com/section-2',
        '- https://docs.example.com/section-3',
      ].join('\n'),
    );
  });

  test('an empty map says what to try; a missing base_url falls back to the one asked for', async () => {
    harness.fake.enqueue('map', { kind: 'json', body: { results: [], response_time: 0.2 } });
    const { result, text } = await map({ url: 'docs.example.com' });
    expect(result).toEqual({ base_url: 'docs.example.com', urls: [], response_time: 0.2 });
    expect(text).toContain('(0 URLs)');
    expect(text).toContain('No URLs found.');
  });

  test.each([
    ['pages instead of URLs', { base_url: 'x', results: [{ url: 'https://docs.example.com/a' }] }],
    ['no results list', { base_url: 'x', urls: ['https://docs.example.com/a'] }],
    ['a number', 42],
  ])('garbage from Tavily (%s) is a bad_response', async (_case, body) => {
    harness.fake.enqueue('map', { kind: 'json', body });
    await expect(map({ url: 'https://docs.example.com' })).rejects.toMatchObject({ name: 'TavilyError', kind: 'bad_response' });
  });

  test('the timeout advice narrows the map', () => {
    expect(webMap.timeoutAdvice).toContain('limit/max_depth');
  });
});
