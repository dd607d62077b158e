/**
 * Stands in for `ajv` and `ajv-formats` in the function bundles (an esbuild
 * alias, lib/bundling.ts). The MCP SDK's `Server` imports Ajv for its default
 * JSON Schema validator; this server gives it the lighter validator the SDK
 * also supports (CfWorker's), so Ajv's ~110 KB would only slow cold starts.
 * Should anything construct Ajv after all, it fails loudly rather than quietly.
 */
export default function ajvExcluded(): never {
  throw new Error('Ajv is not bundled with this function: pass a jsonSchemaValidator (see lambda/mcp/server.ts).');
}
