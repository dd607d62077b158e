/**
 * The code under test: the exact bundles `cdk synth` uploads, found in the cloud
 * assembly of an in-process synth with the settings of .env.example (as bin/app.ts
 * builds the stack), each with the environment the stack gives it; and the
 * baseline, bundled with the same esbuild options. Both go to a work folder
 * outside the project, as an asset folder is: no package.json above them, so
 * index.js is CommonJS, as on Lambda.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import { App, type CfnElement } from 'aws-cdk-lib';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import { build, type BuildOptions } from 'esbuild';
import { esbuildOptions } from '../lib/bundling.js';
import { parseDeploySettings } from '../lib/config.js';
import type { FunctionName } from '../lambda/shared/routes.js';
import { WebSearchMcpStack } from '../lib/web-search-mcp-stack.js';

export interface Bundle {
  /** The index.js Lambda loads. */
  readonly path: string;
  /** Every .js file of the asset directory (the entry plus any file it loads lazily), .map files excluded. */
  readonly bytes: number;
  /** The .js files counted in `bytes`, by name. */
  readonly files: readonly string[];
  /** index.js alone: the file a cold start loads (the others are loaded on first need). */
  readonly entryBytes: number;
  /** The .map files of the asset directory. */
  readonly mapBytes: number;
}

export interface SynthesizedFunction extends Bundle {
  readonly name: FunctionName;
  readonly memoryMb: number;
  /** The environment variables of the template, deploy-time references filled in with stand-ins. */
  readonly environment: Readonly<Record<string, string>>;
}

/** Stand-ins for what only a deployment knows. */
export const STAND_INS = { apiId: 'bench0api', region: 'us-east-1', urlSuffix: 'amazonaws.com', usageTable: 'bench-usage' } as const;
export const API_HOST = `${STAND_INS.apiId}.execute-api.${STAND_INS.region}.${STAND_INS.urlSuffix}`;

function resolveValue(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(resolveValue).join(join[0]);
  const ref = (value as { Ref?: string }).Ref;
  if (ref === 'AWS::Region') return STAND_INS.region;
  if (ref === 'AWS::URLSuffix') return STAND_INS.urlSuffix;
  if (ref?.startsWith('Api')) return STAND_INS.apiId;
  if (ref?.startsWith('UsageTable')) return STAND_INS.usageTable;
  throw new Error(`bench: cannot resolve the template value ${JSON.stringify(value)}`);
}

/** A bundle's size: the sum of the .js files in its asset directory (entry + lazily loaded chunks), maps apart. */
function bundleAt(path: string): Bundle {
  const dir = dirname(path);
  const names = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => statSync(join(dir, name)).isFile());
  const size = (suffix: string) =>
    names.filter((name) => name.endsWith(suffix)).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  return { path, bytes: size('.js'), entryBytes: statSync(path).size, files: names.filter((name) => name.endsWith('.js')).sort(), mapBytes: size('.map') };
}

interface TemplateFunction {
  Type: string;
  Properties: { Code: { S3Key: unknown }; Environment?: { Variables?: Record<string, unknown> }; MemorySize: number; Handler: string };
  Metadata?: Record<string, string>;
}

/** Synthesize the stack, as `cdk synth` does, into a cloud assembly under `workDir`. */
export function synthesizeFunctions(workDir: string): Record<FunctionName, SynthesizedFunction> {
  const exampleEnvironment = parseEnv(readFileSync(fileURLToPath(new URL('../.env.example', import.meta.url)), 'utf8'));
  // As `cdk deploy` ships it: the result cache on (its table's name a stand-in), quotas off.
  const settings = parseDeploySettings(() => undefined, exampleEnvironment);
  const app = new App({ outdir: join(workDir, 'cdk.out') });
  const stack = new WebSearchMcpStack(app, 'WebSearchMcp', { settings });
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);

  // The assets manifest maps each asset hash (the S3 key the template names) to its directory.
  const assets = artifact.dependencies.find(AssetManifestArtifact.isAssetManifestArtifact)?.contents.files ?? {};
  const resources = artifact.template.Resources as Record<string, TemplateFunction>;
  const found: Partial<Record<FunctionName, SynthesizedFunction>> = {};
  for (const [name, fn] of Object.entries(stack.functions) as Array<[FunctionName, (typeof stack.functions)[FunctionName]]>) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const resource = resources[logicalId];
    if (resource?.Type !== 'AWS::Lambda::Function') throw new Error(`bench: no AWS::Lambda::Function ${logicalId} in the template`);
    const assetDir =
      resource.Metadata?.['aws:asset:path'] ?? assets[resolveValue(resource.Properties.Code.S3Key).replace(/\.zip$/, '')]?.source.path;
    if (!assetDir) throw new Error(`bench: no asset for ${logicalId}`);
    const [file, exported] = resource.Properties.Handler.split('.');
    if (file !== 'index' || exported !== 'handler') throw new Error(`bench: unexpected handler ${resource.Properties.Handler}`);
    const environment = Object.fromEntries(
      Object.entries(resource.Properties.Environment?.Variables ?? {}).map(([key, value]) => [key, resolveValue(value)]),
    );
    found[name] = { name, memoryMb: resource.Properties.MemorySize, environment, ...bundleAt(join(assembly.directory, assetDir, 'index.js')) };
  }
  return found as Record<FunctionName, SynthesizedFunction>;
}

/**
 * Options that substitute modules of the product's own choosing (say, Ajv for a
 * stub because our server brings its own validator): optimizations of our code,
 * which would break the baseline's defaults. Everything else applies to it.
 */
const PRODUCT_SUBSTITUTIONS = ['alias', 'inject', 'plugins'] as const;

export interface BaselineBundle extends Bundle {
  /** Which of the stack's esbuild options the baseline was built without (see PRODUCT_SUBSTITUTIONS). */
  readonly droppedOptions: readonly string[];
}

/**
 * A naive baseline (bench/baseline/<file>.ts), bundled with the stack's esbuild
 * options: target, format, minification, externals... but not the product's
 * module substitutions.
 */
export async function buildBaseline(workDir: string, file = 'index'): Promise<BaselineBundle> {
  const outfile = join(workDir, `baseline-${file}`, 'index.js');
  const options: BuildOptions = esbuildOptions(fileURLToPath(new URL(`./baseline/${file}.ts`, import.meta.url)), outfile);
  const droppedOptions = PRODUCT_SUBSTITUTIONS.filter((key) => options[key] !== undefined);
  for (const key of droppedOptions) delete options[key];
  await build(options);
  return { ...bundleAt(outfile), droppedOptions };
}

/** The mcp and authorizer bundles of an earlier commit: the "before" of a before/after. */
export type BaseRefBundles =
  | { readonly ref: string; readonly commit: string; readonly mcp: Bundle; readonly authorizer: Bundle; readonly how: string }
  | { readonly ref: string; readonly error: string };

/**
 * Check `ref` out into a temporary worktree (with this checkout's node_modules
 * linked in) and bundle its mcp and authorizer entry files with that tree's own
 * `esbuildOptions` (lib/bundling.ts), as its CDK stack would. Never throws: a ref
 * that cannot be built comes back with the reason.
 */
export async function buildBaseRef(workDir: string, ref: string): Promise<BaseRefBundles> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const git = (...args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  const resolved = git('rev-parse', '--verify', `${ref}^{commit}`);
  if (resolved.status !== 0) return { ref, error: `git rev-parse ${ref}: ${resolved.stderr.trim()}` };
  const commit = resolved.stdout.trim();
  const tree = join(mkdtempSync(join(tmpdir(), 'bench-base-')), 'tree');
  const added = git('worktree', 'add', '--detach', tree, commit);
  if (added.status !== 0) return { ref, error: `git worktree add: ${added.stderr.trim()}` };
  try {
    symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'), 'dir');
    const bundling = (await import(pathToFileURL(join(tree, 'lib', 'bundling.ts')).href)) as {
      esbuildOptions?: (entry: string, outfile: string) => BuildOptions;
      bundleFunctionSync?: (functionName: string, entry: string, outdir: string) => string[];
    };
    if (typeof bundling.esbuildOptions !== 'function') return { ref, error: `${ref}: lib/bundling.ts has no esbuildOptions(entry, outfile)` };
    const one = async (name: 'mcp' | 'authorizer') => {
      const entry = join(tree, 'lambda', name, 'index.ts');
      if (!existsSync(entry)) throw new Error(`${ref}: no lambda/${name}/index.ts`);
      const outfile = join(workDir, `base-${name}`, 'index.js');
      // A tree that bundles files of their own beside index.js (loaded on first need) builds them as its stack does.
      if (typeof bundling.bundleFunctionSync === 'function') bundling.bundleFunctionSync(name, entry, dirname(outfile));
      else await build(bundling.esbuildOptions!(entry, outfile));
      return bundleAt(outfile);
    };
    return {
      ref,
      commit,
      mcp: await one('mcp'),
      authorizer: await one('authorizer'),
      how: `lambda/{mcp,authorizer}/index.ts of ${commit.slice(0, 7)} bundled as that tree's lib/bundling.ts bundles them`,
    };
  } catch (error) {
    return { ref, error: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  } finally {
    git('worktree', 'remove', '--force', tree);
    rmSync(dirname(tree), { recursive: true, force: true });
  }
}
