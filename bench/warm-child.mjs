/**
 * Warm cost per invocation: one process loads a bundle once, then, for each
 * case, warms up and invokes the handler many times in a row, one invocation at
 * a time as a Lambda instance does. Each call is timed with process.hrtime.bigint();
 * calls are also grouped in batches whose mean per call is less sensitive to
 * timer noise. Plain `node`, like the cold-start child.
 *
 * argv[2]: a JSON file { bundle, cases: [{ name, events, distinct, expect, warmupCalls, targetMs, minCalls, maxCalls, reference? }] }.
 * With `distinct`, every call takes the next event of `events` and none is reused;
 * otherwise every call sends `events[0]`. The report goes to file descriptor 3.
 */
import { readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { lambdaContext } from './lambda-context.mjs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { handler } = createRequire(import.meta.url)(spec.bundle);

const context = lambdaContext('bench-warm');

function check(result, expect, name) {
  const ok =
    expect.kind === 'policy'
      ? result?.policyDocument?.Statement?.[0]?.Effect === expect.effect
      : result?.statusCode === expect.statusCode && (!expect.bodyIncludes || String(result.body).includes(expect.bodyIncludes));
  if (!ok) throw new Error(`${name}: unexpected result ${JSON.stringify(result).slice(0, 300)}`);
}

const median = (sorted) => sorted[Math.floor((sorted.length - 1) / 2)];

/**
 * jose's own `jwtVerify` with a local key, for a case that names a `reference`:
 * its calls alternate with the handler's, batch by batch, so that both see the
 * machine in the same state and their ratio holds even when the machine is busy.
 */
async function joseVerify({ token, publicJwk, issuer, audience }) {
  const { importJWK, jwtVerify } = await import('jose');
  const key = await importJWK({ kty: publicJwk.kty, n: publicJwk.n, e: publicJwk.e }, 'RS256');
  const options = { algorithms: ['RS256'], issuer, audience, requiredClaims: ['exp'], clockTolerance: 10 };
  return () => jwtVerify(token, key, options);
}

async function measure(testCase) {
  const { events, distinct } = testCase;
  let next = 0;
  const take = () => (distinct ? events[next++] : events[0]);
  const reference = testCase.reference ? await joseVerify(testCase.reference) : undefined;

  const warmupStarted = process.hrtime.bigint();
  for (let i = 0; i < testCase.warmupCalls; i++) {
    const result = await handler(take(), context);
    if (i === 0 && testCase.expect.notServedStatus !== undefined && result?.statusCode === testCase.expect.notServedStatus) {
      return { name: testCase.name, notServed: true, calls: 0, batchSize: 0, medianUs: NaN, p90Us: NaN, minUs: NaN, batchMedianUs: NaN, perSecond: NaN };
    }
    if (i === 0) check(result, testCase.expect, testCase.name);
  }
  const estimateMs = Number(process.hrtime.bigint() - warmupStarted) / 1e6 / testCase.warmupCalls;
  if (reference) for (let i = 0; i < testCase.warmupCalls; i++) await reference();

  const calls = distinct
    ? events.length - next
    : Math.max(testCase.minCalls, Math.min(testCase.maxCalls, Math.round(testCase.targetMs / estimateMs)));
  const batchSize = Math.max(1, Math.floor(calls / 100));
  const perCall = new Float64Array(calls);
  const referencePerCall = new Float64Array(reference ? calls : 0);
  const batchMeans = [];
  let handlerNs = 0n;
  let last;
  for (let done = 0; done < calls; ) {
    const size = Math.min(batchSize, calls - done);
    const batchStarted = process.hrtime.bigint();
    for (let i = 0; i < size; i++) {
      const event = take();
      const callStarted = process.hrtime.bigint();
      last = await handler(event, context);
      perCall[done + i] = Number(process.hrtime.bigint() - callStarted) / 1e3;
    }
    const batchNs = process.hrtime.bigint() - batchStarted;
    handlerNs += batchNs;
    batchMeans.push(Number(batchNs) / 1e3 / size);
    for (let i = 0; reference && i < size; i++) {
      const callStarted = process.hrtime.bigint();
      await reference();
      referencePerCall[done + i] = Number(process.hrtime.bigint() - callStarted) / 1e3;
    }
    done += size;
  }
  check(last, testCase.expect, testCase.name);

  perCall.sort();
  referencePerCall.sort();
  batchMeans.sort((a, b) => a - b);
  return {
    name: testCase.name,
    calls,
    batchSize,
    medianUs: median(perCall),
    p90Us: perCall[Math.floor(calls * 0.9)],
    minUs: perCall[0],
    batchMedianUs: median(batchMeans),
    perSecond: calls / (Number(handlerNs) / 1e9),
    ...(reference ? { referenceMedianUs: median(referencePerCall) } : {}),
  };
}

const report = { cases: [], error: undefined };
try {
  for (const testCase of spec.cases) report.cases.push(await measure(testCase));
} catch (error) {
  report.error = String(error?.stack ?? error);
}
writeSync(3, JSON.stringify(report));
process.exit(0);
