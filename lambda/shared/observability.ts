/**
 * Logs, metrics and traces for every function, with Powertools for AWS Lambda:
 * structured JSON logs correlated by the API Gateway request id, CloudWatch
 * metrics as EMF lines, and X-Ray traces when the stack enables tracing.
 *
 * Callers log facts (outcome, reason, sub, client_id, a token's short hash),
 * never a token, an Authorization value or a key; the logger never logs the
 * event (POWERTOOLS_LOGGER_LOG_EVENT stays off).
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';

export { MetricUnit };
export type MetricUnitValue = (typeof MetricUnit)[keyof typeof MetricUnit];

/** The CloudWatch namespace of every metric this project emits (the stack's alarms read it). */
export const METRIC_NAMESPACE = 'WebSearchMcp';

export type ServiceName = 'authorizer' | 'metadata' | 'register' | 'mcp';

export interface Observability {
  /** The Logger, with the invocation's correlation keys on (applied on first use with `correlation: 'on-first-use'`). */
  readonly logger: Logger;
  /**
   * Count an event. `by` adds a breakdown (per tool, per outcome): the count is
   * published both without it (what alarms read) and with it.
   */
  count(name: string, by?: Readonly<Record<string, string>>): void;
  /** Record a measurement (a latency, say). */
  measure(name: string, unit: MetricUnitValue, value: number): void;
  /** Run one invocation: correlation keys on, metrics flushed when due, keys cleared after. */
  invocation<T>(requestId: string, context: Context | undefined, work: () => Promise<T>): Promise<T>;
}

/**
 * Metrics are written at the end of an invocation at most this often per instance:
 * each EMF line costs more than the work a warm authorizer invocation does, and
 * counts add up exactly in between. At low traffic every invocation writes.
 */
export const METRICS_FLUSH_INTERVAL_MS = 1_000;

interface TracerLike {
  getSegment(): { addNewSubsegment(name: string): unknown } | undefined;
  setSegment(segment: unknown): void;
  annotateColdStart(): void;
  addServiceNameAnnotation(): void;
  addErrorAsMetadata(error: Error): void;
}

export interface ObservabilityOptions {
  readonly now?: () => number;
  /**
   * When the Logger gets an invocation's correlation keys (requestId, the Lambda
   * context): `'eager'` (default) as the invocation begins; `'on-first-use'` the
   * first time `logger` is read during it, so that an invocation that writes no
   * Powertools line (the authorizer's, whose decision line is decision-log.ts's)
   * skips Powertools' key handling. The first invocation of an
   * instance is always eager, so that the Logger's cold_start is right.
   */
  readonly correlation?: 'eager' | 'on-first-use';
}

export function createObservability(service: ServiceName, { now = Date.now, correlation = 'eager' }: ObservabilityOptions = {}): Observability {
  const logger = new Logger({
    serviceName: `web-search-mcp-${service}`,
    logLevel: (process.env.LOG_LEVEL ?? 'INFO') as 'INFO',
  });
  // Built on the first flush: a cold start that publishes none (initialize, tools/list, PRM) skips its set-up.
  let metrics: Metrics | undefined;
  const metricsFor = () => (metrics ??= new Metrics({ namespace: METRIC_NAMESPACE, serviceName: service }));
  const counts = new Map<string, { name: string; by: Readonly<Record<string, string>> | undefined; total: number }>();
  const measures: Array<{ name: string; unit: MetricUnitValue; value: number }> = [];
  let flushedAt = Number.NEGATIVE_INFINITY;

  const bump = (name: string, by: Readonly<Record<string, string>> | undefined) => {
    const key = by ? `${name}\u0000${JSON.stringify(by)}` : name;
    const entry = counts.get(key);
    if (entry) entry.total += 1;
    else counts.set(key, { name, by, total: 1 });
  };

  function flush() {
    flushedAt = now();
    if (counts.size === 0 && measures.length === 0) return;
    const published = metricsFor();
    for (const { name, by, total } of counts.values()) if (!by) published.addMetric(name, MetricUnit.Count, total);
    for (const { name, unit, value } of measures) published.addMetric(name, unit, value);
    if (published.hasStoredMetrics()) published.publishStoredMetrics();
    for (const { name, by, total } of counts.values()) {
      if (!by) continue;
      // A single metric publishes itself as soon as its value is added.
      const single = published.singleMetric();
      single.addDimensions(by);
      single.addMetric(name, MetricUnit.Count, total);
    }
    counts.clear();
    measures.length = 0;
  }

  /** The current invocation's keys, when not yet given to the Logger. */
  let pending: (() => void) | undefined;
  let correlated = false;
  let invocations = 0;
  const correlatedLogger = () => {
    if (pending) {
      const correlate = pending;
      pending = undefined;
      correlate();
    }
    return logger;
  };

  // Tracing is opt-in: the tracer (and the X-Ray SDK under it) is loaded only
  // when the stack turns it on, so that it never weighs on cold starts otherwise.
  let tracer: Promise<TracerLike | undefined> | undefined;
  const tracerFor = () =>
    (tracer ??=
      process.env.POWERTOOLS_TRACE_ENABLED === 'true'
        ? loadTracerModule().then(
            ({ Tracer }) => new Tracer({ serviceName: `web-search-mcp-${service}` }) as unknown as TracerLike,
            (error: Error) => {
              correlatedLogger().warn('Tracing is enabled but the tracer could not be loaded', { errorName: error.name });
              return undefined;
            },
          )
        : Promise.resolve(undefined));

  return {
    get logger() {
      return correlatedLogger();
    },
    count(name, by) {
      bump(name, undefined);
      if (by && Object.keys(by).length > 0) bump(name, by);
    },
    measure(name, unit, value) {
      measures.push({ name, unit, value });
      // Powertools takes at most 100 values of a metric in one line.
      if (measures.length >= 100) flush();
    },
    async invocation(requestId, context, work) {
      const correlate = () => {
        logger.appendKeys({ requestId });
        if (context) logger.addContext(context);
        correlated = true;
      };
      if (correlation === 'eager' || invocations++ === 0) correlate();
      else pending = correlate;
      const active = await tracerFor();
      const parent = active?.getSegment();
      const segment = parent?.addNewSubsegment(`## ${service}`) as { close(): void } | undefined;
      if (active && segment) {
        active.setSegment(segment);
        active.annotateColdStart();
        active.addServiceNameAnnotation();
      }
      try {
        return await work();
      } catch (error) {
        if (active && error instanceof Error) active.addErrorAsMetadata(error);
        throw error;
      } finally {
        if (now() - flushedAt >= METRICS_FLUSH_INTERVAL_MS) flush();
        if (active && segment) {
          segment.close();
          active.setSegment(parent);
        }
        if (correlated) logger.removeKeys(['requestId']);
        // Uncorrelated, the Logger still holds an earlier invocation's context: a line written
        // before the next invocation gets this one's, as with eager correlation.
        pending = !correlated && context ? () => logger.addContext(context) : undefined;
        correlated = false;
      }
    },
  };
}

/** An error's class and message for a log line, without its stack. */
export function describeError(error: unknown): { errorName: string; errorMessage: string } {
  if (error instanceof Error) return { errorName: error.name, errorMessage: error.message };
  return { errorName: typeof error, errorMessage: String(error) };
}

type TracerModule = typeof import('@aws-lambda-powertools/tracer');

/**
 * The tracer is not bundled: the Powertools layer the stack attaches with tracing
 * provides it. In the CommonJS bundles `require` loads it as Lambda's runtime
 * intends (NODE_PATH reaches the layer); an ES module `import()` has been reported
 * to miss modules once such a layer is attached. Run from sources as ES modules
 * (tests) there is no `require`.
 */
function loadTracerModule(): Promise<TracerModule> {
  if (typeof require !== 'function') return import('@aws-lambda-powertools/tracer');
  try {
    return Promise.resolve(require('@aws-lambda-powertools/tracer') as TracerModule);
  } catch (error) {
    return Promise.reject(error);
  }
}

let bundleMap: { file: string; map: SourceMap } | null | undefined;

/** The running bundle's source map, read the first time an error needs it (never at cold start). */
function loadBundleMap(): { file: string; map: SourceMap } | null {
  if (bundleMap !== undefined) return bundleMap;
  bundleMap = null;
  // In a CommonJS bundle `__filename` is the bundle; run from sources (tests) there is none to map.
  const file = typeof __filename === 'string' ? __filename : undefined;
  if (file) {
    try {
      bundleMap = { file, map: new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))) };
    } catch {
      bundleMap = null;
    }
  }
  return bundleMap;
}

/**
 * An unexpected error's stack, for the log (never for a client), with frames of
 * the minified bundle mapped back to the TypeScript sources. Source maps ship
 * with the bundles but are only loaded here: enabling them for the whole process
 * (--enable-source-maps) would parse them on every cold start.
 */
export function sourceMappedStack(error: unknown): string | undefined {
  if (!(error instanceof Error) || typeof error.stack !== 'string') return undefined;
  const loaded = loadBundleMap();
  if (!loaded) return error.stack;
  return error.stack.replace(/(\(|at )([^()\s]+):(\d+):(\d+)/g, (frame, prefix: string, file: string, line: string, column: string) => {
    if (file !== loaded.file) return frame;
    const origin = loaded.map.findEntry(Number(line) - 1, Number(column) - 1) as {
      originalSource?: string;
      originalLine?: number;
      originalColumn?: number;
    };
    if (!origin?.originalSource) return frame;
    return `${prefix}${origin.originalSource}:${origin.originalLine! + 1}:${origin.originalColumn! + 1}`;
  });
}
