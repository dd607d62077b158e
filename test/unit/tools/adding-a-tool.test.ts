/**
 * Adding a tool is one file and one line. The file is fixtures/web-headlines.ts;
 * the line adds it to a list of tool modules, from which a registry is built as
 * the MCP function builds its own (its catalog computed here, as `npm run
 * generate` would write it). Served through the real MCP endpoint, the real usage
 * guard and the loopback fake Tavily, the new tool is listed, scoped, credited
 * and cached by what its module declares, and nothing else was touched.
 */
import { createAdmission } from '../../../lambda/mcp/admission.js';
import { createMcpEndpoint } from '../../../lambda/mcp/mcp-endpoint.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../../../lambda/mcp/protocol-answers.generated.js';
import { createUsageGuard } from '../../../lambda/mcp/quota/usage-guard.js';
import { usageItemKey } from '../../../lambda/mcp/quota/usage-table.js';
import { createMcpServerFactory } from '../../../lambda/mcp/server.js';
import { createToolCaller } from '../../../lambda/mcp/tool-call.js';
import { createTavilyClient } from '../../../lambda/mcp/tavily.js';
import { toolModules } from '../../../lambda/mcp/tools/index.js';
import { loadTools, toolList, toolRegistry } from '../../../lambda/mcp/tools/registry.js';
import { catalogOf, listingOf } from '../../../lambda/mcp/tools/tool.js';
import { createOriginPolicy } from '../../../lambda/shared/cors.js';
import { defaultToolScopes } from '../../../lambda/shared/settings.js';
import { startFakeTavily, type FakeTavily } from '../../fixtures/fake-tavily.js';
import { CLIENT_HEADERS, mcpEvent } from '../mcp/mcp-event.js';
import { memoryUsageStore, type MemoryUsageStore } from '../quota/memory-usage-store.js';
import webHeadlines, { HEADLINES_CREDITS, HEADLINES_LIFETIME_SECONDS, HEADLINES_SCOPE } from './fixtures/web-headlines.js';

const modules = toolList({
  ...toolModules,
  web_headlines: () => import('./fixtures/web-headlines.js'),
});

let tavily: FakeTavily;
let store: MemoryUsageStore;
let serve: ReturnType<typeof createMcpEndpoint>;
const NOW = Date.parse('2026-12-02T12:00:10Z');

beforeAll(async () => {
  tavily = await startFakeTavily();
  store = memoryUsageStore();
  const registry = toolRegistry(modules, catalogOf(await loadTools(modules)));
  const newServer = createMcpServerFactory({
    toolCaller: createToolCaller({
      tools: registry,
      toolScopes: defaultToolScopes(),
      tavily: createTavilyClient({ baseUrl: tavily.url, apiKey: async () => tavily.apiKey }),
      aroundToolCall: createUsageGuard({
        store,
        limits: { callsPerMinute: 0, creditsPerDay: 100, creditsPerDayTotal: 0, overrides: [{ kind: 'client', id: 'client-a' }], onStoreError: 'deny' },
        cache: { ttlSeconds: 600, newsTtlSeconds: 600, scope: 'shared' },
        now: () => NOW,
      }),
    }),
  });
  serve = createMcpEndpoint({ newServer, supportedVersions: SUPPORTED_PROTOCOL_VERSIONS });
});
afterAll(() => tavily.close());

const READ = 'web-search:read';
const admit = createAdmission({ originPolicy: createOriginPolicy([]) });

async function rpc(method: string, params: object, scopes: readonly string[]) {
  const admission = admit(
    mcpEvent({
      body: { jsonrpc: '2.0', id: 1, method, params },
      headers: [...CLIENT_HEADERS, ['Authorization', 'Bearer token']],
      caller: { sub: 'usr_1', clientId: 'client-a', scopes: [...scopes], tokenId: 't' },
    }),
  );
  if (!admission.admitted) throw new Error(`refused: ${admission.refusal.body}`);
  const response = await serve(admission.request, { requestId: 'req-1', remainingTimeMs: () => 20_000 });
  expect(response.status).toBe(200);
  return (await response.json()).result;
}

const headlines = (scopes: readonly string[]) => rpc('tools/call', { name: 'web_headlines', arguments: { subject: 'lunar landing' } }, scopes);

test('listed: tools/list shows it after the others, as its module describes it', async () => {
  const { tools } = await rpc('tools/list', {}, [READ, HEADLINES_SCOPE]);
  expect(tools.map((tool: { name: string }) => tool.name)).toEqual([...Object.keys(toolModules), 'web_headlines']);
  expect(tools.at(-1)).toEqual(listingOf(webHeadlines));
  expect(tools.at(-1).annotations).toMatchObject({ title: 'Web headlines', readOnlyHint: true });
});

test('scoped: a token without the scope its module declares neither sees it nor calls it, and Tavily is not asked', async () => {
  const { tools } = await rpc('tools/list', {}, [READ]);
  expect(tools.map((tool: { name: string }) => tool.name)).toEqual(Object.keys(toolModules));
  const refused = await headlines([READ]);
  expect(refused.isError).toBe(true);
  expect(refused.content[0].text).toContain(`needs the scope "${HEADLINES_SCOPE}"`);
  expect(tavily.requests).toHaveLength(0);
});

test('credited and cached: its credit rule is reserved and settled, its answer served again for its own lifetime', async () => {
  tavily.reset();
  const first = await headlines([READ, HEADLINES_SCOPE]);
  expect(first.isError).toBeUndefined();
  expect(first.structuredContent.headlines).toHaveLength(3);
  expect(tavily.requests.map((request) => request.body)).toEqual([
    { query: 'lunar landing', topic: 'news', max_results: 3, include_usage: true },
  ]);
  // The fake reports no usage, so the module's own price is what stays on each budget.
  const usageOf = async (kind: 'client' | 'sub' | 'total', id = '*') => store.items.get(await usageItemKey('2026-12-02', kind, id));
  expect(await usageOf('client', 'client-a')).toMatchObject({ credits: HEADLINES_CREDITS, calls: 1 });
  expect(await usageOf('sub', 'usr_1')).toMatchObject({ credits: HEADLINES_CREDITS, calls: 1 });
  // No total cap: the server's item is not written.
  expect(await usageOf('total')).toBeUndefined();

  const second = await headlines([READ, HEADLINES_SCOPE]);
  expect(second.structuredContent).toEqual({ ...first.structuredContent, cache: { hit: true } });
  expect(tavily.requests).toHaveLength(1);
  expect(await usageOf('client', 'client-a')).toMatchObject({ credits: HEADLINES_CREDITS, calls: 1 });
  const [entry] = [...store.cached.values()];
  expect(entry!.expiresAt).toBe(Math.floor(NOW / 1000) + HEADLINES_LIFETIME_SECONDS);
});
