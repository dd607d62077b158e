/**
 * The authorization server's signing keys (its JWKS), kept in memory across
 * invocations of one Lambda instance.
 *
 * jose's `createRemoteJWKSet` does most of this, but refuses every token, even
 * under a key it already holds, once its cache is stale and the endpoint is down.
 * Here:
 * - keys are fetched on first use, refreshed every `refreshIntervalMs`, and on an
 *   unknown `kid` at most once per `unknownKeyCooldownMs`, so a flood of junk kids
 *   cannot hammer the authorization server;
 * - a failed refresh keeps the keys already held: tokens under them keep working;
 * - only when a key is needed and cannot be had because the endpoint fails does
 *   the caller get `SigningKeysUnavailableError` (a 503, not a 401);
 * - the JWKS response is bounded in time and size, and only RSA keys usable for
 *   RS256 signatures are taken from it. A key that claims to be one but is unsafe
 *   to verify with (a public exponent other than 65537: with e = 1 anyone can
 *   forge a signature, and jose accepts such a key; `key_ops` without `verify`)
 *   is skipped, and reported once.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { findCause, WebSearchMcpError } from '../shared/errors.js';
import { boundedRequest, HttpRequestError, type BoundedResponse } from '../shared/http-request.js';

/** A bounded GET: the JWKS's answer, or an HttpRequestError (tests inject their own). */
export type BoundedGet = (
  url: string,
  options: { readonly timeoutMs: number; readonly maxBytes: number; readonly headers?: Readonly<Record<string, string>> },
) => Promise<Pick<BoundedResponse, 'status' | 'body'>>;

const boundedGet: BoundedGet = (url, { timeoutMs, maxBytes, headers }) =>
  boundedRequest(url, { method: 'GET', timeoutMs, maxBytes, ...(headers ? { headers } : {}) });

/** The keys cannot be had: the JWKS endpoint fails, or answers nothing usable. An outage (503), not a refusal. */
export class SigningKeysUnavailableError extends WebSearchMcpError {
  readonly code = 'ERR_SIGNING_KEYS_UNAVAILABLE' as const;
}

/** The token names no key the authorization server publishes. */
export class UnknownSigningKeyError extends WebSearchMcpError {
  readonly code = 'ERR_SIGNING_KEY_UNKNOWN' as const;
}

export interface SigningKeySourceOptions {
  readonly jwksUrl: string;
  /** How to GET the JWKS (node:http by default: the authorizer never loads fetch's undici). */
  readonly get?: BoundedGet;
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
  readonly refreshIntervalMs?: number;
  readonly unknownKeyCooldownMs?: number;
  readonly now?: () => number;
  /**
   * Told once per skipped key, however often the JWKS is fetched again, that a key meant
   * for RS256 signatures is unsafe to verify with: its `kid` (undefined without one) and
   * why. Never the key material.
   */
  readonly onSkippedKey?: (kid: string | undefined, reason: string) => void;
}

export const JWKS_DEFAULTS = {
  timeoutMs: 3_000,
  maxResponseBytes: 64 * 1024,
  maxKeys: 50,
  refreshIntervalMs: 10 * 60_000,
  unknownKeyCooldownMs: 30_000,
} as const;

/**
 * A published key as a node:crypto KeyObject: jose verifies with it (converting it to
 * a CryptoKey once, cached per key), and its modulus and exponent can be read.
 */
type VerificationKey = KeyObject;

/** The members of a JWK this source reads. */
interface Jwk {
  readonly kty?: unknown;
  readonly kid?: unknown;
  readonly use?: unknown;
  readonly alg?: unknown;
  readonly key_ops?: unknown;
  readonly n?: unknown;
  readonly e?: unknown;
}

export interface SigningKeySource {
  /** The key for a token's protected header, fetching the JWKS only when it must. */
  keyFor(header: { kid?: unknown; alg?: unknown }): Promise<VerificationKey>;
}

export function createSigningKeySource(options: SigningKeySourceOptions): SigningKeySource {
  const get = options.get ?? boundedGet;
  const timeoutMs = options.timeoutMs ?? JWKS_DEFAULTS.timeoutMs;
  const maxBytes = options.maxResponseBytes ?? JWKS_DEFAULTS.maxResponseBytes;
  const refreshIntervalMs = options.refreshIntervalMs ?? JWKS_DEFAULTS.refreshIntervalMs;
  const cooldownMs = options.unknownKeyCooldownMs ?? JWKS_DEFAULTS.unknownKeyCooldownMs;
  const now = options.now ?? Date.now;

  let keys = new Map<string, VerificationKey>();
  /** Keys published without a `kid`; usable only when a token has none either. */
  let unnamedKeys: VerificationKey[] = [];
  let fetchedAt = Number.NEGATIVE_INFINITY; // last successful fetch
  let attemptedAt = Number.NEGATIVE_INFINITY; // last attempt, successful or not
  let inFlight: Promise<void> | undefined;
  /** The skipped keys already reported (by reason, kid and modulus: unnamed keys are told apart too). */
  const reported = new Set<string>();
  const skip = (jwk: Jwk & { n: string }, reason: string) => {
    const identity = `${reason}\n${String(jwk.kid)}\n${jwk.n}`;
    if (reported.has(identity)) return;
    // Bounded however many keys a JWKS publishes over an instance's life.
    if (reported.size >= JWKS_DEFAULTS.maxKeys * 4) reported.clear();
    reported.add(identity);
    options.onSkippedKey?.(typeof jwk.kid === 'string' ? jwk.kid : undefined, reason);
  };

  async function fetchKeys(): Promise<void> {
    attemptedAt = now();
    let response;
    try {
      response = await get(options.jwksUrl, {
        timeoutMs,
        maxBytes,
        headers: { Accept: 'application/jwk-set+json, application/json' },
      });
    } catch (error) {
      const failure = findCause(error, HttpRequestError)?.kind ?? 'network';
      if (failure === 'too-large') throw new SigningKeysUnavailableError(`JWKS response exceeds ${maxBytes} bytes`, { cause: error });
      throw new SigningKeysUnavailableError(`JWKS fetch failed: ${failure}`, { cause: error });
    }
    if (response.status !== 200) {
      throw new SigningKeysUnavailableError(`JWKS endpoint answered HTTP ${response.status}`);
    }
    let document: unknown;
    try {
      document = JSON.parse(response.body.toString('utf8'));
    } catch (error) {
      throw new SigningKeysUnavailableError('JWKS response is not JSON', { cause: error });
    }
    const published = (document as { keys?: unknown })?.keys;
    if (!Array.isArray(published) || published.length > JWKS_DEFAULTS.maxKeys) {
      throw new SigningKeysUnavailableError('JWKS response has no usable "keys" array');
    }
    const named = new Map<string, VerificationKey>();
    const unnamed: VerificationKey[] = [];
    for (const jwk of published as Jwk[]) {
      if (!isRs256SigningKey(jwk)) continue;
      // RFC 7517 section 4.3: when present, key_ops say what the key is for.
      if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) {
        skip(jwk, 'its key_ops do not include verify');
        continue;
      }
      let key: VerificationKey;
      try {
        key = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
      } catch {
        continue; // one broken key must not take the others down
      }
      // The modulus itself, not its encoding's length: leading zero bytes do not count.
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < RSA_MIN_MODULUS_BITS) continue;
      if (key.asymmetricKeyDetails?.publicExponent !== RSA_PUBLIC_EXPONENT) {
        skip(jwk, 'its public exponent is not 65537');
        continue;
      }
      if (typeof jwk.kid === 'string' && jwk.kid) named.set(jwk.kid, key);
      else unnamed.push(key);
    }
    if (named.size === 0 && unnamed.length === 0) {
      throw new SigningKeysUnavailableError('JWKS response holds no RSA signing key');
    }
    keys = named;
    unnamedKeys = unnamed;
    fetchedAt = now();
  }

  /** One fetch at a time: concurrent callers share it. */
  function refresh(): Promise<void> {
    inFlight ??= fetchKeys().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  function lookup(kid: unknown): VerificationKey | undefined {
    if (typeof kid === 'string') return keys.get(kid);
    if (kid === undefined && keys.size + unnamedKeys.length === 1) return unnamedKeys[0] ?? keys.values().next().value;
    return undefined;
  }

  return {
    async keyFor(header) {
      const haveKeys = fetchedAt !== Number.NEGATIVE_INFINITY;
      const stale = now() - fetchedAt >= refreshIntervalMs;
      const coolingDown = now() - attemptedAt < cooldownMs;
      if (!haveKeys || (stale && !coolingDown)) {
        try {
          await refresh();
        } catch (error) {
          // Keys already held stay good through an outage of the endpoint.
          if (!haveKeys) throw error;
        }
      }
      const known = lookup(header.kid);
      if (known) return known;
      if (now() - attemptedAt < cooldownMs) throw new UnknownSigningKeyError('No signing key matches the token');
      await refresh(); // a rotated key: fetch once, then the cooldown applies
      const rotated = lookup(header.kid);
      if (rotated) return rotated;
      throw new UnknownSigningKeyError('No signing key matches the token');
    },
  };
}

/** RS256 needs a modulus of 2048 bits or more (RFC 7518 section 3.3); weaker keys are skipped. */
const RSA_MIN_MODULUS_BITS = 2048;
/** F4, the exponent every RSA signing key in use has (RFC 7518 names no other; Scalekit's keys use it). */
const RSA_PUBLIC_EXPONENT = 65537n;
const RSA_2048_MODULUS_BASE64URL_LENGTH = Math.ceil(RSA_MIN_MODULUS_BITS / 6);

function isRs256SigningKey(jwk: Jwk): jwk is Jwk & { n: string; e: string } {
  return (
    typeof jwk === 'object' &&
    jwk !== null &&
    jwk.kty === 'RSA' &&
    typeof jwk.n === 'string' &&
    jwk.n.length >= RSA_2048_MODULUS_BASE64URL_LENGTH &&
    typeof jwk.e === 'string' &&
    (jwk.use === undefined || jwk.use === 'sig') &&
    (jwk.alg === undefined || jwk.alg === 'RS256')
  );
}
