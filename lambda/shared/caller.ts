/**
 * Who is calling, as the authorizer established it and API Gateway passes it
 * to integrations in `requestContext.authorizer` (values arrive as strings).
 */

/** Clock skew tolerated on a token's `exp` and `nbf`, by the authorizer and by the MCP function's re-check. */
export const CLOCK_TOLERANCE_SECONDS = 10;

export interface Caller {
  readonly sub: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  /** The token's `jti`, or a short hash of it: enough to correlate logs, useless to replay. */
  readonly tokenId: string;
}

/** One scope token: NQCHAR, RFC 6749 section 3.3 (printable ASCII except space, `"` and `\`). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && SCOPE_TOKEN.test(value);
}

/**
 * The authorizer context for a caller: flat, and only strings and numbers, as API Gateway requires.
 * Scopes travel as a JSON array, never joined with spaces: a joined list could be split into
 * scopes the token never carried.
 */
export function callerContext(caller: Caller): Record<string, string | number> {
  return { sub: caller.sub, clientId: caller.clientId, scopes: JSON.stringify(caller.scopes), exp: caller.exp, tokenId: caller.tokenId };
}

/** The scopes from their context form: a JSON array of scope tokens, or undefined for anything else. */
function scopesFromContext(value: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) && parsed.every(isScopeToken) ? parsed : undefined;
}

/** The caller from `requestContext.authorizer`, or undefined if it is absent or not what our authorizer writes. */
export function callerFromContext(context: Readonly<Record<string, unknown>> | undefined | null): Caller | undefined {
  if (!context) return undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
  const exp = Number(text(context.exp));
  const scopesText = context.scopes;
  const scopes = typeof scopesText === 'string' ? scopesFromContext(scopesText) : undefined;
  if (!Number.isFinite(exp) || exp <= 0 || scopes === undefined) return undefined;
  return {
    sub: text(context.sub) ?? '',
    clientId: text(context.clientId) ?? '',
    scopes,
    exp,
    tokenId: text(context.tokenId) ?? '',
  };
}

/** Expired past the tolerance, on the same boundary as the authorizer's check (jose's rule). */
export function isExpired(caller: Caller, nowMs: number): boolean {
  return caller.exp + CLOCK_TOLERANCE_SECONDS <= Math.floor(nowMs / 1000);
}
