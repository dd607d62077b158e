/**
 * One cold start, in a fresh Node process: load a bundle as Lambda's Node.js
 * runtime loads a CommonJS index.js (require, then the promise jobs it left),
 * then serve the first request(s).
 * Plain JavaScript run by plain `node`, so no TypeScript loader weighs on what is
 * measured. Timings come from process.hrtime.bigint(); `bootMs` is Node's own
 * start (process start to this file's first line, from performance.now()).
 *
 * argv[2]: a JSON file { bundle, invocations: [{ label, event, expect }], traceUpstreams? }.
 * A body holding the run marker (events.ts) gets a value of this run's own in its place, so that
 * a first search is a first search for the result cache too. With `traceUpstreams`, the requests
 * each invocation made to Tavily, SSM and DynamoDB are reported (upstream-trace.mjs).
 * The function's environment is this process's environment. The report goes to
 * file descriptor 3 as one JSON object; stdout and stderr (the function's logs) go to pipes the parent drains.
 */
const bootMs = performance.now();

import { readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { lambdaContext } from './lambda-context.mjs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const RUN_MARKER = '__BENCH_RUN__';
const thisRun = `${process.pid}-${Date.now()}`;
const trace = spec.traceUpstreams ? (await import('./upstream-trace.mjs')).traceUpstreams() : undefined;
const require = createRequire(import.meta.url);
const ms = (from, to) => Number(to - from) / 1e6;


/** A result that is not the expected one: a fast error must never pass for a fast answer. */
class Mismatch extends Error {}

/** Why a result is not the expected one, or undefined when it is. */
function mismatch(result, expect) {
  if (expect.kind === 'policy') {
    const effect = result?.policyDocument?.Statement?.[0]?.Effect;
    return effect === expect.effect ? undefined : `expected an ${expect.effect} policy, got ${JSON.stringify(result).slice(0, 300)}`;
  }
  if (result?.statusCode !== expect.statusCode) return `expected HTTP ${expect.statusCode}, got ${JSON.stringify(result).slice(0, 300)}`;
  if (expect.bodyIncludes && !String(result.body).includes(expect.bodyIncludes)) {
    return `expected the body to include ${expect.bodyIncludes}, got ${String(result.body).slice(0, 300)}`;
  }
  return undefined;
}

/**
 * The process's peak RSS. On Linux, getrusage's ru_maxrss (process.resourceUsage().maxRSS)
 * survives execve: a child of a large parent reports the parent's size. VmHWM starts afresh.
 */
function peakRssKb() {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

const report = {
  bootMs,
  importMs: 0,
  requestsMs: [],
  coldMs: 0,
  cpuMs: 0,
  maxRssKb: 0,
  resourceUsageMaxRssKb: 0,
  notServed: undefined,
  error: undefined,
  ...(trace ? { upstreams: [] } : {}),
};
try {
  const started = process.hrtime.bigint();
  const { handler } = require(spec.bundle);
  // Lambda's runtime runs the init's pending promise jobs before it asks for the first event.
  await new Promise((resolve) => setImmediate(resolve));
  const ready = process.hrtime.bigint();
  report.importMs = ms(started, ready);
  if (typeof handler !== 'function') throw new Error(`${spec.bundle} exports no handler`);

  for (const [index, invocation] of spec.invocations.entries()) {
    const deadline = Date.now() + 30_000;
    const context = lambdaContext(`bench-${index}`, () => Math.max(0, deadline - Date.now()));
    const body = invocation.event.body;
    const event = typeof body === 'string' && body.includes(RUN_MARKER) ? { ...invocation.event, body: body.replaceAll(RUN_MARKER, thisRun) } : invocation.event;
    const requestStarted = process.hrtime.bigint();
    let result;
    try {
      result = await handler(event, context);
    } catch (error) {
      result = { thrown: String(error?.message ?? error) };
    }
    report.requestsMs.push(ms(requestStarted, process.hrtime.bigint()));
    if (trace) report.upstreams.push(trace.take());
    const problem = mismatch(result, invocation.expect);
    if (problem && invocation.expect.notServedStatus !== undefined && result?.statusCode === invocation.expect.notServedStatus) {
      // A bundle that cannot serve this request (say, a 2026-07-28 one before the v2 server): n/a, not an error.
      report.notServed = invocation.label;
      break;
    }
    if (problem) throw new Mismatch(`${invocation.label}: ${problem}`);
  }
  report.coldMs = report.importMs + report.requestsMs.reduce((sum, each) => sum + each, 0);
  // The process's CPU, Node's boot included: less swayed than wall time by other work on the machine.
  const cpu = process.cpuUsage();
  report.cpuMs = (cpu.user + cpu.system) / 1000;
} catch (error) {
  report.error = error instanceof Mismatch ? error.message : String(error?.stack ?? error);
}
report.resourceUsageMaxRssKb = process.resourceUsage().maxRSS;
report.maxRssKb = peakRssKb() ?? report.resourceUsageMaxRssKb;
writeSync(3, JSON.stringify(report));
// Lambda freezes an instance after its response rather than waiting for idle
// keep-alive sockets: leave now so the parent's wall time ends with the work.
process.exit(0);
