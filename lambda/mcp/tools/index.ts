/**
 * The registry the MCP function serves: the tool modules (modules.ts, where a
 * tool is added) with their generated catalog.
 *
 * The MCP function lists tools from that generated catalog and loads a tool's
 * module on its first call: in the bundle, esbuild turns each import() in
 * modules.ts into a module run on first use, so a cold start builds no tool's zod schemas.
 */
import { toolCatalog } from './catalog.generated.js';
import { toolModules } from './modules.js';
import { toolRegistry } from './registry.js';
import { TOOL_DEFAULT_SCOPES } from './tool-scopes.generated.js';

export { toolModules } from './modules.js';

/** The registry the MCP function serves. */
export const toolEntries = toolRegistry(toolModules, { listings: toolCatalog, defaultScopes: TOOL_DEFAULT_SCOPES });
