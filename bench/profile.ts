/**
 * Where a cold start's time goes: `npx tsx bench/profile.ts [mcp authorizer ...]`
 * (any target name of `npm run bench`: `mcp 2026-07-28`, `naive v2`...) runs a
 * few cold starts of each target under `node --cpu-prof` and prints CPU self
 * time per run, by origin: each npm package or project file the bundle was
 * built from (through the source maps of its index.js and lazily loaded files), Node's internals (undici is fetch,
 * Request and Response, loaded on first use), garbage collection and the rest.
 * The profiler's sampling slows everything down: read the shares, not the sums.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild } from './child.js';
import { setUp, targetNamed, type TargetName } from './setup.js';

const RUNS = 5;
/** The project's root as it appears in source map paths: relative to /, without the leading slash. */
const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url)).slice(1);
const TOP = 15;

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { url: string; functionName: string; lineNumber: number; columnNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

/** The source map of every .js file of a bundle's directory (the entry and its lazily loaded files), by file URL. */
function bundleMaps(bundle: string): Map<string, SourceMap> {
  const dir = dirname(bundle);
  const maps = new Map<string, SourceMap>();
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.js') || !existsSync(join(dir, `${name}.map`))) continue;
    maps.set(`file://${join(dir, name)}`, new SourceMap(JSON.parse(readFileSync(join(dir, `${name}.map`), 'utf8'))));
  }
  return maps;
}

function origin(frame: CpuProfile['nodes'][number]['callFrame'], maps: Map<string, SourceMap>): string {
  const map = maps.get(frame.url);
  if (map) {
    const source = (map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string }).originalSource ?? '(unmapped)';
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
    return pkg ? `npm ${pkg[1]}` : source.replace(/^(\.\.\/)+/, '').replace(PROJECT_ROOT, '');
  }
  if (frame.url === '') return `(${frame.functionName || 'native'})`;
  if (frame.url.startsWith('node:')) return frame.url.split('/').slice(0, 3).join('/');
  // Not bundled: the AWS SDK, from NODE_PATH as Lambda's runtime provides it.
  const external = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
  if (external) return `npm ${external[1]} (runtime)`;
  return frame.url.endsWith('cold-start-child.mjs') ? 'bench child' : frame.url;
}

async function main() {
  const names = (process.argv.length > 2 ? process.argv.slice(2) : ['authorizer', 'AS metadata', 'register', 'mcp', 'mcp 2026-07-28', 'naive v2']) as TargetName[];
  const workDir = mkdtempSync(join(tmpdir(), 'bench-profile-'));
  const setup = await setUp(workDir);
  try {
    for (const name of names) {
      const target = targetNamed(setup, name);
      const specFile = join(workDir, `${name}.json`);
      writeFileSync(specFile, JSON.stringify({ bundle: target.bundle, invocations: target.invocations }));
      const profileDir = join(workDir, `profiles-${name}`);
      const profiling = ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${profileDir}`];
      const cold: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const { report } = await runChild<{ coldMs: number }>(new URL('./cold-start-child.mjs', import.meta.url), specFile, target.environment, profiling);
        cold.push(report.coldMs);
      }

      const maps = bundleMaps(target.bundle);
      const selfMs = new Map<string, number>();
      const files = readdirSync(profileDir);
      for (const file of files) {
        const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;
        const byId = new Map(profile.nodes.map((node) => [node.id, origin(node.callFrame, maps)]));
        profile.samples.forEach((id, index) => {
          const key = byId.get(id)!;
          selfMs.set(key, (selfMs.get(key) ?? 0) + (profile.timeDeltas[index + 1] ?? 0) / 1000 / files.length);
        });
      }
      // Idle is waiting (for a loopback upstream, mostly), not CPU.
      const idleMs = selfMs.get('((idle))') ?? 0;
      selfMs.delete('((idle))');
      const total = [...selfMs.values()].reduce((sum, ms) => sum + ms, 0);
      const median = cold.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
      console.log(
        `\n${name}: ${total.toFixed(0)} ms CPU and ${idleMs.toFixed(0)} ms idle per process; cold (import + requests) ${median.toFixed(0)} ms while profiled`,
      );
      for (const [key, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
        console.log(`${ms.toFixed(1).padStart(8)} ms ${((ms / total) * 100).toFixed(0).padStart(3)}%  ${key}`);
      }
    }
  } finally {
    await setup.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
