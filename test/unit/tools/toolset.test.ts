/** The toolset as tools/list shows it: order, titles, a description on every parameter, and the generated files in step. */
import { readFileSync } from 'node:fs';
import { generatedToolFiles } from '../../../scripts/generate-tool-catalog.js';
import { toolCatalog } from '../../../lambda/mcp/tools/catalog.generated.js';
import { toolEntries, toolModules } from '../../../lambda/mcp/tools/index.js';
import { loadTools, toolRegistry } from '../../../lambda/mcp/tools/registry.js';
import { TOOL_DEFAULT_SCOPES } from '../../../lambda/mcp/tools/tool-scopes.generated.js';
import { jsonSchemaOf, type AnyTool } from '../../../lambda/mcp/tools/tool.js';
import { TOOL_NAMES } from '../../../lambda/shared/settings.js';

let tools: AnyTool[];
beforeAll(async () => {
  tools = await loadTools(toolModules);
});

test('the six tools, in order', () => {
  expect(tools.map((tool) => tool.name)).toEqual(['web_search', 'web_extract', 'web_crawl', 'web_map', 'web_research', 'web_research_result']);
});

test.each(['web_search', 'web_extract', 'web_crawl', 'web_map', 'web_research', 'web_research_result'])('%s has a title, a description and described parameters', (name) => {
  const tool = tools.find((each) => each.name === name)!;
  expect(tool.title).toMatch(/^Web /);
  expect(tool.description.length).toBeGreaterThan(50);
  expect(tool.timeoutAdvice).not.toBe('');
  const input = jsonSchemaOf(tool.input, 'input') as unknown as { properties: Record<string, { description?: string }>; required?: string[] };
  for (const [parameter, property] of Object.entries(input.properties)) {
    expect([parameter, typeof property.description]).toEqual([parameter, 'string']);
  }
  // Only what has no default is required of the caller.
  expect(input.required).toEqual([
    { web_search: 'query', web_extract: 'urls', web_crawl: 'url', web_map: 'url', web_research: 'input', web_research_result: 'research_id' }[name],
  ]);
  expect(() => jsonSchemaOf(tool.output, 'output')).not.toThrow();
});

test("the generated catalog and default scopes are up to date with the tool modules (else: npm run generate)", async () => {
  const files = await generatedToolFiles();
  expect(Object.keys(files)).toHaveLength(2);
  for (const [path, source] of Object.entries(files)) expect([path, readFileSync(path, 'utf8')]).toEqual([path, source]);
});

test('the catalog, the modules and the settings name the same tools; every tool reads the web and needs the read scope', async () => {
  expect(toolEntries.map((entry) => entry.listing.name)).toEqual(Object.keys(toolModules));
  expect([...TOOL_NAMES]).toEqual(Object.keys(toolModules));
  for (const entry of toolEntries) {
    expect((await entry.load()).name).toBe(entry.listing.name);
    expect(entry.defaultScopes).toEqual(['web-search:read']);
    // Each web_research call starts (and pays for) a new research: the one tool that is not idempotent.
    const idempotentHint = entry.listing.name !== 'web_research';
    expect(entry.listing.annotations).toEqual({ title: entry.listing.title, readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint });
  }
});

test('web_research says in its title and description that it can take minutes, and what it costs; only it runs as a task', () => {
  const research = tools.find((tool) => tool.name === 'web_research')!;
  expect(research.title).toBe('Web research (can take minutes)');
  expect(research.description).toMatch(/1 to several minutes/);
  expect(research.description).toMatch(/up to 110 \(mini\) or 250 \(pro\) Tavily credits/);
  expect(tools.filter((tool) => tool.longRunning).map((tool) => tool.name)).toEqual(['web_research']);
});

test('a registry whose catalog does not match its modules is refused, naming the fix', () => {
  const { web_search, web_map } = toolModules;
  expect(() => toolRegistry({ web_search, web_map }, { listings: toolCatalog, defaultScopes: TOOL_DEFAULT_SCOPES })).toThrow(/npm run generate/);
});

test('a module listed under another name fails its first call', async () => {
  const [search] = toolCatalog;
  const registry = toolRegistry({ web_search: toolModules.web_map }, { listings: [search!], defaultScopes: {} });
  await expect(registry[0]!.load()).rejects.toThrow('The module listed as web_search defines web_map');
});
