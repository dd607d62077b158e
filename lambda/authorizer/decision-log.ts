/**
 * The authorizer's one log line per decision, written with less machinery than
 * the Powertools Logger: the same JSON fields in the same order (level, message,
 * timestamp, service, cold_start, function_arn, function_memory_size,
 * function_name, function_request_id, sampling_rate, xray_trace_id, tenant_id,
 * the persistent requestId, then the decision's fields), the same level
 * threshold (the Logger's own, so LOG_LEVEL, POWERTOOLS_LOG_LEVEL, Lambda's log
 * level and debug sampling apply as before) and the same stream (stdout, as the
 * Logger's own Console writes INFO and DEBUG). The part common to an invocation
 * is serialized once when it begins; each line adds only its timestamp and its
 * decision fields. Powertools costs about 120 µs a line here; this, a few.
 *
 * Where the Logger would format differently (POWERTOOLS_DEV's indentation, a
 * non-UTC TZ), or for levels other than INFO and DEBUG, the Logger itself
 * writes the line. Callers pass facts only: never a token or an Authorization value.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/** Powertools' numeric thresholds (LogLevelThreshold). */
const THRESHOLD = { DEBUG: 8, INFO: 12 } as const;

type Attributes = Readonly<Record<string, unknown>>;

export interface DecisionLog {
  /** Start an invocation: its correlation keys, as `observability.invocation` gives them to the Logger. */
  begin(requestId: string, context: Context | undefined): void;
  /** Write one line, if the Logger's level lets it through. */
  write(level: 'INFO' | 'DEBUG', message: string, attributes: Attributes): void;
}

/** What Powertools leaves out of a line (LogItem.removeEmptyKeys). */
const empty = (value: unknown) => value === undefined || value === '' || value === null;

/** The X-Ray trace id, read where and as Powertools reads it (getXRayTraceIdFromEnv). */
function xrayTraceId(): string | undefined {
  const store = (globalThis as { awslambda?: { InvokeStore?: { getXRayTraceId(): string | undefined } } }).awslambda?.InvokeStore;
  const raw = store?.getXRayTraceId() ?? process.env._X_AMZN_TRACE_ID?.trim() ?? '';
  if (raw === '') return undefined;
  if (!raw.includes('=')) return raw;
  for (const field of raw.split(';')) {
    const [key, value] = field.split('=');
    if (key === 'Root') return value;
  }
  return undefined;
}

/** Powertools' own check (isDevMode), and whether its timestamp would carry a time-zone offset. */
function formatsDifferently(): boolean {
  const dev = process.env.POWERTOOLS_DEV?.trim().toLowerCase();
  if (dev === '1' || dev === 'true' || dev === 'on' || dev === 'yes' || dev === 'y') return true;
  const tz = process.env.TZ?.trim() ?? '';
  return tz !== '' && !tz.includes('UTC');
}

/**
 * `logger`: the Logger whose level and sampling rate the line follows.
 * `correlated`: the same Logger with the invocation's keys on, for the lines it writes itself.
 */
export function createDecisionLog(logger: Logger, serviceName: string, correlated: () => Logger = () => logger): DecisionLog {
  // The Logger's sampling rate as it resolved it (constructor or POWERTOOLS_LOGGER_SAMPLE_RATE).
  const samplingRate = (logger as unknown as { powertoolsLogData?: { sampleRateValue?: number } }).powertoolsLogData?.sampleRateValue ?? 0;
  const fallback = formatsDifferently();
  // Powertools' Utility: a cold start only when Lambda says the instance is on demand; flipped by each addContext.
  let coldStart = process.env.AWS_LAMBDA_INITIALIZATION_TYPE?.trim() === 'on-demand';
  const service = JSON.stringify(serviceName);
  let invocation: { context: Context | undefined; coldStart: boolean; requestId: string } | undefined;

  return {
    begin(requestId, context) {
      invocation = { context, coldStart, requestId };
      if (context) coldStart = false;
    },
    write(level, message, attributes) {
      if (THRESHOLD[level] < logger.level) return;
      if (fallback || !invocation) {
        if (level === 'INFO') correlated().info(message, attributes);
        else correlated().debug(message, attributes);
        return;
      }
      const { context } = invocation;
      const fields: Record<string, unknown> = {
        cold_start: context ? invocation.coldStart : undefined,
        function_arn: context?.invokedFunctionArn,
        function_memory_size: context?.memoryLimitInMB,
        function_name: context?.functionName,
        function_request_id: context?.awsRequestId,
        sampling_rate: samplingRate,
        xray_trace_id: xrayTraceId(),
        tenant_id: (context as { tenantId?: string } | undefined)?.tenantId,
        requestId: invocation.requestId,
      };
      for (const [key, value] of Object.entries(attributes)) fields[key] = value;
      let line = `{"level":"${level}","message":${JSON.stringify(message)},"timestamp":"${new Date().toISOString()}","service":${service}`;
      for (const key in fields) {
        const value = fields[key];
        if (!empty(value)) line += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
      }
      process.stdout.write(`${line}}\n`);
    },
  };
}
