/**
 * The token decision: from an Authorization header to allow, deny (missing
 * scope), unauthorized (with a reason) or unavailable (keys unreachable).
 * Pure of AWS: policy.ts maps decisions to what API Gateway understands.
 *
 * The steps: take the Bearer token, check its shape cheaply, verify it with
 * jose's `jwtVerify` (RS256 only, under a key the signing-key source resolves,
 * issuer, audience, exp/nbf with a small tolerance), read its scopes.
 */
import { createHash } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { CLOCK_TOLERANCE_SECONDS, hasIdentity, isScopeToken, organizationIdOf, type Caller } from '../shared/caller.js';
import { SigningKeysUnavailableError, UnknownSigningKeyError, type SigningKeySource } from './signing-keys.js';

export { CLOCK_TOLERANCE_SECONDS, type Caller };

/** Why a token was refused with 401. */
export type RejectionReason =
  | 'missing'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'wrong_issuer'
  /** A scope that is not one RFC 6749 scope token (a space inside an array element, a control character...). */
  | 'malformed_scope'
  /** A valid token whose jti, sub or client_id is on the operator's denylist. */
  | 'revoked'
  /** A token with neither `sub` nor `client_id` (nor `azp`): nobody to count, limit or deny by name. */
  | 'no_identity';

export type Decision =
  | { readonly outcome: 'allow'; readonly caller: Caller }
  | { readonly outcome: 'insufficient_scope'; readonly caller: Caller; readonly missingScopes: readonly string[] }
  | { readonly outcome: 'unauthorized'; readonly reason: RejectionReason; readonly tokenId?: string; readonly caller?: Caller; readonly deniedBy?: string }
  | { readonly outcome: 'unavailable'; readonly reason: 'jwks_unavailable' | 'denylist_unavailable'; readonly tokenId?: string };

/**
 * Far above any real access token (Scalekit's are ~1 KB), far below anything
 * costly: longer headers are refused before any parsing.
 */
export const MAX_AUTHORIZATION_HEADER_LENGTH = 8 * 1024;

/**
 * Three non-empty base64url segments: a compact JWS. Anything else (a JWE, padding,
 * whitespace) is refused before jose or the key source is asked.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface AccessTokenPolicy {
  /** Accepted `iss` values, compared exactly. */
  readonly issuers: readonly string[];
  /** The token's `aud` must contain one of these, compared exactly. */
  readonly audiences: readonly string[];
  readonly requiredScopes: readonly string[];
  readonly keys: SigningKeySource;
  readonly now?: () => number;
}

/** The token from `Bearer <token>` (scheme case-insensitive); `null` when the header is anything else. */
export function bearerToken(authorization: string): string | null {
  const match = /^Bearer +([^\s]+) *$/i.exec(authorization);
  return match ? match[1]! : null;
}

export function shortHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 12);
}

/**
 * Scopes from a space-separated `scope` string and/or a `scopes` array (Scalekit issues both forms),
 * or `null` when any of them is not one scope token (NQCHAR, RFC 6749 section 3.3). Such a token is
 * refused whole: an array element `"x web-search:crawl"` must never become two scopes anywhere
 * downstream. Claims of the wrong type (a number, an object) grant nothing, as before.
 */
export function scopesOf(payload: JWTPayload): string[] | null {
  const granted = new Set<string>();
  if (typeof payload.scope === 'string') {
    // Repeated, leading or trailing spaces make empty elements, which name no scope.
    for (const scope of payload.scope.split(' ')) {
      if (scope === '') continue;
      if (!isScopeToken(scope)) return null;
      granted.add(scope);
    }
  }
  if (Array.isArray(payload.scopes)) {
    for (const scope of payload.scopes) {
      if (typeof scope !== 'string' || scope === '') continue;
      if (!isScopeToken(scope)) return null;
      granted.add(scope);
    }
  }
  return [...granted];
}

/** The scopes a token grants; a token with a malformed scope grants none (the authorizer refuses it). */
export function grantedScopes(payload: JWTPayload): string[] {
  return scopesOf(payload) ?? [];
}

/** The one table from a verification failure to a decision's reason. */
function rejectionFor(error: unknown): RejectionReason | 'jwks_unavailable' {
  if (error instanceof SigningKeysUnavailableError) return 'jwks_unavailable';
  if (error instanceof UnknownSigningKeyError) return 'bad_signature';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'wrong_issuer';
    if (error.claim === 'aud') return 'wrong_audience';
    if (error.claim === 'nbf') return 'not_yet_valid';
    return 'malformed'; // exp missing or not a number, iat not a number, and the like
  }
  // JWSInvalid, JWTInvalid, JOSEAlgNotAllowed, JOSENotSupported (crit), and
  // anything else a hostile token can provoke: refused, never an outage.
  return 'malformed';
}

export function createAccessTokenVerifier(policy: AccessTokenPolicy) {
  const verifyOptions = {
    algorithms: ['RS256'],
    issuer: [...policy.issuers],
    audience: [...policy.audiences],
    requiredClaims: ['exp'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  };
  // Only the source's keys: never one the token names itself (`jwk`, `jku`, `x5u`).
  const keyFor = (header: { kid?: unknown; alg?: unknown }) => policy.keys.keyFor(header);

  return async function verifyAccessToken(authorization: string | undefined): Promise<Decision> {
    if (authorization === undefined || authorization === '') return { outcome: 'unauthorized', reason: 'missing' };
    if (authorization.length > MAX_AUTHORIZATION_HEADER_LENGTH) return { outcome: 'unauthorized', reason: 'malformed' };
    const token = bearerToken(authorization);
    if (token === null || !COMPACT_JWS.test(token)) return { outcome: 'unauthorized', reason: 'malformed' };

    let payload: JWTPayload;
    try {
      const options = policy.now ? { ...verifyOptions, currentDate: new Date(policy.now()) } : verifyOptions;
      ({ payload } = await jwtVerify(token, keyFor, options));
    } catch (error) {
      const reason = rejectionFor(error);
      return reason === 'jwks_unavailable'
        ? { outcome: 'unavailable', reason, tokenId: shortHash(token) }
        : { outcome: 'unauthorized', reason, tokenId: shortHash(token) };
    }

    // Scalekit's tokens carry a jti; hashing the token is only needed without one.
    const tokenId = typeof payload.jti === 'string' && payload.jti.length <= 128 ? payload.jti : shortHash(token);
    const scopes = scopesOf(payload);
    if (scopes === null) return { outcome: 'unauthorized', reason: 'malformed_scope', tokenId };
    const organizationId = organizationIdOf(payload.oid);
    const caller: Caller = {
      sub: typeof payload.sub === 'string' ? payload.sub : '',
      clientId: typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : '',
      ...(organizationId !== undefined ? { organizationId } : {}),
      scopes,
      exp: payload.exp as number,
      tokenId,
    };
    if (!hasIdentity(caller)) return { outcome: 'unauthorized', reason: 'no_identity', tokenId };
    const missingScopes = policy.requiredScopes.filter((scope) => !scopes.includes(scope));
    if (missingScopes.length > 0) return { outcome: 'insufficient_scope', caller, missingScopes };
    return { outcome: 'allow', caller };
  };
}
