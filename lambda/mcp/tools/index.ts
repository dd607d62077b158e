/** The toolset, in the order tools/list shows it. */
import type { ToolDefinition } from './tool.js';
import { webCrawl } from './web-crawl.js';
import { webExtract } from './web-extract.js';
import { webMap } from './web-map.js';
import { webSearch } from './web-search.js';

export const tools: readonly ToolDefinition[] = [webSearch, webExtract, webCrawl, webMap] as unknown as readonly ToolDefinition[];
