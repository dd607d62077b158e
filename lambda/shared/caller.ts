/**
 * Who is calling, as the authorizer established it and API Gateway passes it
 * to integrations in `requestContext.authorizer` (values arrive as strings).
 */

/** Clock skew tolerated on a token's `exp` and `nbf`, by the authorizer and by the MCP function's re-check. */
export const CLOCK_TOLERANCE_SECONDS = 10;

export interface Caller {
  readonly sub: string;
  readonly clientId: string;
  /**
   * The organisation the token was issued in (Scalekit's `oid`), when it names one that
   * `organizationIdOf` accepts: the scope the result cache shares entries in by default.
   */
  readonly organizationId?: string;
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
 * An organisation id as we take it from a token or a context: printable ASCII without spaces, at
 * most 128 characters (Scalekit's are `org_` and digits). Anything else is no organisation, so the
 * caller falls back to entries of their own, never into someone else's scope.
 */
const ORGANIZATION_ID = /^[\x21-\x7E]{1,128}$/;

export function organizationIdOf(value: unknown): string | undefined {
  return typeof value === 'string' && ORGANIZATION_ID.test(value) ? value : undefined;
}

/** A caller counts only if the token names a user or a client: one that names neither is refused (the authorizer and admission). */
export function hasIdentity(caller: Pick<Caller, 'sub' | 'clientId'>): boolean {
  return caller.sub !== '' || caller.clientId !== '';
}

/**
 * The authorizer context for a caller: flat, and only strings and numbers, as API Gateway requires.
 * Scopes travel as a JSON array, never joined with spaces: a joined list could be split into
 * scopes the token never carried.
 */
export function callerContext(caller: Caller): Record<string, string | number> {
  return {
    sub: caller.sub,
    clientId: caller.clientId,
    ...(caller.organizationId !== undefined ? { organizationId: caller.organizationId } : {}),
    scopes: JSON.stringify(caller.scopes),
    exp: caller.exp,
    tokenId: caller.tokenId,
  };
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

/**
 * The caller from `requestContext.authorizer`, or undefined if it is absent or not what our authorizer
 * writes (which includes a caller with neither a sub nor a client id).
 */
export function callerFromContext(context: Readonly<Record<string, unknown>> | undefined | null): Caller | undefined {
  if (!context) return undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
  const exp = Number(text(context.exp));
  const scopesText = context.scopes;
  const scopes = typeof scopesText === 'string' ? scopesFromContext(scopesText) : undefined;
  if (!Number.isFinite(exp) || exp <= 0 || scopes === undefined) return undefined;
  const sub = text(context.sub) ?? '';
  const clientId = text(context.clientId) ?? '';
  if (!hasIdentity({ sub, clientId })) return undefined;
  const organizationId = organizationIdOf(context.organizationId);
  return { sub, clientId, ...(organizationId !== undefined ? { organizationId } : {}), scopes, exp, tokenId: text(context.tokenId) ?? '' };
}

/** Expired past the tolerance, on the same boundary as the authorizer's check (jose's rule). */
export function isExpired(caller: Caller, nowMs: number): boolean {
  return caller.exp + CLOCK_TOLERANCE_SECONDS <= Math.floor(nowMs / 1000);
}
