import { createSigningKeySource, type SigningKeySource } from '../../../lambda/authorizer/signing-keys.js';
import {
  bearerToken,
  createAccessTokenVerifier,
  grantedScopes,
  scopesOf,
  MAX_AUTHORIZATION_HEADER_LENGTH,
  shortHash,
  type AccessTokenPolicy,
  type Decision,
} from '../../../lambda/authorizer/verify-access-token.js';
import { createSigningKey, exponentOneForgery, startTokenIssuer, type TokenIssuer } from '../../fixtures/token-issuer.js';
import { rsaKey, signCompact, signCompactWithKeyObject, weakRsaKey } from './keys.js';

const RESOURCE_IDENTIFIER = 'https://mcp.example.com/web-search/mcp';

let issuer: TokenIssuer;

beforeAll(async () => {
  issuer = await startTokenIssuer({ resourceId: 'res_test123', audience: () => RESOURCE_IDENTIFIER });
});

afterAll(async () => {
  await issuer?.close();
});

beforeEach(() => {
  issuer.jwksBehaviour = 'ok';
  issuer.publish([issuer.key]);
});

function verifier(overrides: Partial<AccessTokenPolicy> & { keys?: SigningKeySource } = {}) {
  return createAccessTokenVerifier({
    issuers: [issuer.environmentUrl, `${issuer.environmentUrl}/resources/${issuer.resourceId}`],
    audiences: [RESOURCE_IDENTIFIER, issuer.resourceId],
    requiredScopes: ['web-search:read'],
    keys: createSigningKeySource({ jwksUrl: `${issuer.environmentUrl}/keys` }),
    ...overrides,
  });
}

const bearer = (token: string) => `Bearer ${token}`;

function expectUnauthorized(decision: Decision, reason: string, token?: string) {
  expect(decision).toEqual(token === undefined ? { outcome: 'unauthorized', reason } : { outcome: 'unauthorized', reason, tokenId: shortHash(token) });
}

describe('allowed tokens', () => {
  test('a Scalekit-shaped token (environment issuer, scope string, both audiences) is allowed with its caller', async () => {
    const token = await issuer.mint({ claims: { jti: 'tkn_abc' } });
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
    expect(await verifier()(bearer(token))).toEqual({
      outcome: 'allow',
      caller: { sub: 'usr_1234567890', clientId: 'skc_client_abc', organizationId: 'org_1', scopes: ['web-search:read'], exp: claims.exp, tokenId: 'tkn_abc' },
    });
  });

  test('the resource issuer form is accepted too', async () => {
    const token = await issuer.mint({ claims: { iss: `${issuer.environmentUrl}/resources/${issuer.resourceId}` } });
    expect((await verifier()(bearer(token))).outcome).toBe('allow');
  });

  test('scopes as a `scopes` array are read', async () => {
    const token = await issuer.mint({ claims: { scope: undefined, scopes: ['web-search:read', 'offline_access'] } });
    const decision = await verifier()(bearer(token));
    expect(decision.outcome).toBe('allow');
    expect((decision as Extract<Decision, { outcome: 'allow' }>).caller.scopes).toEqual(['web-search:read', 'offline_access']);
  });

  test('scope string and scopes array together are merged without duplicates', async () => {
    const token = await issuer.mint({ claims: { scope: 'openid  web-search:read', scopes: ['web-search:read', 'profile', 7, ''] } });
    const decision = (await verifier()(bearer(token))) as Extract<Decision, { outcome: 'allow' }>;
    expect(decision.caller.scopes).toEqual(['openid', 'web-search:read', 'profile']);
  });

  test.each([
    ['the resource identifier alone', [RESOURCE_IDENTIFIER]],
    ['the resource id alone', ['res_test123']],
    ['the resource id as a string', 'res_test123'],
    ['the resource identifier as a string', RESOURCE_IDENTIFIER],
    ['another audience besides ours', ['https://other.example.com/mcp', 'res_test123']],
  ])('audience: %s', async (_why, aud) => {
    const token = await issuer.mint({ claims: { aud } });
    expect((await verifier()(bearer(token))).outcome).toBe('allow');
  });

  test('the scheme is case-insensitive and extra spaces around the token are tolerated', async () => {
    const token = await issuer.mint();
    expect((await verifier()(`bearer   ${token}  `)).outcome).toBe('allow');
    expect((await verifier()(`BEARER ${token}`)).outcome).toBe('allow');
  });

  test('a token naming neither a user nor a client is refused (no_identity): nobody to count or deny by name', async () => {
    const token = await issuer.mint({ claims: { sub: undefined, client_id: undefined } });
    expect(await verifier()(bearer(token))).toEqual({ outcome: 'unauthorized', reason: 'no_identity', tokenId: expect.any(String) });
  });

  test("the organisation (Scalekit's oid) is carried to the caller", async () => {
    const decision = (await verifier()(bearer(await issuer.mint({ claims: { oid: 'org_42' } })))) as Extract<Decision, { outcome: 'allow' }>;
    expect(decision.caller.organizationId).toBe('org_42');
  });

  test('client credentials: no sub, client id from azp; token id falls back to a short hash', async () => {
    const token = await issuer.mint({ claims: { sub: undefined, client_id: undefined, azp: 'skc_m2m', jti: undefined } });
    const decision = (await verifier()(bearer(token))) as Extract<Decision, { outcome: 'allow' }>;
    expect(decision.outcome).toBe('allow');
    expect(decision.caller).toMatchObject({ sub: '', clientId: 'skc_m2m', tokenId: shortHash(token) });
  });

  test('an overlong jti is replaced by the short hash', async () => {
    const token = await issuer.mint({ claims: { jti: 'j'.repeat(129) } });
    const decision = (await verifier()(bearer(token))) as Extract<Decision, { outcome: 'allow' }>;
    expect(decision.caller.tokenId).toBe(shortHash(token));
  });

  test('no required scopes: a token without any scope is allowed', async () => {
    const token = await issuer.mint({ claims: { scope: undefined } });
    const decision = await verifier({ requiredScopes: [] })(bearer(token));
    expect(decision.outcome).toBe('allow');
    expect((decision as Extract<Decision, { outcome: 'allow' }>).caller.scopes).toEqual([]);
  });
});

describe('insufficient scope', () => {
  test('names exactly the missing scopes and still says who called', async () => {
    const token = await issuer.mint({ claims: { scope: 'web-search:read profile', jti: 'tkn_s' } });
    const decision = await verifier({ requiredScopes: ['web-search:read', 'web-search:crawl', 'web-search:admin'] })(bearer(token));
    expect(decision).toEqual({
      outcome: 'insufficient_scope',
      missingScopes: ['web-search:crawl', 'web-search:admin'],
      caller: expect.objectContaining({ sub: 'usr_1234567890', clientId: 'skc_client_abc', scopes: ['web-search:read', 'profile'], tokenId: 'tkn_s' }),
    });
  });

  test('a token without scopes misses every required scope', async () => {
    const token = await issuer.mint({ claims: { scope: undefined } });
    const decision = await verifier()(bearer(token));
    expect(decision).toMatchObject({ outcome: 'insufficient_scope', missingScopes: ['web-search:read'] });
  });

  test('scopes are compared exactly (no prefix or case folding)', async () => {
    const token = await issuer.mint({ claims: { scope: 'Web-Search:Read web-search:read:extra web-search' } });
    expect(await verifier()(bearer(token))).toMatchObject({ outcome: 'insufficient_scope', missingScopes: ['web-search:read'] });
  });
});

describe('refused before any verification: missing and malformed', () => {
  test('no header or an empty one is missing', async () => {
    expectUnauthorized(await verifier()(undefined), 'missing');
    expectUnauthorized(await verifier()(''), 'missing');
  });

  test.each([
    ['Basic credentials', 'Basic dXNlcjpwYXNz'],
    ['Bearer without a token', 'Bearer'],
    ['Bearer with only spaces', 'Bearer    '],
    ['two tokens', 'Bearer a.b.c d.e.f'],
    ['a tab instead of a space', 'Bearer\ta.b.c'],
    ['the token without a scheme', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
    ['a two-segment token', 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0'],
    ['a five-segment JWE', 'Bearer eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn'],
    ['an empty signature (alg none style)', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
    ['base64 padding', 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0=.c2ln'],
    ['standard base64 characters', 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzd+IiOiJ4In0.c2/n'],
    ['the literal "multiple" the adapter passes for repeated headers', 'multiple'],
  ])('%s is malformed, with no token id and no key fetch', async (_why, header) => {
    const before = issuer.jwksRequests;
    expectUnauthorized(await verifier()(header), 'malformed');
    expect(issuer.jwksRequests).toBe(before);
  });

  test('a header over 8 KiB is refused before parsing', async () => {
    const before = issuer.jwksRequests;
    const header = `Bearer ${'a'.repeat(MAX_AUTHORIZATION_HEADER_LENGTH)}.b.c`;
    expect(header.length).toBeGreaterThan(MAX_AUTHORIZATION_HEADER_LENGTH);
    expectUnauthorized(await verifier()(header), 'malformed');
    expect(issuer.jwksRequests).toBe(before);
  });

  test('a header of exactly 8 KiB is still looked at', async () => {
    const token = await issuer.mint({ claims: { padding: 'p'.repeat(4000) } });
    const header = `Bearer ${token}`.padEnd(MAX_AUTHORIZATION_HEADER_LENGTH, ' ');
    expect(header.length).toBe(MAX_AUTHORIZATION_HEADER_LENGTH);
    expect((await verifier()(header)).outcome).toBe('allow');
  });
});

describe('refused after verification, with the exact reason', () => {
  test('signed by another key under our kid: bad_signature', async () => {
    const impostor = await createSigningKey('snk_primary');
    const token = await issuer.mint({ key: impostor });
    expectUnauthorized(await verifier()(bearer(token)), 'bad_signature', token);
  });

  test('a tampered payload: bad_signature', async () => {
    const token = await issuer.mint({ claims: { scope: 'web-search:read' } });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'usr_admin' })).toString('base64url')}.${signature}`;
    expectUnauthorized(await verifier()(bearer(forged)), 'bad_signature', forged);
  });

  test('a kid the authorization server does not publish: bad_signature', async () => {
    const stranger = await createSigningKey('snk_stranger');
    const token = await issuer.mint({ key: stranger });
    expectUnauthorized(await verifier()(bearer(token)), 'bad_signature', token);
  });

  test('signed by a weak key the JWKS publishes: bad_signature (the key is never used)', async () => {
    const weak = weakRsaKey('snk_weak');
    issuer.publish([issuer.key, { kid: weak.kid, publicJwk: weak.publicJwk, privateKey: undefined as never }]);
    const token = signCompactWithKeyObject({ alg: 'RS256', typ: 'JWT', kid: 'snk_weak' }, issuer.defaultClaims(), weak.privateKey);
    expectUnauthorized(await verifier()(bearer(token)), 'bad_signature', token);
  });

  test('forged without any private key, under a published key of public exponent 1: bad_signature (the key is never used)', async () => {
    const forgery = exponentOneForgery('snk_e1');
    issuer.publish([issuer.key, forgery]);
    const token = forgery.forge(issuer.defaultClaims());
    expectUnauthorized(await verifier()(bearer(token)), 'bad_signature', token);
  });

  test('signed by a published key whose key_ops say encrypt only: bad_signature (the key is never used)', async () => {
    const encryptionKey = await createSigningKey('snk_encrypt');
    const { use: _use, alg: _alg, ...jwk } = encryptionKey.publicJwk;
    issuer.publish([issuer.key, { publicJwk: { ...jwk, key_ops: ['encrypt'] } }]);
    const token = await issuer.mint({ key: encryptionKey });
    expectUnauthorized(await verifier()(bearer(token)), 'bad_signature', token);
  });

  test('expired 10 s or more ago (the tolerance): expired; less: allowed', async () => {
    const exp = 1_900_000_000;
    const token = await issuer.mint({ claims: { iat: exp - 300, nbf: exp - 300, exp } });
    expect((await verifier({ now: () => exp * 1000 - 1 })(bearer(token))).outcome).toBe('allow');
    expect((await verifier({ now: () => (exp + 9) * 1000 + 999 })(bearer(token))).outcome).toBe('allow');
    expectUnauthorized(await verifier({ now: () => (exp + 10) * 1000 })(bearer(token)), 'expired', token);
    expectUnauthorized(await verifier({ now: () => (exp + 3600) * 1000 })(bearer(token)), 'expired', token);
  });

  test('not yet valid beyond the tolerance: not_yet_valid; within it: allowed', async () => {
    const nbf = 1_900_000_000;
    const token = await issuer.mint({ claims: { iat: nbf - 20, nbf, exp: nbf + 300 } });
    expect((await verifier({ now: () => (nbf - 10) * 1000 })(bearer(token))).outcome).toBe('allow');
    expectUnauthorized(await verifier({ now: () => (nbf - 11) * 1000 })(bearer(token)), 'not_yet_valid', token);
  });

  test.each([
    ['another server', ['https://other.example.com/mcp']],
    ['another resource id', ['res_other']],
    ['our identifier with a trailing slash', [`${RESOURCE_IDENTIFIER}/`]],
    ['no audience at all', undefined],
  ])('audience of %s: wrong_audience', async (_why, aud) => {
    const token = await issuer.mint({ claims: { aud } });
    expectUnauthorized(await verifier()(bearer(token)), 'wrong_audience', token);
  });

  test.each([
    ['another environment', 'https://evil.scalekit.com'],
    ['another resource', () => `${issuer.environmentUrl}/resources/res_other`],
    ['a trailing slash', () => `${issuer.environmentUrl}/`],
    ['no issuer', undefined],
    ['a number', 5],
  ])('issuer of %s: wrong_issuer', async (_why, iss) => {
    const token = await issuer.mint({ claims: { iss: typeof iss === 'function' ? iss() : iss } });
    expectUnauthorized(await verifier()(bearer(token)), 'wrong_issuer', token);
  });

  test('no exp: malformed', async () => {
    const token = await issuer.mint({ claims: { exp: undefined } });
    expectUnauthorized(await verifier()(bearer(token)), 'malformed', token);
  });

  test('exp not a number: malformed', async () => {
    const token = await issuer.mint({ claims: { exp: 'tomorrow' } });
    expectUnauthorized(await verifier()(bearer(token)), 'malformed', token);
  });

  test('HS256 under our kid (algorithm confusion): malformed', async () => {
    const token = await issuer.mint({ header: { alg: 'HS256' } }).catch(async () => {
      // jose refuses an HS256 header on an RSA key; build it by hand.
      const { SignJWT } = await import('jose');
      return new SignJWT(issuer.defaultClaims()).setProtectedHeader({ alg: 'HS256', kid: 'snk_primary' }).sign(new Uint8Array(32));
    });
    expectUnauthorized(await verifier()(bearer(token)), 'malformed', token);
  });

  test('RS512 under our kid: malformed (RS256 only)', async () => {
    const token = await signCompact({ alg: 'RS512', kid: 'snk_primary' }, issuer.defaultClaims(), issuer.key.privateKey);
    expectUnauthorized(await verifier()(bearer(token)), 'malformed', token);
  });

  test('an unknown critical header: malformed', async () => {
    const token = await signCompact({ alg: 'RS256', kid: 'snk_primary', crit: ['exp-ext'], 'exp-ext': 1 }, issuer.defaultClaims(), issuer.key.privateKey);
    expectUnauthorized(await verifier()(bearer(token)), 'malformed', token);
  });

  test('a well-signed payload that is not JSON: malformed', async () => {
    const token = await signCompact({ alg: 'RS256', kid: 'snk_primary' }, 'not json', issuer.key.privateKey);
    expectUnauthorized(await verifier()(bearer(token)), 'malformed', token);
  });

  test('a payload that is not JSON under a made-up signature: bad_signature (the signature is checked first)', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'snk_primary' })).toString('base64url');
    const token = `${header}.${Buffer.from('not json').toString('base64url')}.c2lnbmF0dXJl`;
    expectUnauthorized(await verifier()(bearer(token)), 'bad_signature', token);
  });

  test('a well-signed payload that is a JSON array: malformed', async () => {
    const token = await signCompact({ alg: 'RS256', kid: 'snk_primary' }, [1, 2], issuer.key.privateKey);
    expectUnauthorized(await verifier()(bearer(token)), 'malformed', token);
  });
});

describe('signing keys unavailable', () => {
  test.each(['down', 'not_json', 'no_keys', 'huge'] as const)('JWKS %s with no keys held: unavailable (jwks_unavailable)', async (behaviour) => {
    issuer.jwksBehaviour = behaviour;
    const token = await issuer.mint();
    expect(await verifier()(bearer(token))).toEqual({ outcome: 'unavailable', reason: 'jwks_unavailable', tokenId: shortHash(token) });
  });

  test('keys held survive a JWKS outage after the refresh interval', async () => {
    let clock = 0;
    const verify = verifier({ keys: createSigningKeySource({ jwksUrl: `${issuer.environmentUrl}/keys`, now: () => clock }) });
    const before = issuer.jwksRequests;
    expect((await verify(bearer(await issuer.mint()))).outcome).toBe('allow');
    issuer.jwksBehaviour = 'down';
    clock += 10 * 60_000 + 1;
    expect((await verify(bearer(await issuer.mint()))).outcome).toBe('allow');
    expect(issuer.jwksRequests - before).toBe(2);
  });

  test('an unknown kid triggers one refetch, then the cooldown (counting JWKS requests)', async () => {
    let clock = 0;
    const verify = verifier({ keys: createSigningKeySource({ jwksUrl: `${issuer.environmentUrl}/keys`, now: () => clock }) });
    const before = issuer.jwksRequests;
    expect((await verify(bearer(await issuer.mint()))).outcome).toBe('allow');
    expect(issuer.jwksRequests - before).toBe(1);

    const rotated = await rsaKey('snk_rotated');
    const stranger = await issuer.mint({ key: rotated });
    clock += 30_000;
    expect(await verify(bearer(stranger))).toMatchObject({ outcome: 'unauthorized', reason: 'bad_signature' });
    expect(issuer.jwksRequests - before).toBe(2);
    for (let i = 0; i < 5; i++) {
      clock += 1_000;
      expect(await verify(bearer(stranger))).toMatchObject({ outcome: 'unauthorized', reason: 'bad_signature' });
    }
    expect(issuer.jwksRequests - before).toBe(2);

    // The authorization server rotates: after the cooldown the new key is fetched once and works.
    issuer.publish([issuer.key, rotated]);
    clock += 30_000;
    expect((await verify(bearer(stranger))).outcome).toBe('allow');
    expect((await verify(bearer(stranger))).outcome).toBe('allow');
    expect(issuer.jwksRequests - before).toBe(3);
  });

  test('a malformed token never touches the JWKS, even when it is down', async () => {
    issuer.jwksBehaviour = 'down';
    const before = issuer.jwksRequests;
    expectUnauthorized(await verifier()('Bearer a.b'), 'malformed');
    expect(issuer.jwksRequests).toBe(before);
  });
});

describe('helpers', () => {
  test('bearerToken', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bEaReR  abc ')).toBe('abc');
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken(' Bearer abc')).toBeNull();
    expect(bearerToken('Token abc')).toBeNull();
  });

  test('shortHash is 12 base64url characters of SHA-256, stable and distinct', () => {
    expect(shortHash('abc')).toBe('ungWv48Bz-pB');
    expect(shortHash('abc')).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(shortHash('abd')).not.toBe(shortHash('abc'));
  });

  test('grantedScopes ignores non-string forms', () => {
    expect(grantedScopes({ scope: 5 as never, scopes: 'a b' as never })).toEqual([]);
    expect(grantedScopes({ scope: ' a  b ', scopes: ['b', 'c', null] })).toEqual(['a', 'b', 'c']);
  });

  test('scopesOf refuses (null) any scope that is not one NQCHAR token, in either claim', () => {
    expect(scopesOf({ scope: 'a b', scopes: ['c'] })).toEqual(['a', 'b', 'c']);
    expect(scopesOf({ scopes: ['a', 'x b'] })).toBeNull();
    expect(scopesOf({ scope: 'a\tb' })).toBeNull();
    expect(scopesOf({ scope: 'a\u00a0b' })).toBeNull();
    expect(scopesOf({ scopes: ['a"b'] })).toBeNull();
    expect(scopesOf({ scopes: ['a\\b'] })).toBeNull();
    expect(scopesOf({ scopes: ['', 'a'] })).toEqual(['a']);
    expect(grantedScopes({ scopes: ['a', 'x b'] })).toEqual([]);
  });
});
