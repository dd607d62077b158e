/**
 * The authorizer's lean decision line equals what the Powertools Logger writes
 * for the same call: every field, in the same order, bar the timestamp's instant;
 * the same level threshold; the same stream.
 */
import type { Context } from 'aws-lambda';
import { createDecisionLog } from '../../../lambda/authorizer/decision-log.js';
import { createObservability } from '../../../lambda/shared/observability.js';
import { lambdaContext } from '../helpers/lambda-context.js';

let out: string[] = [];
const restore: Array<() => void> = [];
const saved = { ...process.env };

beforeEach(() => {
  out = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  restore.push(() => (process.stdout.write = original));
});
afterEach(() => {
  while (restore.length) restore.pop()!();
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

const context = lambdaContext;

const ATTRIBUTES = { outcome: 'allow', reason: 'ok', sub: 'user "1"\n', client_id: 'client-é', token: 'jti-1', cached: true, empty: '' };

/** The same invocations logged by the Powertools Logger and by the lean line, each from a fresh instance's state. */
async function both(level: 'INFO' | 'DEBUG', invocations: Array<{ requestId: string; context?: Context }>) {
  const reference = createObservability('authorizer');
  // As the authorizer builds them (lambda/authorizer/index.ts).
  const lean = createObservability('authorizer', { correlation: 'on-first-use' });
  const line = createDecisionLog(lean.logger, 'web-search-mcp-authorizer', () => lean.logger);
  const written: { reference: string[]; lean: string[] } = { reference: [], lean: [] };
  for (const { requestId, context: ctx } of invocations) {
    out = [];
    await reference.invocation(requestId, ctx, async () => {
      if (level === 'INFO') reference.logger.info('Authorization decision', ATTRIBUTES);
      else reference.logger.debug('Authorization decision', ATTRIBUTES);
    });
    written.reference.push(...out);
    out = [];
    await lean.invocation(requestId, ctx, async () => {
      line.begin(requestId, ctx);
      line.write(level, 'Authorization decision', ATTRIBUTES);
    });
    written.lean.push(...out);
  }
  return written;
}

/** Parsed, with the timestamp checked for shape and then set aside. */
function fields(lines: string[]) {
  return lines.map((text) => {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(parsed.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    return Object.entries({ ...parsed, timestamp: 'checked' });
  });
}

test('with a Lambda context, a trace id and a cold start: the same fields, values and order as Powertools', async () => {
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
  process.env._X_AMZN_TRACE_ID = 'Root=1-6759c1e0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
  const { reference, lean } = await both('INFO', [
    { requestId: 'gw-1', context: context('aws-1') },
    { requestId: 'gw-2', context: context('aws-2') },
  ]);
  expect(reference).toHaveLength(2);
  expect(fields(lean)).toEqual(fields(reference));
  const [first, second] = lean.map((text) => JSON.parse(text) as Record<string, unknown>);
  expect(first).toMatchObject({ cold_start: true, requestId: 'gw-1', function_request_id: 'aws-1', xray_trace_id: '1-6759c1e0-0123456789abcdef01234567' });
  expect(second).toMatchObject({ cold_start: false, requestId: 'gw-2' });
  expect(first).not.toHaveProperty('empty');
});

test('without a context or a trace id (as the local gateway may invoke it): the same as Powertools', async () => {
  delete process.env._X_AMZN_TRACE_ID;
  const { reference, lean } = await both('INFO', [{ requestId: 'gw-1' }]);
  expect(reference).toHaveLength(1);
  expect(fields(lean)).toEqual(fields(reference));
});

test('a sampling rate from POWERTOOLS_LOGGER_SAMPLE_RATE is reported as Powertools reports it', async () => {
  process.env.POWERTOOLS_LOGGER_SAMPLE_RATE = '0';
  const { reference, lean } = await both('INFO', [{ requestId: 'gw-1', context: context('aws-1') }]);
  expect(fields(lean)).toEqual(fields(reference));
});

test.each([
  ['INFO', 'INFO', 1],
  ['DEBUG', 'INFO', 0],
  ['DEBUG', 'DEBUG', 1],
  ['INFO', 'WARN', 0],
] as const)('a %s line with LOG_LEVEL=%s: written as often as Powertools writes it (%i)', async (level, setting, count) => {
  process.env.LOG_LEVEL = setting;
  const { reference, lean } = await both(level, [{ requestId: 'gw-1', context: context('aws-1') }]);
  expect(reference).toHaveLength(count);
  expect(fields(lean)).toEqual(fields(reference));
});

test.each([
  [{ POWERTOOLS_LOG_LEVEL: 'ERROR' }],
  [{ AWS_LAMBDA_LOG_LEVEL: 'ERROR' }],
  [{ LOG_LEVEL: 'DEBUG', AWS_LAMBDA_LOG_LEVEL: 'WARN' }],
])('%j: the lean line follows the Logger exactly (written exactly when it writes)', async (settings) => {
  delete process.env.LOG_LEVEL;
  Object.assign(process.env, settings);
  for (const level of ['INFO', 'DEBUG'] as const) {
    const { reference, lean } = await both(level, [{ requestId: 'gw-1', context: context('aws-1') }]);
    expect(fields(lean)).toEqual(fields(reference));
  }
});

test('in POWERTOOLS_DEV mode the Logger writes the line itself (indented), so the two still agree', async () => {
  process.env.POWERTOOLS_DEV = 'true';
  const logged: string[] = [];
  const original = console.info;
  console.info = (text: string) => void logged.push(text);
  restore.push(() => (console.info = original));
  // Two invocations: the second one's keys reach the Logger only as it writes (correlation 'on-first-use').
  await both('INFO', [
    { requestId: 'gw-1', context: context('aws-1') },
    { requestId: 'gw-2', context: context('aws-2') },
  ]);
  expect(logged).toHaveLength(4);
  expect(fields([logged[1]!])).toEqual(fields([logged[0]!]));
  expect(fields([logged[3]!])).toEqual(fields([logged[2]!]));
  expect(JSON.parse(logged[3]!)).toMatchObject({ requestId: 'gw-2', function_request_id: 'aws-2', cold_start: false });
});
