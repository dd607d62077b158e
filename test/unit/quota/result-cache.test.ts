/**
 * The result cache answers a call only with what Tavily answered to the very
 * same request: the key is made from the request a tool sends, so whatever
 * reaches Tavily is what the cache compares. Through the real usage guard, the
 * real tools and the loopback fake Tavily.
 */
import { createUsageGuard, type ToolCallResult } from '../../../lambda/mcp/quota/usage-guard.js';
import { toolModules } from '../../../lambda/mcp/tools/index.js';
import { loadTools } from '../../../lambda/mcp/tools/registry.js';
import { NEVER_CACHED, type AnyTool } from '../../../lambda/mcp/tools/tool.js';
import webCrawl from '../../../lambda/mcp/tools/web-crawl.js';
import webExtract from '../../../lambda/mcp/tools/web-extract.js';
import webMap from '../../../lambda/mcp/tools/web-map.js';
import webSearch from '../../../lambda/mcp/tools/web-search.js';
import { startToolHarness, type ToolHarness } from '../tools/harness.js';
import { memoryUsageStore } from './memory-usage-store.js';

let harness: ToolHarness;
beforeAll(async () => {
  harness = await startToolHarness();
});
afterAll(() => harness.fake.close());
beforeEach(() => harness.fake.reset());

const OFF = { callsPerMinute: 0, creditsPerDay: 0, creditsPerDayTotal: 0, overrides: [], onStoreError: 'deny' as const };
const CACHE = { ttlSeconds: 600, newsTtlSeconds: 60, scope: 'shared' as const };
const caller = { sub: 'usr_1', clientId: 'client-a' };

/** A guarded call of `tool`, as the MCP server makes it: validated arguments, the tool run with the client the guard gives. */
function guardedCall(tool: AnyTool, guard = createUsageGuard({ store: memoryUsageStore(), limits: OFF, cache: CACHE })) {
  return async (raw: Record<string, unknown>): Promise<ToolCallResult> => {
    const args = tool.input.parse(raw);
    const deadline = Date.now() + 10 * 60_000;
    return guard({ tool, args, caller, deadline, tavily: harness.tavily }, async (client) => {
      const result = await tool.run(args, { tavily: client, deadline, signal: new AbortController().signal });
      return { content: [{ type: 'text', text: tool.render(result) }], structuredContent: result as Record<string, unknown> };
    });
  };
}

test('web_map: a path pattern with a trailing space is another regex, never served from the cache for the one without', async () => {
  const map = guardedCall(webMap);
  const url = 'https://docs.example.com';
  await map({ url, select_paths: ['/docs/.* '] });
  const other = await map({ url, select_paths: ['/docs/.*'] });
  expect(other.structuredContent?.cache).toBeUndefined();
  expect(harness.fake.requests.map((request) => (request.body as { select_paths: unknown }).select_paths)).toEqual([['/docs/.* '], ['/docs/.*']]);
  // The same question again is a hit.
  expect((await map({ url, select_paths: ['/docs/.*'] })).structuredContent?.cache).toMatchObject({ hit: true });
  expect(harness.fake.requests).toHaveLength(2);
});

test('web_search: domain filters in another order and case are the same question, and Tavily is sent them as one set', async () => {
  const search = guardedCall(webSearch);
  await search({ query: 'q', include_domains: ['B.com', 'a.com'] });
  const same = await search({ query: 'q', include_domains: ['a.com', 'b.com', 'A.com'] });
  expect(same.structuredContent?.cache).toMatchObject({ hit: true });
  expect(harness.onlyRequest().body).toMatchObject({ include_domains: ['a.com', 'b.com'] });
});

/** Arguments with something each tool normalises (sets, repeats, spaces zod trims) and something it must not. */
const CASES: ReadonlyArray<readonly [AnyTool, Record<string, unknown>]> = [
  [webSearch, { query: ' q ', include_domains: ['B.com', 'a.com', 'b.com'], exclude_domains: [], country: 'Germany' }],
  [webExtract, { urls: ['https://b.example/', 'https://a.example/', 'https://b.example/'], query: 'pricing' }],
  [webCrawl, { url: ' docs.example.com ', select_paths: ['/b ', '/a', '/b '], exclude_domains: ['^X\\.'], instructions: ' api ' }],
  [webMap, { url: 'https://docs.example.com', select_domains: ['^docs\\.', '^api\\.'], exclude_paths: [] }],
];

test.each(CASES.map(([tool, raw]) => [tool.name, tool, raw] as const))('%s: what reaches Tavily is its request, plus only the per-call timeout', async (_name, tool, raw) => {
  const args = tool.input.parse(raw);
  await tool.run(args, harness.context());
  const { timeout: _timeout, ...sent } = harness.onlyRequest().body as Record<string, unknown>;
  expect(harness.onlyRequest().endpoint).toBe(tool.tavilyRequest(args).endpoint);
  expect(sent).toEqual(tool.tavilyRequest(args).body);
});

test('every tool whose answers may be cached is covered above (research is never cached)', async () => {
  const cached = (await loadTools(toolModules)).filter((tool) => tool.cache !== NEVER_CACHED);
  expect(cached.map((tool) => tool.name)).toEqual(CASES.map(([tool]) => tool.name));
});
