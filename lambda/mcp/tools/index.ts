/** The toolset, in the order tools/list shows it. */
import type { ToolDefinition } from './tool.js';
import { webSearch } from './web-search.js';

export const tools: readonly ToolDefinition[] = [webSearch as unknown as ToolDefinition];
