/**
 * How every function is bundled, in one place: the CDK stack bundles each function
 * with `bundleFunctionSync` (esbuild in this process, never Docker), and the local
 * gateway and the benchmark run esbuild with the same options, so what runs locally
 * is what Lambda runs.
 */
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { ConfigurationError } from '../lambda/shared/settings.js';

/**
 * Lambda's runtime, and the esbuild target that matches it. Chosen by
 * measurement (`npm run bench` runs the bundles on Node 24 beside 22): on 24
 * the MCP function's cold start above Node's boot was 30 ms against 21 ms and
 * the authorizer's 61 ms against 51 ms, so the functions stay on nodejs22.x
 * (maintained until April 2027) until a run says otherwise.
 */
export const LAMBDA_RUNTIME = 'nodejs22.x';
export const ESBUILD_TARGET = 'node22';

/**
 * What the bundles leave to the runtime: only the tracing modules. The AWS SDK
 * is not among them, nor bundled: no function uses it. DynamoDB and SSM are
 * called through lambda/shared/aws-json.ts (node:http, signed by aws4), since
 * loading and first using the SDK's clients, from the runtime or bundled, was
 * most of a cold instance's first search (its cost is module evaluation and
 * middleware, not reading files).
 */
export const EXTERNAL_MODULES: readonly string[] = [...TRACING_MODULES()];

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
 * import to a static top-level `import`, so the tracer (needed only when
 * tracing is on) would load on every cold start. In CommonJS the external stays
 * a `require` inside the lazily initialised module. ESM-only dependencies (the
 * MCP SDK v2) bundle into CommonJS without trouble.
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

/**
 * Files a function loads on first need, bundled on their own beside its
 * `index.js`: the import as the entry writes it (kept external in the entry's
 * bundle, so that it stays a `require` of the file beside it) and the source it
 * is built from. The MCP function's fast path (lambda/mcp/fast-path.ts) answers
 * the handshake and the listing without the SDK; the SDK path, more than 400 KB
 * of the SDK, zod and the tools, is read and compiled only when a request needs it.
 * Measured (Node 20, this machine, single file vs split): import 50 ms -> 24 ms
 * on every cold start; the first request that needs the SDK pays about 70 ms more
 * (reading and compiling the second file), next to a Tavily call of hundreds of ms.
 */
export const LAZY_FILES: Readonly<Partial<Record<string, readonly { readonly import: string; readonly entry: string }[]>>> = {
  mcp: [
    { import: './sdk-path.js', entry: fileURLToPath(new URL('../lambda/mcp/sdk-path.ts', import.meta.url)) },
    // What a tool call needs, without the SDK: loaded by the fast path's first tools/call and by the SDK path,
    // one file for both so that an instance holds one key cache and one usage guard.
    { import: './tool-runtime.js', entry: fileURLToPath(new URL('../lambda/mcp/tool-runtime.ts', import.meta.url)) },
  ],
};

/** The lazily loaded files `file` itself loads (the other lazy files of its function), left to their own files. */
function lazyImportsOf(functionName: string, file: { readonly import: string }): string[] {
  return lazyImports(functionName).filter((each) => each !== file.import);
}

/** The imports a function's entry bundle leaves to files of their own. */
export function lazyImports(functionName: string): string[] {
  return (LAZY_FILES[functionName] ?? []).map((file) => file.import);
}

/** The lazily loaded files of a function, bundled into `outdir` (beside its index.js), as the stack bundles them. */
export async function buildLazyFiles(functionName: string, outdir: string): Promise<string[]> {
  const { build } = await import('esbuild');
  const files = LAZY_FILES[functionName] ?? [];
  return Promise.all(
    files.map(async (file) => {
      const outfile = join(outdir, basename(file.import));
      await build(esbuildOptions(file.entry, outfile, lazyImportsOf(functionName, file)));
      return outfile;
    }),
  );
}

/** The esbuild options of every bundle (`external` adds a function's lazy imports). */
export function esbuildOptions(entry: string, outfile: string, external: readonly string[] = []): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: ESBUILD_TARGET,
    format: OUTPUT_FORMAT,
    minify: true,
    // Errors name themselves after their class (lambda/shared/errors.ts): minifying must not rename classes.
    keepNames: true,
    sourcemap: true,
    mainFields: [...MAIN_FIELDS],
    external: [...EXTERNAL_MODULES, ...external],
    // Every import() becomes a require() (still run only when reached): the tracer from AWS's
    // layer and the lazily loaded files are then found as CommonJS finds them, through NODE_PATH.
    // An ES import() of a runtime-provided package has been reported to fail once a layer with
    // nodejs/node_modules is attached, as tracing does.
    supported: { 'dynamic-import': false },
    alias: { ...ALIASES },
    logLevel: 'warning',
  };
}

type Esbuild = typeof import('esbuild');

/**
 * esbuild, loaded synchronously (CDK's local bundling is synchronous). It is a development
 * dependency: after `npm ci --omit=dev` it is missing, and the synth stops here with what to
 * do, rather than falling back to a Docker build that could not produce these bundles (it
 * would lack the aliases' and lazily loaded files' sources at their host paths).
 */
export function loadEsbuild(require: (id: string) => unknown = createRequire(import.meta.url)): Esbuild {
  try {
    return require('esbuild') as Esbuild;
  } catch {
    throw new ConfigurationError(
      [
        'esbuild: not installed, and the functions are bundled with it on this machine (never in Docker). ' +
          'Run `npm ci` with the development dependencies (not --omit=dev), then synthesize or deploy again.',
      ],
      'build environment',
    );
  }
}

/**
 * Bundle a function into `outdir` as Lambda runs it: its entry as `index.js`, and beside it
 * each file it loads lazily (LAZY_FILES), all with `esbuildOptions`.
 */
export function bundleFunctionSync(functionName: string, entry: string, outdir: string, esbuild: Esbuild = loadEsbuild()): string[] {
  const outfiles = [join(outdir, 'index.js')];
  esbuild.buildSync(esbuildOptions(entry, outfiles[0]!, lazyImports(functionName)));
  for (const file of LAZY_FILES[functionName] ?? []) {
    const outfile = join(outdir, basename(file.import));
    esbuild.buildSync(esbuildOptions(file.entry, outfile, lazyImportsOf(functionName, file)));
    outfiles.push(outfile);
  }
  return outfiles;
}
