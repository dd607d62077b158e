/**
 * Step 4: the authorization server's signing keys (JWKS), which the authorizer
 * fetches to verify every token: they must be reachable and hold RS256 keys with
 * a `kid`, the kind Scalekit signs access tokens with.
 */
import type { JSONWebKeySet } from 'jose';
import { authorizationServerFix, README } from '../guidance.js';
import { getJsonObject, type HttpClient, type Json } from '../http.js';
import { fail, pass, type CheckResult } from '../report.js';

export interface SigningKeysFindings {
  readonly check: CheckResult;
  readonly jwks?: JSONWebKeySet;
  readonly jwksUri?: string;
}

/** RSA keys a verifier can use for RS256: jose's `createLocalJWKSet` would pick these for an RS256 token with a matching kid. */
function rs256Keys(keys: readonly unknown[]): Json[] {
  return keys.filter((key): key is Json => {
    if (typeof key !== 'object' || key === null) return false;
    const jwk = key as Json;
    return (
      jwk.kty === 'RSA' &&
      typeof jwk.kid === 'string' &&
      jwk.kid !== '' &&
      typeof jwk.n === 'string' &&
      typeof jwk.e === 'string' &&
      (jwk.alg === undefined || jwk.alg === 'RS256') &&
      (jwk.use === undefined || jwk.use === 'sig')
    );
  });
}

export async function checkSigningKeys(http: HttpClient, metadata: Json | undefined, authorizationServer: string): Promise<SigningKeysFindings> {
  const declared = typeof metadata?.jwks_uri === 'string' && URL.canParse(metadata.jwks_uri) ? metadata.jwks_uri : undefined;
  const issuer = typeof metadata?.issuer === 'string' && URL.canParse(metadata.issuer) ? metadata.issuer : authorizationServer;
  // Scalekit publishes its keys at {environment}/keys, and the environment is the issuer's origin.
  const jwksUri = declared ?? `${new URL(issuer).origin}/keys`;
  const source = declared ? 'jwks_uri' : `${metadata ? 'no jwks_uri in the metadata' : 'no metadata'}, so Scalekit's {environment}/keys`;
  const fixBase = `The authorizer fetches the same keys to verify every token; if it cannot, every call gets 503. JWKS is at {SCALEKIT_ENVIRONMENT_URL}/keys: check SCALEKIT_ENVIRONMENT_URL (${README.configuration}).`;

  const fetched = await getJsonObject(http, jwksUri);
  if (!fetched.ok) {
    const fix = fetched.network ? `${authorizationServerFix(authorizationServer, fetched.network)} ${fixBase}` : fixBase;
    return { check: fail(4, 'signing-keys', `JWKS (${source}): ${fetched.problem}`, fix), jwksUri };
  }
  const keys = Array.isArray(fetched.value.keys) ? fetched.value.keys : undefined;
  if (!keys) return { check: fail(4, 'signing-keys', `JWKS at ${jwksUri} has no "keys" array`, fixBase), jwksUri };
  const usable = rs256Keys(keys);
  if (usable.length === 0) {
    return {
      check: fail(4, 'signing-keys', `JWKS at ${jwksUri} has ${keys.length} key(s), none an RSA key for RS256 with a kid`, `Scalekit signs access tokens with RS256 keys that carry a kid; this is not its JWKS. ${fixBase}`),
      jwksUri,
    };
  }
  return {
    check: pass(4, 'signing-keys', `JWKS at ${jwksUri}: ${usable.length} RS256 key(s) (kid ${usable.map((key) => key.kid as string).join(', ')})`),
    jwks: { keys: usable } as unknown as JSONWebKeySet,
    jwksUri,
  };
}
