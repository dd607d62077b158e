/**
 * What a run found, as JSON (bench/results/) and as compact tables, with the
 * budgets checked against the medians: each row's figure, its budget, and
 * PASS / FAIL, or "unreliable" for a timing row when the machine was busy
 * (1-minute load average above 2 at the start or the end of the run). What a
 * user meets comes first: a cold instance's whole session to its first search,
 * and what a warm tool call costs; then the handshake and the other functions.
 */
import type { BaseRefBundles } from './bundles.js';
import type { ColdStartResult } from './cold-start.js';
import { FIRST_SEARCH } from './setup.js';
import { summarize, type Summary } from './stats.js';
import { formatToolCallReport, TOOL_CALL_CASES, type ToolCallResults } from './usage.js';
import type { VerifyReference, WarmResult } from './warm.js';

/** Bundle budgets read kilobytes as 1000 bytes: the stricter reading. */
export const KB = 1000;

/** Above this 1-minute load average (start or end), timing budgets print "unreliable" rather than PASS/FAIL. */
export const LOAD_LIMIT = 2;

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly pinning: string;
  readonly platform: string;
  readonly memoryGb: number;
  /** One-minute load averages when the run started and ended: other work on the machine inflates every figure. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

/** One measured target: a bundle run on one Node with one sequence of first requests. */
export interface Measured {
  /** Sum of the .js files of the bundle's asset directory (entry plus lazily loaded files), .map excluded. */
  readonly bundleBytes: number;
  /** The entry alone (index.js): what a cold start loads. */
  readonly entryBytes: number;
  readonly bundleFiles: readonly string[];
  readonly mapBytes: number;
  readonly coldStart: ColdStartResult;
  readonly warm: readonly WarmResult[];
}

export type BudgetStatus = 'PASS' | 'FAIL' | 'unreliable' | 'n/a';

export interface BudgetCheck {
  readonly row: string;
  readonly budget: string;
  readonly figure: string;
  readonly status: BudgetStatus;
  /** For an unreliable row, what the figure says all the same. */
  readonly verdict?: 'PASS' | 'FAIL';
}

export interface FirstCall {
  readonly era: string;
  /** Medians of authorizer cold + mcp cold (each above Node's boot), ours and the naive pair's. */
  readonly oursMs: number;
  readonly naiveMs: number;
  readonly speedUp: number;
}

export interface Results {
  readonly units: string;
  readonly date: string;
  readonly machine: Machine;
  readonly caveat: string;
  readonly bareNodeStartMs: Summary;
  readonly bareNode24StartMs?: Summary;
  readonly node24?: string;
  readonly targets: Readonly<Record<string, Measured>>;
  readonly verifyReference: VerifyReference;
  /** A/A control: |median(mcp) − median(mcp copy)| ÷ their mean, cold above boot; and the same for the process starts. */
  readonly aaNoise: { readonly coldAboveBoot: number; readonly startToAnswer: number };
  readonly firstCall: readonly FirstCall[];
  readonly base: BaseRefBundles;
  /** PRM routes and the Lambda function each one integrates with, if any (from lambda/shared/routes.ts). */
  readonly prmRoutes: readonly { readonly path: string; readonly lambda?: string }[];
  /** The stack's esbuild options the naive bundles were built without: the product's own module substitutions. */
  readonly naiveDroppedOptions: readonly string[];
  /** Warm tool calls through the MCP bundle's handler, per configuration (bench/usage.ts). */
  readonly toolCalls: ToolCallResults;
  readonly budgets: readonly BudgetCheck[];
  readonly durationSeconds: number;
}

export const UNITS = 'sizes in bytes (budgets: 1 KB = 1000 bytes); names ending in Ms are milliseconds, Us microseconds, Mb megabytes';

export const CAVEAT =
  "Local process starts stand in for Lambda's init phase: Lambda adds its own sandbox and runtime start, runs on arm64 with the function's memory size, and loads the same index.js.";

export function warmCase(measured: Measured | undefined, name: string): WarmResult | undefined {
  const found = measured?.warm.find((result) => result.name === name);
  return found && !found.notServed ? found : undefined;
}

/** The cold figure above boot, or undefined when the bundle could not serve the requests. */
export function coldAboveBoot(measured: Measured | undefined): number | undefined {
  return measured && !measured.coldStart.notServed ? measured.coldStart.coldMs.median : undefined;
}

const kb = (bytes: number) => `${(bytes / KB).toFixed(1)} KB`;
const msText = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);
const usText = (us: number | undefined) => (us === undefined ? 'n/a' : `${us.toFixed(us < 10 ? 2 : us < 100 ? 1 : 0)} µs`);
const times = (ratio: number | undefined) => (ratio === undefined || !Number.isFinite(ratio) ? 'n/a' : `${ratio.toFixed(2)}×`);
const pct = (ratio: number) => `${(ratio * 100).toFixed(1)} %`;

/** Relative difference of two medians: |a − b| ÷ their mean. */
export function relativeDifference(a: number, b: number): number {
  return Math.abs(a - b) / ((a + b) / 2);
}

/** The main warm figure of a target: tools/list for an MCP bundle, else its first case. */
export function mainWarm(measured: Measured | undefined): WarmResult | undefined {
  return warmCase(measured, 'tools/list') ?? warmCase(measured, 'fresh token') ?? measured?.warm.find((w) => !w.notServed);
}

/** A session's start → first search answered (Node's boot included), median; undefined when it could not be measured. */
export function sessionMs(measured: Measured | undefined): number | undefined {
  return measured && !measured.coldStart.notServed ? measured.coldStart.startToAnswerMs.median : undefined;
}

export function checkBudgets(
  targets: Results['targets'],
  firstCall: readonly FirstCall[],
  prmRoutes: Results['prmRoutes'],
  load: Machine['loadAverage'],
  toolCalls?: ToolCallResults,
): BudgetCheck[] {
  const busy = Math.max(load.start, load.end) > LOAD_LIMIT;
  const checks: BudgetCheck[] = [];
  /** A timing row: unreliable on a busy machine; n/a when a figure is missing. */
  const timing = (row: string, budget: string, figure: string, pass: boolean | undefined) =>
    checks.push({
      row,
      budget,
      figure,
      status: pass === undefined ? 'n/a' : busy ? 'unreliable' : pass ? 'PASS' : 'FAIL',
      ...(pass !== undefined && busy ? { verdict: pass ? 'PASS' : 'FAIL' } : {}),
    });
  /** A count, not a time: PASS or FAIL whatever the load. */
  const structural = (row: string, budget: string, figure: string, pass: boolean | undefined) =>
    checks.push({ row, budget, figure, status: pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL' });
  const ratio = (slow: number | undefined, fast: number | undefined) => (slow === undefined || fast === undefined ? undefined : slow / fast);

  // What a user meets first.
  const naiveSession = sessionMs(targets[FIRST_SEARCH.naive]);
  for (const [name, limit, what] of [
    [FIRST_SEARCH.deployed, 1.5, 'as deployed (key from SSM, cache on)'],
    [FIRST_SEARCH.quotas, 1.3, 'quotas on'],
  ] as const) {
    const ours = sessionMs(targets[name]);
    const speedUp = ratio(naiveSession, ours);
    timing(
      `cold session to first search, ${what}`,
      `≥ ${limit}× faster than naive v2`,
      `${msText(ours)} vs ${msText(naiveSession)} = ${times(speedUp)}`,
      speedUp === undefined ? undefined : speedUp >= limit,
    );
  }
  const miss = toolCalls?.cases.find((each) => each.name === TOOL_CALL_CASES.bothMiss);
  structural(
    'warm tools/call, quotas and cache, miss: store phases before Tavily',
    '≤ 1',
    miss?.store ? `${miss.store.phasesBeforeTavily} (${miss.store.phaseOperations.map((phase) => phase.join('+')).join(' | ')})` : 'n/a',
    miss?.store ? miss.store.phasesBeforeTavily <= 1 : undefined,
  );
  structural(
    'warm tools/call, quotas and cache, miss: DynamoDB requests',
    '≤ 3',
    miss?.store ? String(miss.store.dynamoDbRequests) : 'n/a',
    miss?.store ? miss.store.dynamoDbRequests <= 3 : undefined,
  );
  timing('warm tools/call, quotas and cache, miss: function CPU', '≤ 4 ms', miss ? msText(miss.cpuMs) : 'n/a', miss ? miss.cpuMs <= 4 : undefined);

  for (const [era, ours, naive] of [
    ['legacy', 'mcp', 'naive v2'],
    ['2026-07-28', 'mcp 2026-07-28', 'naive v2 2026-07-28'],
  ] as const) {
    const a = coldAboveBoot(targets[ours]);
    const b = coldAboveBoot(targets[naive]);
    const speedUp = ratio(b, a);
    timing(`mcp cold above boot, ${era}`, '≥ 4× faster than naive v2', `${msText(a)} vs ${msText(b)} = ${times(speedUp)}`, speedUp === undefined ? undefined : speedUp >= 4);
  }
  for (const [era, ours, naive] of [
    ['legacy', 'mcp', 'naive v2'],
    ['2026-07-28', 'mcp 2026-07-28', 'naive v2 2026-07-28'],
  ] as const) {
    const a = warmCase(targets[ours], 'tools/list')?.medianUs;
    const b = warmCase(targets[naive], 'tools/list')?.medianUs;
    const speedUp = ratio(b, a);
    timing(`mcp warm tools/list, ${era}`, '≥ 20× faster than naive v2', `${usText(a)} vs ${usText(b)} = ${times(speedUp)}`, speedUp === undefined ? undefined : speedUp >= 20);
  }
  for (const call of firstCall) {
    timing(
      `whole first call above boot, ${call.era}`,
      '≥ 2.5× faster than naive pair',
      `${msText(call.oursMs)} vs ${msText(call.naiveMs)} = ${times(call.speedUp)}`,
      Number.isFinite(call.speedUp) ? call.speedUp >= 2.5 : undefined,
    );
  }
  // The authorizer verifies with jose: its fresh-token and cold-start figures are reported, no longer budgets.
  const fresh = warmCase(targets.authorizer, 'fresh token');
  const jose = fresh?.referenceMedianUs;
  timing('authorizer fresh token (decision line logged)', 'figure only', `${usText(fresh?.medianUs)} = ${times(ratio(fresh?.medianUs, jose))} jose's verify`, undefined);
  const repeated = warmCase(targets.authorizer, 'repeated token')?.medianUs;
  timing('authorizer repeated token', '≤ 10 µs', usText(repeated), repeated === undefined ? undefined : repeated <= 10);
  const authorizerCold = coldAboveBoot(targets.authorizer);
  const plainJoseCold = coldAboveBoot(targets['naive authorizer']);
  timing(
    'authorizer cold above boot',
    'figure only',
    `${msText(authorizerCold)} vs ${msText(plainJoseCold)} = ${times(ratio(authorizerCold, plainJoseCold))} plain jose authorizer`,
    undefined,
  );
  for (const [row, ours, naive, limit, what] of [
    ['register cold above boot', 'register', 'naive proxy register', 1.3, 'naive fetch proxy'],
    ['AS metadata proxy cold above boot', 'AS metadata', 'naive proxy AS metadata', 1.3, 'naive fetch proxy'],
  ] as const) {
    const a = coldAboveBoot(targets[ours]);
    const b = coldAboveBoot(targets[naive]);
    const r = ratio(a, b);
    timing(row, `≤ ${limit}× ${what}`, `${msText(a)} vs ${msText(b)} = ${times(r)}`, r === undefined ? undefined : r <= limit);
  }
  // Structural rows: no timing in them, so a busy machine does not make them unreliable.
  const lambdaBacked = prmRoutes.filter((route) => route.lambda);
  checks.push({
    row: 'PRM: no Lambda invocation',
    budget: 'MOCK integration',
    figure:
      prmRoutes.length === 0
        ? 'no PRM route found'
        : lambdaBacked.length === 0
          ? 'PRM: no Lambda (MOCK integration)'
          : `PRM served by Lambda: ${lambdaBacked.map((route) => `${route.path} → ${route.lambda}`).join(', ')}`,
    status: prmRoutes.length > 0 && lambdaBacked.length === 0 ? 'PASS' : 'FAIL',
  });
  const coldFile = targets.mcp?.entryBytes;
  checks.push({
    row: 'the file an mcp cold start loads (index.js)',
    budget: '≤ 300 KB',
    figure: coldFile === undefined ? 'n/a' : `${kb(coldFile)} (lazily loaded beside it: ${kb(targets.mcp!.bundleBytes - coldFile)})`,
    status: coldFile === undefined ? 'n/a' : coldFile <= 300 * KB ? 'PASS' : 'FAIL',
  });
  return checks;
}

/** The first-search sessions: a cold instance from process start to its first search answered. */
function formatFirstSearch(results: Results): string {
  const naive = sessionMs(results.targets[FIRST_SEARCH.naive]);
  const rows = [['cold session to first search', 'start → answer', 'speed-up vs naive', 'after init', 'process CPU', 'boot', 'init (require)', 'first answers', 'tools/call: upstream round trips, in order (+: at once)', 'peak RSS']];
  let runs = 0;
  for (const name of Object.values(FIRST_SEARCH)) {
    const m = results.targets[name];
    if (!m) continue;
    const c = m.coldStart;
    runs = c.runs;
    const session = sessionMs(m);
    const call = c.upstreams?.find((each) => each.label === 'tools/call')?.profile;
    rows.push([
      name,
      msText(session),
      name === FIRST_SEARCH.naive || name === FIRST_SEARCH.provisioned || name === FIRST_SEARCH.withoutAwsSdk ? '' : times(naive !== undefined && session !== undefined ? naive / session : undefined),
      msText(summarize(c.requestsRuns.map((run) => run.reduce((sum, each) => sum + each, 0))).median),
      msText(c.cpuMs.median),
      msText(c.bootMs.median),
      msText(c.importMs.median),
      c.requestsMs.map((r) => `${r.label} ${msText(r.ms.median)}`).join(' + '),
      call ? `${call.sequence.map((phase) => phase.join(' + ')).join(' → ')} (DynamoDB ${call.dynamoDbRequests})` : '',
      `${c.peakRssMb.median.toFixed(0)} MB`,
    ]);
  }
  return [
    `What a user meets first: a cold instance's whole session to its first search, in a fresh node process per run (${runs} runs per target, in the same rounds as every target below), medians:`,
    table(rows, new Set([1, 2, 3, 4, 5, 6, 9])),
    '(start → answer = Node\'s boot + require() of index.js + initialize + tools/list + tools/call web_search, a query of its own per run (a cache miss); ' +
      'Tavily key from SSM, cache on, as `cdk deploy` ships it; "quotas on" adds per-caller limits (calls per minute, credits per day; a total cap would add one update in the same phase). SSM, DynamoDB (dynalite) and Tavily on loopback; ' +
      'the naive v2 bundle reads its key from SSM with Powertools and calls Tavily with fetch, with no cache. ' +
      'after init = the three requests alone: what a client waits for when the init ran before it came, as with provisioned concurrency, whose row is an instance told so by AWS_LAMBDA_INITIALIZATION_TYPE. ' +
      'process CPU = user + system time of the whole process, Node\'s boot included: steadier than wall time on a busy machine. ' +
      '"no AWS SDK" is not a deployment: the key in the environment and the cache off, so that its difference with "as deployed" is what the AWS SDK costs the first search.)',
  ].join('\n');
}

function table(rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd())
    .join('\n');
}

export function formatReport(results: Results): string {
  const { machine, targets } = results;
  const lines: string[] = [];
  lines.push(`web-search-mcp bench  ${results.date}`);
  lines.push(`${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB  ·  measured on Node ${machine.node} (${machine.platform})  ·  ${machine.pinning}`);
  const load = Math.max(machine.loadAverage.start, machine.loadAverage.end);
  lines.push(`Load average (1 min): ${machine.loadAverage.start.toFixed(2)} at start, ${machine.loadAverage.end.toFixed(2)} at end.`);
  if (load > LOAD_LIMIT) lines.push(`Warning: load above ${LOAD_LIMIT}: the machine was busy with other work; timing budgets print "unreliable".`);
  lines.push(results.caveat);
  const bare = results.bareNodeStartMs;
  lines.push(`Bare node -e "" process (boot): ${msText(bare.median)} median (min ${msText(bare.min)}, max ${msText(bare.max)}, n=${bare.n}).`);
  lines.push('');

  const runs = Object.values(targets)[0]?.coldStart.runs ?? 0;
  lines.push(formatFirstSearch(results));
  lines.push('');
  lines.push(formatToolCallReport(results.toolCalls));
  lines.push('');

  const coldRows = [['target', 'bundle', 'cold above boot (min–max)', 'first answers', 'start → answer', 'peak RSS', 'warm median']];
  for (const [name, m] of Object.entries(targets)) {
    const c = m.coldStart;
    const warm = mainWarm(m);
    coldRows.push([
      name,
      kb(m.bundleBytes),
      c.notServed ? `n/a (not served: ${c.notServed})` : `${msText(c.coldMs.median)} (${c.coldMs.min.toFixed(1)}–${c.coldMs.max.toFixed(1)})`,
      c.notServed ? '' : `import ${msText(c.importMs.median)} + ${c.requestsMs.map((r) => `${r.label} ${msText(r.ms.median)}`).join(' + ')}`,
      c.notServed ? '' : msText(c.startToAnswerMs.median),
      `${c.peakRssMb.median.toFixed(0)} MB`,
      warm ? `${usText(warm.medianUs)} ${warm.name}` : '',
    ]);
  }
  lines.push(`Cold start, a fresh node process per run, ${runs} runs per target taken in rounds, medians:`);
  lines.push(table(coldRows, new Set([1, 4, 5])));
  lines.push(
    '(cold above boot = require() of the bundle + its first request(s), timed inside the process; start → answer = Node\'s boot + that. ' +
      'bundle = every .js file of the asset directory, maps excluded.)',
  );
  lines.push('');

  const warmRows = [['warm, per invocation (LOG_LEVEL INFO)', 'median', 'batch mean', 'p90', 'req/s', 'calls']];
  for (const [name, m] of Object.entries(targets)) {
    for (const w of m.warm) {
      if (w.notServed) warmRows.push([`${name} ${w.name}`, 'n/a', '', '', '', '0']);
      else warmRows.push([`${name} ${w.name}`, usText(w.medianUs), usText(w.batchMedianUs), usText(w.p90Us), Math.round(w.perSecond).toLocaleString('en-US'), String(w.calls)]);
    }
  }
  const v = results.verifyReference;
  const alongside = warmCase(targets.authorizer, 'fresh token');
  if (alongside?.referenceMedianUs !== undefined) {
    warmRows.push(['jose jwtVerify, alongside authorizer', usText(alongside.referenceMedianUs), '', '', '', String(alongside.calls)]);
  }
  warmRows.push(['jose jwtVerify, harness process', usText(v.joseJwtVerifyUs), '', '', '', String(v.calls)]);
  warmRows.push(['crypto.verify RSA-SHA256 (raw)', usText(v.cryptoVerifyUs), '', '', '', String(v.calls)]);
  lines.push(table(warmRows, new Set([1, 2, 3, 4, 5])));
  lines.push('');

  lines.push('Whole cold first call above boot (authorizer cold + mcp cold; naive pair: plain-jose authorizer + naive v2):');
  for (const call of results.firstCall) {
    lines.push(`  ${call.era}: ours ${msText(call.oursMs)}, naive pair ${msText(call.naiveMs)}, ${times(call.speedUp)} faster`);
  }
  lines.push(
    `A/A control (the mcp bundle measured twice as two targets): noise ${pct(results.aaNoise.coldAboveBoot)} on cold above boot, ${pct(results.aaNoise.startToAnswer)} on start → answer. ` +
      'Differences between targets smaller than this are not differences.',
  );
  lines.push('');

  if (results.node24) {
    const rows = [['Node 22 vs Node 24', 'cold above boot @22', '@24', 'start → answer @22', '@24', 'warm @22', '@24']];
    for (const name of ['authorizer', 'mcp', 'mcp 2026-07-28']) {
      const a = targets[name];
      const b = targets[`${name} @24`];
      rows.push([
        name,
        msText(coldAboveBoot(a)),
        msText(coldAboveBoot(b)),
        msText(a?.coldStart.startToAnswerMs.median),
        msText(b?.coldStart.startToAnswerMs.median),
        usText(mainWarm(a)?.medianUs),
        usText(mainWarm(b)?.medianUs),
      ]);
    }
    rows.push(['bare node boot', '', '', msText(bare.median), msText(results.bareNode24StartMs?.median), '', '']);
    lines.push(`Node 22 (${machine.node}) vs Node 24 (${results.node24}), same bundles:`);
    lines.push(table(rows, new Set([1, 2, 3, 4, 5, 6])));
  } else {
    lines.push('Node 24: not measured (npx -y -p node@24 node failed, or BENCH_NODE24=0).');
  }
  lines.push('');

  const base = results.base;
  if ('error' in base) {
    lines.push(`Before/after (${base.ref}): not measured, the ref could not be built: ${base.error}`);
  } else {
    lines.push(`Before/after, same rounds: before = ${base.ref} (${base.commit.slice(0, 7)}; ${base.how}), after = this tree.`);
    const rows = [['function', 'bundle before', 'after', 'cold above boot before', 'after', 'warm before', 'after']];
    for (const name of ['authorizer', 'mcp', 'mcp 2026-07-28', FIRST_SEARCH.deployed]) {
      const before = targets[`${name} @base`];
      const after = targets[name];
      rows.push([
        name,
        before ? kb(before.bundleBytes) : 'n/a',
        after ? kb(after.bundleBytes) : 'n/a',
        before?.coldStart.notServed ? 'n/a (not served)' : msText(coldAboveBoot(before)),
        msText(coldAboveBoot(after)),
        usText(mainWarm(before)?.medianUs),
        usText(mainWarm(after)?.medianUs),
      ]);
    }
    lines.push(table(rows, new Set([1, 2, 3, 4, 5, 6])));
    const before = targets[`${FIRST_SEARCH.deployed} @base`];
    const after = targets[FIRST_SEARCH.deployed];
    if (before && after) {
      lines.push(
        `${FIRST_SEARCH.deployed}, process CPU (steadier than wall time): before ${msText(before.coldStart.cpuMs.median)}, after ${msText(after.coldStart.cpuMs.median)}; ` +
          `start → answer before ${msText(sessionMs(before))}, after ${msText(sessionMs(after))}.`,
      );
    }
  }
  lines.push('');

  const budgetRows = [['budget', 'figure', 'budget', 'status']];
  for (const b of results.budgets) budgetRows.push([b.row, b.figure, b.budget, b.verdict ? `${b.status} (${b.verdict} as measured)` : b.status]);
  lines.push(table(budgetRows, new Set()));
  const count = (status: BudgetStatus) => results.budgets.filter((b) => b.status === status).length;
  lines.push(
    `${count('PASS')} PASS, ${count('FAIL')} FAIL, ${count('unreliable')} unreliable, ${count('n/a')} n/a of ${results.budgets.length} budgets. ` +
      `Whole run took ${results.durationSeconds.toFixed(0)} s.`,
  );
  return lines.join('\n');
}
