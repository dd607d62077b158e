/**
 * Warm tool calls through a bundle's handler, as a Lambda instance serves
 * them: one process per configuration of the MCP function (its environment),
 * driven over IPC by bench/usage.ts, which makes the configurations take turns
 * batch by batch so that all see the machine in the same state.
 *
 * argv[2]: a JSON file { bundle }. The bundle is required once, as Lambda's
 * runtime loads index.js. Messages:
 * - { kind: 'calls', case: { name, event, expect } | { name, fetch: { url, body, key } }, calls, trace }:
 *   `calls` invocations in a row, each timed (wall time and this process's CPU);
 *   in a body, the run marker (events.ts) gets a value of each call's own (a
 *   cache miss every time). A `fetch` case is the reference: the same search
 *   sent to Tavily with fetch alone. With `trace`, each call's requests to the
 *   upstreams come back too (upstream-trace.mjs).
 * - { kind: 'exit' }.
 * Every answer is checked, so that a fast error never passes for a fast call.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { lambdaContext } from './lambda-context.mjs';
import { traceUpstreams } from './upstream-trace.mjs';

const RUN_MARKER = '__BENCH_RUN__';
const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const trace = traceUpstreams();
const { handler } = spec.bundle ? createRequire(import.meta.url)(spec.bundle) : { handler: undefined };

const context = lambdaContext('bench-tool-call');

let counter = 0;

function check(result, expect, name) {
  const ok = result?.statusCode === expect.statusCode && (!expect.bodyIncludes || String(result.body).includes(expect.bodyIncludes));
  if (!ok) throw new Error(`${name}: unexpected result ${JSON.stringify(result).slice(0, 400)}`);
}

/** One call of a case: the handler with the case's event, or the reference fetch. */
async function callOnce(testCase) {
  if (testCase.fetch) {
    const { url, body, key } = testCase.fetch;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok || !Array.isArray(answer.results)) throw new Error(`${testCase.name}: Tavily answered ${response.status}`);
    return;
  }
  const body = testCase.event.body;
  const event = body.includes(RUN_MARKER) ? { ...testCase.event, body: body.replaceAll(RUN_MARKER, `${process.pid}-${counter++}`) } : testCase.event;
  check(await handler(event, context), testCase.expect, testCase.name);
}

async function runCalls({ case: testCase, calls, trace: tracing }) {
  const wallUs = [];
  const cpuUs = [];
  const upstreams = [];
  trace.take();
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const cpuBefore = process.cpuUsage();
    const callStarted = process.hrtime.bigint();
    await callOnce(testCase);
    wallUs.push(Number(process.hrtime.bigint() - callStarted) / 1e3);
    const cpu = process.cpuUsage(cpuBefore);
    cpuUs.push(cpu.user + cpu.system);
    if (tracing) upstreams.push(trace.take());
  }
  const batchUs = Number(process.hrtime.bigint() - started) / 1e3;
  return { wallUs, cpuUs, batchUs, ...(tracing ? { upstreams } : {}) };
}

process.on('message', async (message) => {
  if (message.kind === 'exit') process.exit(0);
  try {
    process.send({ ok: true, ...(await runCalls(message)) });
  } catch (error) {
    process.send({ ok: false, error: String(error?.stack ?? error) });
  }
});
process.send({ ok: true, ready: true });
