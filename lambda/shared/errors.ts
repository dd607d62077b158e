/**
 * The one error base of this project, after jose's `src/util/errors.ts`: every
 * error we throw is a `WebSearchMcpError` with a `code` from the union below and,
 * where another error caused it, that error as `cause`. Callers tell errors apart
 * with `instanceof` (or `code`), never by matching `name` or message strings.
 *
 * Errors thrown by libraries (jose, undici) are recognised once, at
 * the boundary that calls them, and wrapped here with the original as `cause`.
 */

/** Every code an error of this project can carry. A new error class adds its code here. */
export type ErrorCode =
  | 'ERR_CONFIGURATION'
  | 'ERR_BAD_REQUEST'
  | 'ERR_TOO_LARGE'
  | 'ERR_HTTP_REQUEST'
  | 'ERR_UPSTREAM'
  | 'ERR_PARAMETER_NOT_FOUND'
  | 'ERR_PARAMETER_ACCESS_DENIED'
  | 'ERR_PARAMETER_UNAVAILABLE'
  | 'ERR_AWS_REQUEST'
  | 'ERR_AUTHORIZER_UNAVAILABLE'
  | 'ERR_SIGNING_KEYS_UNAVAILABLE'
  | 'ERR_SIGNING_KEY_UNKNOWN'
  | 'ERR_DENYLIST_UNAVAILABLE'
  | 'ERR_TAVILY'
  | 'ERR_USAGE_STORE'
  | 'ERR_TASK_STORE'
  | 'ERR_TOOL_ADVICE'
  | 'ERR_CLIENT_METADATA_DOCUMENT'
  | 'ERR_DOCTOR_USAGE';

export abstract class WebSearchMcpError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    // The subclass's own name, so a log line or a stack says which error it is.
    this.name = new.target.name;
  }
}

/** The first error in `error`'s `cause` chain (itself included) that is an instance of `type`. */
export function findCause<T extends Error>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && current !== undefined && !seen.has(current)) {
    if (current instanceof type) return current;
    seen.add(current);
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
