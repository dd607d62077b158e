/** The toolset as tools/list shows it: order, titles, and a description on every parameter. */
import { readFileSync } from 'node:fs';
import { toolCatalogSource, CATALOG_PATH } from '../../../scripts/generate-tool-catalog.js';
import { toolDefinitions as tools } from '../../../lambda/mcp/tools/definitions.js';
import { toolEntries } from '../../../lambda/mcp/tools/index.js';
import { jsonSchemaOf } from '../../../lambda/mcp/tools/tool.js';
import { TOOL_NAMES } from '../../../lambda/shared/settings.js';

test('the four tools, in order', () => {
  expect(tools.map((tool) => tool.name)).toEqual(['web_search', 'web_extract', 'web_crawl', 'web_map']);
});

test.each(tools.map((tool) => [tool.name, tool] as const))('%s has a title, a description and described parameters', (_name, tool) => {
  expect(tool.title).toMatch(/^Web /);
  expect(tool.description.length).toBeGreaterThan(50);
  expect(tool.timeoutAdvice).not.toBe('');
  const input = jsonSchemaOf(tool.input, 'input') as unknown as { properties: Record<string, { description?: string }>; required?: string[] };
  for (const [name, property] of Object.entries(input.properties)) {
    expect([name, typeof property.description]).toEqual([name, 'string']);
  }
  // Only what has no default is required of the caller.
  expect(input.required).toEqual([{ web_search: 'query', web_extract: 'urls', web_crawl: 'url', web_map: 'url' }[tool.name]]);
  expect(() => jsonSchemaOf(tool.output, 'output')).not.toThrow();
});

test('the generated catalog is up to date with the tools\' zod schemas (else: npm run generate)', () => {
  expect(readFileSync(CATALOG_PATH, 'utf8')).toBe(toolCatalogSource());
});

test('the catalog, the loaders and the settings name the same tools', async () => {
  expect(toolEntries.map((entry) => entry.listing.name)).toEqual([...TOOL_NAMES]);
  for (const entry of toolEntries) expect((await entry.load()).name).toBe(entry.listing.name);
});
