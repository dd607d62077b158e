/**
 * `npm run bench`: cold start, warm cost and size of the four functions' bundles
 * (exactly those `cdk synth` uploads), against the budgets of the issue "Cold
 * starts and per-request cost near the floor", and against a baseline: the MCP
 * SDK as public samples put it on Lambda. Upstreams (the authorization server's
 * JWKS, metadata and registration endpoint; Tavily) are fixtures on loopback.
 *
 * Prints a table and writes bench/results/latest.json plus a timestamped copy.
 * Exits 0 whatever the budgets say; 1 only when something could not be measured.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchNode } from './child.js';
import type { FunctionName } from '../lib/routes.js';
import type { Bundle } from './bundles.js';
import { measureBareNode, measureColdStarts } from './cold-start.js';
import { CAVEAT, UNITS, checkBudgets, formatReport, warmCase, type Measured, type Results } from './report.js';
import { setUp, targetNamed, type BenchSetup, type TargetName } from './setup.js';
import { formatUsageReport, measureUsageCosts } from './usage.js';
import { measureVerifyReference, measureWarm, type WarmCase, type WarmResult } from './warm.js';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);
const FRESH_TOKENS = 2000;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

async function main() {
  const started = process.hrtime.bigint();
  const date = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  const workDir = mkdtempSync(join(tmpdir(), 'bench-'));
  let setup: BenchSetup | undefined;
  try {
    progress('synthesizing the stack (bundles as cdk synth uploads them) and bundling the baseline...');
    setup = await setUp(workDir);
    const { targets } = setup;
    progress(`bare node starts, then ${COLD_RUNS} cold starts of each of ${targets.map((t) => t.name).join(', ')}...`);
    const bareNodeStartMs = await measureBareNode(10);
    const coldStarts = await measureColdStarts(targets, { runs: COLD_RUNS, workDir });

    progress(`minting ${FRESH_TOKENS} distinct tokens, then warm invocations...`);
    const freshEvents: unknown[] = [];
    for (let i = 0; i < FRESH_TOKENS + 200; i++) freshEvents.push(await setup.authorizerEvent());
    const allow = targetNamed(setup, 'authorizer').invocations[0]!.expect;
    /** Each first request of the target, repeated. */
    const repeat = (name: TargetName, options: Omit<WarmCase, 'name' | 'events' | 'expect'>): WarmCase[] =>
      targetNamed(setup!, name).invocations.map(({ label, event, expect }) => ({ name: label, events: [event], expect, ...options }));
    const warmCases: Record<TargetName, WarmCase[]> = {
      authorizer: [
        { name: 'fresh token', events: freshEvents, distinct: true, expect: allow, warmupCalls: 200, reference: setup.verification },
        { name: 'repeated token', events: [await setup.authorizerEvent()], expect: allow, warmupCalls: 200 },
      ],
      metadata: repeat('metadata', { warmupCalls: 500 }),
      // Every registration is a round trip to the (loopback) authorization server: fewer calls do.
      register: repeat('register', { warmupCalls: 50, minCalls: 300, targetMs: 1000 }),
      mcp: repeat('mcp', { warmupCalls: 300 }),
      baseline: repeat('baseline', { warmupCalls: 100, minCalls: 500 }),
    };
    progress("jose's own verify, and Node's...");
    const verifyReference = await measureVerifyReference(setup.verification);
    const warm: Record<string, WarmResult[]> = {};
    for (const target of targets) warm[target.name] = await measureWarm(target, warmCases[target.name as TargetName], workDir);

    const measured = (name: string, bundle: Bundle): Measured => ({
      bundleBytes: bundle.bytes,
      mapBytes: bundle.mapBytes,
      coldStart: coldStarts[name]!,
      warm: warm[name]!,
    });
    const functionResults = Object.fromEntries(
      (Object.keys(setup.functions) as FunctionName[]).map((name) => [name, measured(name, setup!.functions[name])]),
    ) as Record<FunctionName, Measured>;
    const baseline = measured('baseline', setup.baseline);

    const results: Results = {
      units: UNITS,
      date,
      machine: {
        cpu: cpus()[0]?.model.trim() ?? 'unknown',
        cores: availableParallelism(),
        node: `${benchNode().version} (measured processes)${benchNode().note ? `; ${benchNode().note}` : ''}`,
        platform: `${process.platform} ${process.arch}`,
        memoryGb: Math.round(totalmem() / 2 ** 30),
        loadAverage: { start: loadAtStart, end: loadavg()[0]! },
      },
      caveat: CAVEAT,
      bareNodeStartMs,
      functions: functionResults,
      baseline,
      verifyReference,
      mcpVersusBaseline: {
        bundle: functionResults.mcp.bundleBytes / baseline.bundleBytes,
        coldStart: baseline.coldStart.coldMs.median / functionResults.mcp.coldStart.coldMs.median,
        warmToolsList: warmCase(baseline, 'tools/list').medianUs / warmCase(functionResults.mcp, 'tools/list').medianUs,
      },
      baselineDroppedOptions: setup.baseline.droppedOptions,
      budgets: checkBudgets(functionResults, verifyReference, baseline),
      durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    };

    progress('quotas and result cache: the usage table round trips around a tool call...');
    const usage = await measureUsageCosts();

    process.stdout.write(`\n${formatReport(results)}\n\n${formatUsageReport(usage)}\n`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const json = `${JSON.stringify({ ...results, usage }, null, 2)}\n`;
    for (const name of [`${date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`, 'latest.json']) {
      const file = join(RESULTS_DIR, name);
      writeFileSync(`${file}.tmp`, json);
      renameSync(`${file}.tmp`, file);
    }
    process.stdout.write(`Results: ${join('bench', 'results', 'latest.json')}\n`);
  } finally {
    await setup?.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: could not measure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
