/**
 * RS256 JWT verification on node:crypto, synchronous: the one thing the
 * authorizer does per fresh token.
 *
 * Why not jose's `jwtVerify`: jose verifies through WebCrypto, whose
 * `subtle.verify` runs on libuv's thread pool; the hop there and back costs
 * about three times the RSA check itself (bench: `crypto.verify` 23 µs,
 * `subtle.verify` 92 µs, jose's `jwtVerify` 110 µs), on every fresh token.
 * Here the signature is checked with `crypto.verify` on a KeyObject, inline.
 *
 * The checks are jose's, in jose's order, for the options the authorizer used
 * (`algorithms: ['RS256']`, `issuer` and `audience` lists, `requiredClaims:
 * ['exp']`, `clockTolerance`): test/unit/authorizer/jwt-differential.test.ts
 * sends every token shape to both and demands the same verdict and reason.
 * Only RS256 is accepted, only under a key the caller's `keyFor` resolves
 * (never one named by the token's `jwk`, `jku` or `x5u`), and only compact
 * serialization with a base64url payload.
 */
import { constants, verify, type KeyObject } from 'node:crypto';

/** Why a token is refused; named as the authorizer's decision reasons. */
export type JwtRejection = 'malformed' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'wrong_audience' | 'wrong_issuer';

export class JwtRejectedError extends Error {
  override readonly name = 'JwtRejectedError';
  constructor(
    readonly reason: JwtRejection,
    message: string,
  ) {
    super(message);
  }
}

export interface JwtPolicy {
  /** Accepted `iss` values, compared exactly. */
  readonly issuers: readonly string[];
  /** The token's `aud` (a string, or an array) must hold one of these, compared exactly. */
  readonly audiences: readonly string[];
  /** Seconds of clock skew tolerated on `exp` and `nbf`. */
  readonly clockToleranceSeconds: number;
}

export type JwtHeader = Readonly<Record<string, unknown>>;
export type JwtClaims = Readonly<Record<string, unknown>>;

/** The key for a token's protected header; its errors reach the caller unchanged. */
export type KeyResolver = (header: JwtHeader) => Promise<KeyObject> | KeyObject;

/** Three non-empty base64url segments: the only form verifyJwt reads. */
export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** UTF-8 that refuses invalid sequences and, like WHATWG decoders, drops a leading BOM (as jose decodes). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const reject = (reason: JwtRejection, message: string): never => {
  throw new JwtRejectedError(reason, message);
};

/** base64url without padding; a length of 1 mod 4 is no encoding at all (as `atob` says). */
function base64url(segment: string, what: string): Buffer {
  if (segment.length % 4 === 1) reject('malformed', `the ${what} is not base64url`);
  return Buffer.from(segment, 'base64url');
}

/** A JSON object (not an array, not null), from UTF-8 bytes. */
function jsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    return reject('malformed', `the ${what} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) reject('malformed', `the ${what} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * `crit` as RFC 7515 section 4.1.11 and jose read it: a non-empty array of
 * non-empty names, each understood (only `b64`, RFC 7797) and present. Returns
 * whether the payload is base64url-encoded.
 */
function payloadIsEncoded(header: Record<string, unknown>): boolean {
  const { crit } = header;
  if (crit === undefined) return true;
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((name) => typeof name !== 'string' || name.length === 0)) {
    reject('malformed', '"crit" is not a list of header names');
  }
  for (const name of crit as string[]) {
    if (name !== 'b64') reject('malformed', `"crit" names an extension this verifier does not understand`);
    if (!Object.hasOwn(header, name) || header[name] === undefined) reject('malformed', `"crit" names a missing header`);
  }
  if (!(crit as string[]).includes('b64')) return true;
  if (typeof header.b64 !== 'boolean') reject('malformed', '"b64" is not a boolean');
  return header.b64 as boolean;
}

function numericDate(claims: Record<string, unknown>, name: 'iat' | 'nbf' | 'exp', reasonIfInvalid: JwtRejection): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') reject(reasonIfInvalid, `"${name}" is not a number`);
  return value as number;
}

/** The audience check: `aud` a string, or an array of which one member is accepted. */
function hasAudience(aud: unknown, accepted: readonly string[]): boolean {
  if (typeof aud === 'string') return accepted.includes(aud);
  if (Array.isArray(aud)) return accepted.some((audience) => aud.includes(audience));
  return false;
}

/**
 * Verify a compact RS256 JWT and return its claims, or throw JwtRejectedError
 * (or whatever `keyFor` throws). `nowMs`: the time to check `exp` and `nbf` at.
 */
export async function verifyJwt(token: string, keyFor: KeyResolver, policy: JwtPolicy, nowMs: number = Date.now()): Promise<JwtClaims> {
  if (!COMPACT_JWS.test(token)) reject('malformed', 'not a compact JWS');
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  const encodedHeader = token.slice(0, firstDot);
  const encodedPayload = token.slice(firstDot + 1, secondDot);

  const header = jsonObject(base64url(encodedHeader, 'header'), 'header');
  const encoded = payloadIsEncoded(header);
  const { alg } = header;
  if (typeof alg !== 'string' || alg === '') reject('malformed', '"alg" is missing');
  if (alg !== 'RS256') reject('malformed', '"alg" is not RS256');

  const key = await keyFor(header);
  const signature = base64url(token.slice(secondDot + 1), 'signature');
  let valid = false;
  try {
    // The signing input is ASCII (the pattern above): its bytes are the string's.
    valid = verify('sha256', Buffer.from(token.slice(0, secondDot), 'latin1'), { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    valid = false;
  }
  if (!valid) reject('bad_signature', 'the signature does not verify');
  // RFC 7797's unencoded payload is no JWT (RFC 7519 section 7.2): refused, even when signed.
  if (!encoded) reject('malformed', 'the payload is not base64url-encoded');

  const claims = jsonObject(base64url(encodedPayload, 'payload'), 'payload');
  // Presence first, in jose's order: iss, aud, exp.
  if (!Object.hasOwn(claims, 'iss')) reject('wrong_issuer', '"iss" is missing');
  if (!Object.hasOwn(claims, 'aud')) reject('wrong_audience', '"aud" is missing');
  if (!Object.hasOwn(claims, 'exp')) reject('malformed', '"exp" is missing');
  if (!policy.issuers.includes(claims.iss as string)) reject('wrong_issuer', '"iss" is not accepted');
  if (!hasAudience(claims.aud, policy.audiences)) reject('wrong_audience', '"aud" names no accepted audience');

  const now = Math.floor(nowMs / 1000);
  const tolerance = policy.clockToleranceSeconds;
  numericDate(claims, 'iat', 'malformed');
  const nbf = numericDate(claims, 'nbf', 'not_yet_valid');
  if (nbf !== undefined && nbf > now + tolerance) reject('not_yet_valid', '"nbf" is in the future');
  const exp = numericDate(claims, 'exp', 'malformed');
  if (exp !== undefined && exp <= now - tolerance) reject('expired', '"exp" is in the past');
  return claims;
}
