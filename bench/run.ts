/**
 * `npm run bench`: what a user meets first (a cold instance's session to its
 * first search, and a warm tool call's cost with quotas and the result cache),
 * then cold start, warm cost and size of the four functions' bundles (exactly
 * those `cdk synth` uploads), against their budgets and against baselines: the
 * MCP SDK as public samples put it on Lambda. Upstreams (the authorization
 * server's JWKS, metadata and registration endpoint; Tavily; SSM; the usage
 * table in dynalite) are on loopback.
 *
 * Prints a table and writes bench/results/latest.json plus a timestamped copy.
 * Exits 0 whatever the budgets say; 1 only when something could not be measured.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { routes, PRM_FOR_MCP_PATH, PRM_PATH } from '../lambda/shared/routes.js';
import { benchNode, cpuPinning } from './child.js';
import type { Bundle } from './bundles.js';
import { measureBareNode, measureColdStarts } from './cold-start.js';
import {
  CAVEAT,
  UNITS,
  checkBudgets,
  coldAboveBoot,
  formatReport,
  relativeDifference,
  type FirstCall,
  type Measured,
  type Results,
} from './report.js';
import { setUp, type BenchSetup } from './setup.js';
import { measureToolCalls } from './usage.js';
import { measureVerifyReference, measureWarm, type WarmCase, type WarmResult } from './warm.js';

/** 15 rounds: every target gets 15 fresh processes (plus one unrecorded first run). */
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
// The main of before the first-search work: the "before" of the before/after table.
const BASE_REF = process.env.BENCH_BASE_REF ?? 'c173ec3';
const FRESH_TOKENS = 1500;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

async function main() {
  const started = process.hrtime.bigint();
  const date = new Date().toISOString();
  const loadAtStart = loadavg()[0]!;
  const workDir = mkdtempSync(join(tmpdir(), 'bench-'));
  let setup: BenchSetup | undefined;
  try {
    progress(`synthesizing the stack (bundles as cdk synth uploads them), bundling the naive baselines and ${BASE_REF}...`);
    setup = await setUp(workDir, BASE_REF);
    const { targets } = setup;
    if ('error' in setup.base) progress(`base ref ${BASE_REF} not measured: ${setup.base.error}`);
    progress(`bare node starts, then ${COLD_RUNS} rounds of cold starts of ${targets.length} targets: ${targets.map((t) => t.name).join(', ')}...`);
    const bareNodeStartMs = await measureBareNode(15);
    const bareNode24StartMs = setup.node24 ? await measureBareNode(15, setup.node24.path) : undefined;
    const coldStarts = await measureColdStarts(targets, { runs: COLD_RUNS, workDir });

    progress(`minting ${FRESH_TOKENS} distinct tokens, then warm invocations...`);
    const freshEvents: unknown[] = [];
    for (let i = 0; i < FRESH_TOKENS + 200; i++) freshEvents.push(await setup.authorizerEvent());
    const repeatedEvent = await setup.authorizerEvent();
    const short = { targetMs: 500, minCalls: 300 };
    /** The warm cases of a target: an authorizer's two tokens, or each first request of the target, repeated. */
    const casesOf = (name: string): WarmCase[] => {
      const target = targets.find((t) => t.name === name)!;
      if (target.invocations[0]!.expect.kind === 'policy') {
        const allow = target.invocations[0]!.expect;
        return [
          {
            name: 'fresh token',
            events: freshEvents,
            distinct: true,
            expect: allow,
            warmupCalls: 200,
            ...(name === 'authorizer' ? { reference: setup!.verification } : {}),
            ...short,
          },
          { name: 'repeated token', events: [repeatedEvent], expect: allow, warmupCalls: 200, ...short },
        ];
      }
      // Every registration is a round trip to the (loopback) authorization server: fewer calls do.
      const options = name.includes('register') ? { warmupCalls: 30, targetMs: 500, minCalls: 150 } : { warmupCalls: 200, ...short };
      return target.invocations.map(({ label, event, expect }) => ({ name: label, events: [event], expect, ...options }));
    };
    progress("jose's own verify, and Node's...");
    const verifyReference = await measureVerifyReference(setup.verification);
    const warm: Record<string, WarmResult[]> = {};
    // The A/A copy is a cold-start control only; the first-search sessions are cold only (their warm calls: measureToolCalls).
    for (const target of targets) {
      warm[target.name] = target.name.includes('A-A') || target.traceUpstreams ? [] : await measureWarm(target, casesOf(target.name), workDir);
    }

    const bundles: Bundle[] = [
      ...Object.values(setup.functions),
      ...Object.values(setup.naive),
      ...('error' in setup.base ? [] : [setup.base.mcp, setup.base.authorizer]),
    ];
    const measured: Record<string, Measured> = {};
    for (const target of targets) {
      const bundle = bundles.find((b) => b.path === target.bundle)!;
      measured[target.name] = {
        bundleBytes: bundle.bytes,
        entryBytes: bundle.entryBytes,
        bundleFiles: bundle.files,
        mapBytes: bundle.mapBytes,
        coldStart: coldStarts[target.name]!,
        warm: warm[target.name]!,
      };
    }
    const firstCall: FirstCall[] = [
      ['legacy', 'mcp', 'naive v2'],
      ['2026-07-28', 'mcp 2026-07-28', 'naive v2 2026-07-28'],
    ].map(([era, ours, naive]) => {
      const sum = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? NaN : a + b);
      const oursMs = sum(coldAboveBoot(measured.authorizer), coldAboveBoot(measured[ours!]));
      const naiveMs = sum(coldAboveBoot(measured['naive authorizer']), coldAboveBoot(measured[naive!]));
      return { era: era!, oursMs, naiveMs, speedUp: naiveMs / oursMs };
    });
    const a = measured.mcp!.coldStart;
    const b = measured['mcp (A-A copy)']!.coldStart;
    const aaNoise = {
      coldAboveBoot: relativeDifference(a.coldMs.median, b.coldMs.median),
      startToAnswer: relativeDifference(a.startToAnswerMs.median, b.startToAnswerMs.median),
    };
    // PRM routes from the one route table: a route naming one of our functions is a Lambda invocation.
    const lambdaNames = new Set<string>(Object.keys(setup.functions));
    const prmRoutes = routes
      .filter((route) => route.path === PRM_PATH || route.path === PRM_FOR_MCP_PATH)
      .map((route) => {
        const fn = (route as { function?: unknown }).function;
        return typeof fn === 'string' && lambdaNames.has(fn) ? { path: route.path, lambda: fn } : { path: route.path };
      });

    progress('warm tool calls through the MCP handler: quotas and the result cache off, the cache, quotas, both, alternating...');
    const toolCalls = await measureToolCalls(setup, workDir);
    const loadAverage = { start: loadAtStart, end: loadavg()[0]! };

    const results: Results = {
      units: UNITS,
      date,
      machine: {
        cpu: cpus()[0]?.model.trim() ?? 'unknown',
        cores: availableParallelism(),
        node: `${benchNode().version}${benchNode().note ? ` (${benchNode().note})` : ''}`,
        pinning: cpuPinning().note,
        platform: `${process.platform} ${process.arch}`,
        memoryGb: Math.round(totalmem() / 2 ** 30),
        loadAverage,
      },
      caveat: CAVEAT,
      bareNodeStartMs,
      ...(bareNode24StartMs && setup.node24 ? { bareNode24StartMs, node24: setup.node24.version } : {}),
      targets: measured,
      verifyReference,
      aaNoise,
      firstCall,
      base: setup.base,
      prmRoutes,
      naiveDroppedOptions: setup.baseline.droppedOptions,
      toolCalls,
      budgets: checkBudgets(measured, firstCall, prmRoutes, loadAverage, toolCalls),
      durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    };

    process.stdout.write(`\n${formatReport(results)}\n`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const json = `${JSON.stringify(results, null, 2)}\n`;
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
