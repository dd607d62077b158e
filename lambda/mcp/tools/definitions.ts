/**
 * The four tools' full definitions (zod schemas, run, render), in the order
 * tools/list shows them. The MCP function does not import this module: it lists
 * tools from the generated catalog and loads a tool's definition on its first
 * call (tools/index.ts). The catalog generator and the tests import it.
 */
import type { ToolDefinition } from './tool.js';
import { webCrawl } from './web-crawl.js';
import { webExtract } from './web-extract.js';
import { webMap } from './web-map.js';
import { webSearch } from './web-search.js';

export const toolDefinitions: readonly ToolDefinition[] = [webSearch, webExtract, webCrawl, webMap] as unknown as readonly ToolDefinition[];
