/**
 * The toolset as the MCP function sees it: each tool's listing, from the
 * catalog generated at build time, and a loader for its definition. A cold
 * start answers initialize and tools/list without building any tool's zod
 * schemas or converting them to JSON Schema; a tool's module is loaded on its
 * first call (in the bundle, esbuild turns each import() into a lazily run module).
 */
import { toolCatalog } from './catalog.generated.js';
import type { ToolDefinition, ToolListing } from './tool.js';

export interface ToolEntry {
  readonly listing: ToolListing;
  load(): Promise<ToolDefinition>;
}

const loaders: Readonly<Record<string, () => Promise<ToolDefinition>>> = {
  web_search: () => import('./web-search.js').then((module) => module.webSearch as unknown as ToolDefinition),
  web_extract: () => import('./web-extract.js').then((module) => module.webExtract as unknown as ToolDefinition),
  web_crawl: () => import('./web-crawl.js').then((module) => module.webCrawl as unknown as ToolDefinition),
  web_map: () => import('./web-map.js').then((module) => module.webMap as unknown as ToolDefinition),
};

export const toolEntries: readonly ToolEntry[] = toolCatalog.map((listing) => {
  const load = loaders[listing.name];
  if (!load) throw new Error(`No loader for the catalog's tool ${listing.name}: regenerate the catalog (npm run generate)`);
  let loaded: Promise<ToolDefinition> | undefined;
  return { listing, load: () => (loaded ??= load()) };
});
