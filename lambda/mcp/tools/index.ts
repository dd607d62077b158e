/**
 * The tools this server offers, in the order tools/list shows them. A tool is
 * one module (see tool.ts); adding one is its file and one line below, then
 * `npm run generate`, which writes the listings and default scopes the MCP
 * function reads without loading any tool.
 *
 * The MCP function lists tools from that generated catalog and loads a tool's
 * module on its first call: in the bundle, esbuild turns each import() here into
 * a module run on first use, so a cold start builds no tool's zod schemas.
 */
import { toolCatalog } from './catalog.generated.js';
import { toolList, toolRegistry } from './registry.js';
import { TOOL_DEFAULT_SCOPES } from './tool-scopes.generated.js';

export const toolModules = toolList({
  web_search: () => import('./web-search.js'),
  web_extract: () => import('./web-extract.js'),
  web_crawl: () => import('./web-crawl.js'),
  web_map: () => import('./web-map.js'),
  web_research: () => import('./web-research.js'),
  web_research_result: () => import('./web-research-result.js'),
});

/** The registry the MCP function serves. */
export const toolEntries = toolRegistry(toolModules, { listings: toolCatalog, defaultScopes: TOOL_DEFAULT_SCOPES });
