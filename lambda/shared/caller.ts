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

/** The authorizer context for a caller: flat, and only strings and numbers, as API Gateway requires. */
export function callerContext(caller: Caller): Record<string, string | number> {
  return { sub: caller.sub, clientId: caller.clientId, scopes: caller.scopes.join(' '), exp: caller.exp, tokenId: caller.tokenId };
}

/** The caller from `requestContext.authorizer`, or undefined if it is absent or not what our authorizer writes. */
export function callerFromContext(context: Readonly<Record<string, unknown>> | undefined | null): Caller | undefined {
  if (!context) return undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
  const exp = Number(text(context.exp));
  const scopes = text(context.scopes);
  if (!Number.isFinite(exp) || exp <= 0 || scopes === undefined) return undefined;
  return {
    sub: text(context.sub) ?? '',
    clientId: text(context.clientId) ?? '',
    scopes: scopes.split(' ').filter(Boolean),
    exp,
    tokenId: text(context.tokenId) ?? '',
  };
}

/** Expired past the tolerance, on the same boundary as jose's check in the authorizer. */
export function isExpired(caller: Caller, nowMs: number): boolean {
  return caller.exp + CLOCK_TOLERANCE_SECONDS <= Math.floor(nowMs / 1000);
}
