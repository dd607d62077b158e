/**
 * Metrics as EMF lines: counts add up in memory and are written at the end of
 * an invocation at most once per flush interval, totals and breakdowns alike.
 */
import { lambdaContext } from '../helpers/lambda-context.js';
import { createObservability, METRIC_NAMESPACE, METRICS_FLUSH_INTERVAL_MS, MetricUnit } from '../../../lambda/shared/observability.js';

let lines: string[] = [];
let restore: () => void;

beforeEach(() => {
  lines = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  restore = () => {
    process.stdout.write = original;
  };
});
afterEach(() => restore());

const emf = () =>
  lines
    .map((line) => JSON.parse(line))
    .filter((record) => record._aws)
    .map((record) => ({
      dimensions: record._aws.CloudWatchMetrics[0].Dimensions,
      namespace: record._aws.CloudWatchMetrics[0].Namespace,
      values: Object.fromEntries(record._aws.CloudWatchMetrics[0].Metrics.map((metric: { Name: string }) => [metric.Name, record[metric.Name]])),
      record,
    }));

test('the first invocation writes its metrics: a total and a breakdown per dimension', async () => {
  const observability = createObservability('authorizer', { now: () => 1_000 });
  await observability.invocation('req-1', undefined, async () => observability.count('AuthorizerDecisions', { Outcome: 'allow' }));
  const written = emf();
  expect(written).toHaveLength(2);
  expect(written[0]).toMatchObject({ namespace: METRIC_NAMESPACE, dimensions: [['service']], values: { AuthorizerDecisions: 1 } });
  expect(written[1]).toMatchObject({ dimensions: [['service', 'Outcome']], values: { AuthorizerDecisions: 1 } });
  expect(written[1]!.record.Outcome).toBe('allow');
});

test('within the interval counts accumulate; the next due flush writes their sums', async () => {
  let clock = 0;
  const observability = createObservability('authorizer', { now: () => clock });
  await observability.invocation('r0', undefined, async () => observability.count('AuthorizerDecisions', { Outcome: 'allow' }));
  lines = [];
  for (let i = 0; i < 5; i++) {
    clock += 10;
    await observability.invocation(`r${i}`, undefined, async () => observability.count('AuthorizerDecisions', { Outcome: i < 3 ? 'allow' : 'unauthorized' }));
  }
  expect(emf()).toHaveLength(0);
  clock += METRICS_FLUSH_INTERVAL_MS;
  await observability.invocation('r9', undefined, async () => observability.count('AuthorizerDecisions', { Outcome: 'allow' }));
  const written = emf();
  expect(written.find((line) => line.dimensions[0]!.length === 1)!.values).toEqual({ AuthorizerDecisions: 6 });
  const byOutcome = Object.fromEntries(written.filter((line) => line.record.Outcome).map((line) => [line.record.Outcome, line.values.AuthorizerDecisions]));
  expect(byOutcome).toEqual({ allow: 4, unauthorized: 2 });
});

test('measurements keep every value', async () => {
  const observability = createObservability('mcp', { now: () => 5_000 });
  await observability.invocation('r', undefined, async () => {
    observability.measure('TavilyLatency', MetricUnit.Milliseconds, 120);
    observability.measure('TavilyLatency', MetricUnit.Milliseconds, 80);
  });
  expect(emf()[0]!.values).toEqual({ TavilyLatency: [120, 80] });
});

test('an invocation that counts nothing writes no metric line', async () => {
  const observability = createObservability('metadata', { now: () => 0 });
  await observability.invocation('r', undefined, async () => undefined);
  expect(emf()).toHaveLength(0);
});

test('log lines carry the API Gateway request id, and only during the invocation', async () => {
  const observability = createObservability('mcp');
  await observability.invocation('apigw-123', undefined, async () => observability.logger.info('inside'));
  observability.logger.info('outside');
  const records = lines.map((line) => JSON.parse(line));
  expect(records.find((record) => record.message === 'inside').requestId).toBe('apigw-123');
  expect(records.find((record) => record.message === 'outside').requestId).toBeUndefined();
});

describe("correlation 'on-first-use' (the authorizer's): the keys reach the Logger only when a line is written", () => {
  const context = lambdaContext;
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((record) => !record._aws);

  test('each line carries its own invocation: request ids, Lambda context and cold start as the eager Logger writes them', async () => {
    const eager = createObservability('authorizer');
    const lazy = createObservability('authorizer', { correlation: 'on-first-use' });
    const written: Record<string, Array<Record<string, unknown>>> = {};
    for (const [name, observability] of [
      ['eager', eager],
      ['lazy', lazy],
    ] as const) {
      lines = [];
      await observability.invocation('gw-1', context('aws-1'), async () => observability.logger.info('first'));
      await observability.invocation('gw-2', context('aws-2'), async () => undefined);
      await observability.invocation('gw-3', context('aws-3'), async () => {
        observability.logger.info('third');
        observability.logger.info('third again');
      });
      await observability.invocation('gw-4', context('aws-4'), async () => undefined);
      observability.logger.info('outside');
      written[name] = records().map(({ timestamp: _timestamp, ...rest }) => rest);
    }
    expect(written.lazy).toEqual(written.eager);
    const [first, third, again, outside] = written.lazy!;
    expect(first).toMatchObject({ message: 'first', requestId: 'gw-1', function_request_id: 'aws-1' });
    expect(third).toMatchObject({ message: 'third', requestId: 'gw-3', function_request_id: 'aws-3', cold_start: false });
    expect(again).toMatchObject({ requestId: 'gw-3' });
    expect(outside!.requestId).toBeUndefined();
  });

  test('an invocation that writes nothing leaves no keys behind for the next one', async () => {
    const lazy = createObservability('authorizer', { correlation: 'on-first-use' });
    await lazy.invocation('gw-1', context('aws-1'), async () => undefined);
    await lazy.invocation('gw-2', context('aws-2'), async () => undefined);
    await lazy.invocation('gw-3', undefined, async () => lazy.logger.info('no context'));
    lazy.logger.info('outside');
    const [inside, outside] = records();
    expect(inside).toMatchObject({ message: 'no context', requestId: 'gw-3' });
    expect(outside!.requestId).toBeUndefined();
  });
});
