/**
 * What a run found, as JSON (bench/results/) and as a compact table, with the
 * budgets from the issue "Cold starts and per-request cost near the floor"
 * checked against the medians.
 */
import type { FunctionName } from '../lib/routes.js';
import type { ColdStartResult } from './cold-start.js';
import type { Summary } from './stats.js';
import type { VerifyReference, WarmResult } from './warm.js';

/** Bundle budgets read kilobytes as 1000 bytes: the stricter reading. */
export const KB = 1000;

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly platform: string;
  readonly memoryGb: number;
  /** One-minute load averages when the run started and ended: other work on the machine inflates every figure. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

export interface Measured {
  readonly bundleBytes: number;
  readonly mapBytes: number;
  readonly coldStart: ColdStartResult;
  readonly warm: readonly WarmResult[];
}

export interface BudgetCheck {
  readonly function: FunctionName;
  readonly check: string;
  readonly budget: string;
  readonly value: string;
  readonly pass: boolean;
}

export interface Results {
  readonly units: string;
  readonly date: string;
  readonly machine: Machine;
  readonly caveat: string;
  readonly bareNodeStartMs: Summary;
  readonly functions: Readonly<Record<FunctionName, Measured>>;
  readonly baseline: Measured;
  readonly verifyReference: VerifyReference;
  readonly mcpVersusBaseline: { readonly bundle: number; readonly coldStart: number; readonly warmToolsList: number };
  /** The stack's esbuild options the baseline was bundled without: the product's own module substitutions. */
  readonly baselineDroppedOptions: readonly string[];
  readonly budgets: readonly BudgetCheck[];
  readonly durationSeconds: number;
}

export const UNITS = 'sizes in bytes (budgets: 1 KB = 1000 bytes); names ending in Ms are milliseconds, Us microseconds, Mb megabytes';

export const CAVEAT =
  "Local process starts stand in for Lambda's init phase: Lambda adds its own sandbox and runtime start, runs Node 22 on arm64 with the function's memory size, and loads the same index.js.";

export function warmCase(measured: Measured, name: string): WarmResult {
  const found = measured.warm.find((result) => result.name === name);
  if (!found) throw new Error(`bench: no warm case ${name}`);
  return found;
}

const kb = (bytes: number) => `${(bytes / KB).toFixed(1)} KB`;
const msText = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const usText = (us: number) => `${us.toFixed(us < 10 ? 2 : us < 100 ? 1 : 0)} µs`;
const times = (ratio: number) => `${ratio.toFixed(2)}×`;

export function checkBudgets(functions: Results['functions'], verify: VerifyReference, baseline: Measured): BudgetCheck[] {
  const checks: BudgetCheck[] = [];
  const check = (fn: FunctionName, what: string, budget: string, value: string, pass: boolean) =>
    checks.push({ function: fn, check: what, budget, value, pass });
  const bundle = (fn: FunctionName, limitKb: number) =>
    check(fn, 'bundle', `≤ ${limitKb} KB`, kb(functions[fn].bundleBytes), functions[fn].bundleBytes <= limitKb * KB);
  const cold = (fn: FunctionName, limitMs: number) => {
    const median = functions[fn].coldStart.coldMs.median;
    check(fn, 'cold (import + first request)', `≤ ${limitMs} ms`, msText(median), median <= limitMs);
  };

  const mcpCold = functions.mcp.coldStart.coldMs.median;
  const speedup = baseline.coldStart.coldMs.median / mcpCold;
  bundle('mcp', 300);
  cold('mcp', 30);
  check('mcp', 'cold speed-up vs baseline', '≥ 2.4×', times(speedup), speedup >= 2.4);
  const toolsList = warmCase(functions.mcp, 'tools/list').medianUs;
  check('mcp', 'warm tools/list', '≤ 150 µs', usText(toolsList), toolsList <= 150);

  bundle('authorizer', 40);
  cold('authorizer', 10);
  // jose's verify as timed alongside the authorizer, in its process; the standalone figure if absent.
  const freshCase = warmCase(functions.authorizer, 'fresh token');
  const fresh = freshCase.medianUs;
  const jose = freshCase.referenceMedianUs ?? verify.joseJwtVerifyUs;
  check(
    'authorizer',
    'warm fresh token',
    `≤ 1.3× jose (${usText(jose * 1.3)})`,
    `${usText(fresh)} = ${times(fresh / jose)} jose`,
    fresh <= 1.3 * jose,
  );
  const repeated = warmCase(functions.authorizer, 'repeated token').medianUs;
  check('authorizer', 'warm repeated token', '≤ 10 µs', usText(repeated), repeated <= 10);

  bundle('metadata', 30);
  cold('metadata', 10);
  const prm = warmCase(functions.metadata, 'PRM').perSecond;
  check('metadata', 'warm PRM', '≥ 50,000 req/s', `${Math.round(prm).toLocaleString('en-US')} req/s`, prm >= 50_000);

  bundle('register', 30);
  cold('register', 10);
  return checks;
}

function table(rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd())
    .join('\n');
}

export function formatReport(results: Results): string {
  const { machine } = results;
  const named: Array<[string, Measured]> = [...(Object.entries(results.functions) as Array<[string, Measured]>), ['baseline', results.baseline]];
  const lines: string[] = [];
  lines.push(`web-search-mcp bench  ${results.date}`);
  lines.push(`${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB  ·  Node ${machine.node} (${machine.platform})`);
  const load = Math.max(machine.loadAverage.start, machine.loadAverage.end);
  lines.push(`Load average ${machine.loadAverage.start.toFixed(2)} at start, ${machine.loadAverage.end.toFixed(2)} at end.`);
  if (load > machine.cores / 2) lines.push(`Warning: the machine was busy with other work (load ${load.toFixed(1)} on ${machine.cores} cores); figures are inflated and noisy.`);
  lines.push(results.caveat);
  const bare = results.bareNodeStartMs;
  lines.push(`Bare node -e "" process: ${msText(bare.median)} median (min ${msText(bare.min)}, max ${msText(bare.max)}, n=${bare.n}).`);
  lines.push('');

  const coldRows = [['function', 'bundle', 'map', 'import', 'first request(s)', 'cold = import + requests', 'process wall', 'peak RSS']];
  for (const [name, measured] of named) {
    const c = measured.coldStart;
    coldRows.push([
      name,
      kb(measured.bundleBytes),
      kb(measured.mapBytes),
      msText(c.importMs.median),
      c.requestsMs.map((request) => `${request.label} ${msText(request.ms.median)}`).join(' + '),
      `${msText(c.coldMs.median)} (${c.coldMs.min.toFixed(1)}–${c.coldMs.max.toFixed(1)})`,
      msText(c.wallMs.median),
      `${c.peakRssMb.median.toFixed(0)} MB`,
    ]);
  }
  lines.push(`Cold start, fresh node process per run, medians of ${results.functions.mcp.coldStart.runs} runs (min–max):`);
  lines.push(table(coldRows, new Set([1, 2, 3, 6, 7])));
  lines.push('(process wall: spawn to exit as the parent sees it, Node\'s own start and exit included; after a fetch, exit alone takes tens of ms more.)');
  lines.push('');

  const warmRows = [['warm, per invocation', 'median', 'batch mean', 'p90', 'req/s', 'calls']];
  for (const [name, measured] of named) {
    for (const w of measured.warm) {
      warmRows.push([`${name} ${w.name}`, usText(w.medianUs), usText(w.batchMedianUs), usText(w.p90Us), Math.round(w.perSecond).toLocaleString('en-US'), String(w.calls)]);
    }
  }
  const v = results.verifyReference;
  const alongside = warmCase(results.functions.authorizer, 'fresh token');
  if (alongside.referenceMedianUs !== undefined) {
    warmRows.push(['jose jwtVerify, alongside authorizer', usText(alongside.referenceMedianUs), '', '', '', String(alongside.calls)]);
  }
  warmRows.push(['jose jwtVerify, harness process', usText(v.joseJwtVerifyUs), '', '', '', String(v.calls)]);
  warmRows.push(['crypto.verify RSA-SHA256 (raw)', usText(v.cryptoVerifyUs), '', '', '', String(v.calls)]);
  warmRows.push(['subtle.verify RSASSA-PKCS1-v1_5', usText(v.subtleVerifyUs), '', '', '', String(v.calls)]);
  lines.push(table(warmRows, new Set([1, 2, 3, 4, 5])));
  lines.push('');

  const r = results.mcpVersusBaseline;
  lines.push(
    `mcp vs baseline: bundle ${times(r.bundle)} the baseline's size; speed-up (baseline time ÷ mcp time): cold start ${times(r.coldStart)}, warm tools/list ${times(r.warmToolsList)}.`,
  );
  if (results.baselineDroppedOptions.length > 0) {
    lines.push(`(baseline bundled with the stack's esbuild options but for the product's module substitutions: ${results.baselineDroppedOptions.join(', ')}.)`);
  }
  lines.push('');
  lines.push('Budgets (medians):');
  lines.push(
    table(
      results.budgets.map((b) => [b.pass ? 'PASS' : 'FAIL', b.function, b.check, b.value, b.budget]),
      new Set([3]),
    ),
  );
  const failed = results.budgets.filter((b) => !b.pass).length;
  lines.push(`${results.budgets.length - failed} of ${results.budgets.length} budgets met. Run took ${results.durationSeconds.toFixed(0)} s.`);
  return lines.join('\n');
}
