/**
 * Structured JSON logs, one line per event, correlated by the API Gateway
 * request id. Callers pass facts (outcome, reason, sub, client_id, a token's
 * short hash), never a token, an Authorization value or a key.
 */

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const order: Record<Level, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export interface Logger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
  /** Attributes added to every line until the next call (the invocation's request id). */
  setContext(attributes: Record<string, unknown>): void;
}

export function createLogger(service: string, level: string | undefined = process.env.LOG_LEVEL): Logger {
  const threshold = order[(level?.toUpperCase() as Level) ?? 'INFO'] ?? order.INFO;
  let context: Record<string, unknown> = {};
  const write = (lineLevel: Level, message: string, attributes?: Record<string, unknown>) => {
    if (order[lineLevel] < threshold) return;
    const line = JSON.stringify({
      level: lineLevel,
      message,
      timestamp: new Date().toISOString(),
      service,
      ...context,
      ...attributes,
    });
    (lineLevel === 'ERROR' || lineLevel === 'WARN' ? process.stderr : process.stdout).write(`${line}\n`);
  };
  return {
    debug: (message, attributes) => write('DEBUG', message, attributes),
    info: (message, attributes) => write('INFO', message, attributes),
    warn: (message, attributes) => write('WARN', message, attributes),
    error: (message, attributes) => write('ERROR', message, attributes),
    setContext: (attributes) => {
      context = attributes;
    },
  };
}

/** An error's class and message for a log line, without its stack. */
export function describeError(error: unknown): { errorName: string; errorMessage: string } {
  if (error instanceof Error) return { errorName: error.name, errorMessage: error.message };
  return { errorName: typeof error, errorMessage: String(error) };
}
