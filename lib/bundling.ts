/**
 * How every function is bundled, in one place: the CDK stack hands these options
 * to `NodejsFunction` (esbuild, no Docker) and the local gateway and the benchmark
 * run esbuild with the same ones, so what runs locally is what Lambda runs.
 */
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

/** Lambda's runtime, and the esbuild target that matches it. */
export const LAMBDA_RUNTIME = 'nodejs22.x';
export const ESBUILD_TARGET = 'node22';

/**
 * The AWS SDK v3 ships in the Lambda runtime, and only the MCP function uses it
 * (SSM), lazily, on its first tool call. Measured (Node 22, this project's SSM
 * reader against a loopback SSM): from the runtime, +0 KB and +2 ms of import,
 * ~80-140 ms for the first key read; bundled, +465 KB and +20 ms of import on
 * every cold start (initialize and tools/list included), ~55 ms for the first
 * read. Every connecting client pays cold starts; only an instance's first tool
 * call, already waiting on Tavily, pays the slower read: the runtime's SDK wins.
 */
export const EXTERNAL_MODULES: readonly string[] = ['@aws-sdk/*', '@smithy/*', ...TRACING_MODULES()];

/**
 * Tracing is opt-in. Its code (the Powertools tracer and the X-Ray SDK under it)
 * is never bundled: with TRACING_ENABLED the stack attaches AWS's Powertools
 * layer, which provides it, and without it nothing loads it.
 */
function TRACING_MODULES() {
  return ['@aws-lambda-powertools/tracer', 'aws-xray-sdk-core'];
}

/** The Powertools version the bundles carry; the layer attached for tracing must be the same. */
export const POWERTOOLS_VERSION = '2.35.0';

/**
 * CommonJS output, not ESM: in an ESM bundle esbuild hoists every external
 * import to a static top-level `import`, so the AWS SDK (needed only by the
 * lazily loaded SSM reader) would load on every cold start. In CommonJS the
 * external stays a `require` inside the lazily initialised module. ESM-only
 * dependencies (jose) bundle into CommonJS without trouble.
 */
export const OUTPUT_FORMAT = 'cjs';

export const MAIN_FIELDS: readonly string[] = ['module', 'main'];

/**
 * Modules replaced at bundle time: the MCP SDK v2 picks its default JSON Schema
 * validator through its `_shims` entry, which on Node is Ajv (inlined in its
 * dist, so aliasing `ajv` itself would do nothing). lambda/mcp/sdk-shims.ts
 * gives the CfWorker validator instead.
 */
export const ALIASES: Readonly<Record<string, string>> = {
  '@modelcontextprotocol/server/_shims': fileURLToPath(new URL('../lambda/mcp/sdk-shims.ts', import.meta.url)),
};

/** esbuild options equal to what the stack's NodejsFunction bundling produces. */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: ESBUILD_TARGET,
    format: OUTPUT_FORMAT,
    minify: true,
    sourcemap: true,
    mainFields: [...MAIN_FIELDS],
    external: [...EXTERNAL_MODULES],
    alias: { ...ALIASES },
    logLevel: 'warning',
  };
}
