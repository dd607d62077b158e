/**
 * The tools this server offers, in the order tools/list shows them. A tool is
 * one module (see tool.ts); adding one is its file and one line below, then
 * `npm run generate`, which writes the listings and default scopes the MCP
 * function reads without loading any tool.
 *
 * Kept apart from the registry (index.ts), which checks this list against the
 * generated catalog as it loads: the generator reads the list without that
 * check, so it runs whatever state the catalog is in, which is what it is for.
 */
import { toolList } from './registry.js';

export const toolModules = toolList({
  web_search: () => import('./web-search.js'),
  web_extract: () => import('./web-extract.js'),
  web_crawl: () => import('./web-crawl.js'),
  web_map: () => import('./web-map.js'),
  web_research: () => import('./web-research.js'),
  web_research_result: () => import('./web-research-result.js'),
});
