/**
 * The authorizer verifies tokens on node:crypto (lambda/authorizer/jwt.ts), no
 * longer with jose's `jwtVerify`. This test is the proof that nothing else
 * changed: every token shape goes to the authorizer's verifier and to the
 * jose-based one it replaced (test/fixtures/jose-access-token-verifier.ts, the
 * previous code verbatim), over the same keys and clock, and both must reach
 * the same decision: the same outcome, reason, caller and token id.
 *
 * The shapes: each header member absent, wrong or odd (alg, kid, crit, b64,
 * typ, jwk/jku/x5u), each claim absent, wrong-typed or at the clock's edges,
 * headers and payloads that are not JSON, not objects, not UTF-8, BOM-prefixed
 * or of impossible base64 lengths, signatures from other keys, flipped,
 * truncated or reused; then a fast-check property over random combinations.
 * When jose is upgraded, this says whether jwt.ts still agrees with it.
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { SigningKeysUnavailableError, UnknownSigningKeyError } from '../../../lambda/authorizer/signing-keys.js';
import { createAccessTokenVerifier, type Decision } from '../../../lambda/authorizer/verify-access-token.js';
import { createJoseAccessTokenVerifier } from '../../fixtures/jose-access-token-verifier.js';

const ENV = 'https://tenant.scalekit.example';
const RESOURCE_ID = 'res_1234';
const RESOURCE = 'https://mcp.example.com/web-search/mcp';
const ISSUERS = [ENV, `${ENV}/resources/${RESOURCE_ID}`];
const AUDIENCES = [RESOURCE, RESOURCE_ID];
/** Mid-second, so that both verifiers' flooring of the clock is exercised. */
const NOW_MS = 1_800_000_000_600;
const NOW = Math.floor(NOW_MS / 1000);

interface Pair {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly keyObject: KeyObject;
  cryptoKey?: CryptoKey;
}

function rsaPair(kid: string): Pair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, keyObject: publicKey };
}

const published = [rsaPair('k1'), rsaPair('k2')];
const attacker = rsaPair('k1');

beforeAll(async () => {
  for (const pair of published) {
    const { kty, n, e } = pair.keyObject.export({ format: 'jwk' }) as JWK;
    pair.cryptoKey = (await importJWK({ kty, n, e }, 'RS256')) as CryptoKey;
  }
});

/** The same lookup for both (signing-keys.ts's rules): a string kid names a key; the kid "down" is an outage. */
function lookup(header: { kid?: unknown }): Pair {
  if (header.kid === 'down') throw new SigningKeysUnavailableError('JWKS endpoint answered HTTP 503');
  const found = typeof header.kid === 'string' ? published.find((pair) => pair.kid === header.kid) : undefined;
  if (!found) throw new UnknownSigningKeyError('No signing key matches the token');
  return found;
}

const policy = { issuers: ISSUERS, audiences: AUDIENCES, requiredScopes: ['web-search:read'], now: () => NOW_MS };
const ours = createAccessTokenVerifier({ ...policy, keys: { keyFor: async (header) => lookup(header).keyObject } });
const reference = createJoseAccessTokenVerifier({ ...policy, keys: { keyFor: async (header) => lookup(header).cryptoKey! } });

const b64 = (bytes: string | Buffer) => Buffer.from(bytes).toString('base64url');
const json = (value: unknown) => (typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value));

/** A compact JWS over any header and payload (objects, or raw JSON text / bytes), signed RS256 with `signer`. */
function sign(header: unknown, payload: unknown, signer: KeyObject = published[0]!.privateKey): string {
  return signSegments(b64(json(header)), b64(json(payload)), signer);
}

/** A compact JWS over two segments as they are (encoded or not), signed RS256. */
function signSegments(header: string, payload: string, signer: KeyObject = published[0]!.privateKey): string {
  const input = `${header}.${payload}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(signer).toString('base64url')}`;
}

const HEADER = { alg: 'RS256', typ: 'JWT', kid: 'k1' };
const CLAIMS = {
  iss: ENV,
  sub: 'usr_123',
  aud: [RESOURCE, RESOURCE_ID],
  exp: NOW + 3600,
  iat: NOW - 10,
  nbf: NOW - 10,
  jti: 'tkn_abc',
  client_id: 'skc_client',
  scope: 'web-search:read',
};
const withHeader = (changes: Record<string, unknown>) => omitUndefined({ ...HEADER, ...changes });
const withClaims = (changes: Record<string, unknown>) => omitUndefined({ ...CLAIMS, ...changes });
function omitUndefined(value: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(value).filter(([, member]) => member !== undefined));
}

const segments = (token: string) => token.split('.') as [string, string, string];
const good = sign(HEADER, CLAIMS);

/** Every named shape, as the Authorization header sent to both. */
const shapes: Array<[string, string]> = [];
const add = (name: string, token: string) => shapes.push([name, `Bearer ${token}`]);

add('a genuine token', good);
add('the resource issuer form', sign(HEADER, withClaims({ iss: ISSUERS[1] })));
add('signed under the second published key', sign(withHeader({ kid: 'k2' }), CLAIMS, published[1]!.privateKey));

// The header.
for (const alg of ['none', 'NONE', 'rs256', 'RS384', 'RS512', 'PS256', 'HS256', 'ES256', '', 5, null, ['RS256'], undefined]) {
  add(`alg ${JSON.stringify(alg)}`, sign(withHeader({ alg }), CLAIMS));
}
for (const kid of ['k2', 'k3', '', 1, null, undefined, ['k1'], 'down']) add(`kid ${JSON.stringify(kid)}`, sign(withHeader({ kid }), CLAIMS));
const critCases: Array<[unknown, unknown]> = [
  [[], undefined],
  [['b64'], undefined],
  [['b64'], true],
  [['b64'], false],
  [['b64'], 'false'],
  [['b64'], null],
  [['b64', 'b64'], true],
  [['exp'], undefined],
  [['b64', 'exp'], true],
  [[''], undefined],
  [[1], undefined],
  ['b64', true],
  [{}, undefined],
  [null, undefined],
  [undefined, false],
  [undefined, 'x'],
];
for (const [crit, b64Value] of critCases) add(`crit ${JSON.stringify(crit)}, b64 ${JSON.stringify(b64Value)}`, sign(withHeader({ crit, b64: b64Value }), CLAIMS));
add('crit ["b64"], b64 false, kid of the other key', sign(withHeader({ crit: ['b64'], b64: false, kid: 'k2' }), CLAIMS));
add('crit names "kid", which is present', sign(withHeader({ crit: ['kid'] }), CLAIMS));
for (const typ of ['at+jwt', 'JWT', 'jwt', 5, null]) add(`typ ${JSON.stringify(typ)}`, sign(withHeader({ typ }), CLAIMS));
add('an attacker jwk embedded in the header', sign(withHeader({ jwk: attacker.keyObject.export({ format: 'jwk' }) }), CLAIMS, attacker.privateKey));
add('jku and x5u pointing elsewhere', sign(withHeader({ jku: 'https://evil.example/keys', x5u: 'https://evil.example/cert' }), CLAIMS));
add('a header that is a JSON array', sign('["RS256"]', CLAIMS));
add('a header that is null', sign('null', CLAIMS));
add('a header that is a string', sign('"RS256"', CLAIMS));
add('a header that is not JSON', sign('{alg: RS256}', CLAIMS));
add('a header with a BOM', sign(`\uFEFF${JSON.stringify(HEADER)}`, CLAIMS));
add('a header that is not UTF-8', sign(Buffer.concat([Buffer.from('{"alg":"RS256","kid":"k1","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), CLAIMS));
add('a header with a lone surrogate escape', sign('{"alg":"RS256","kid":"k1","x":"\\ud800"}', CLAIMS));
add('a header with duplicate alg (last wins)', sign('{"alg":"none","kid":"k1","alg":"RS256"}', CLAIMS));
add('a header with __proto__', sign('{"alg":"RS256","kid":"k1","__proto__":{"alg":"none"}}', CLAIMS));

// The claims.
const claimCases: Record<string, unknown[]> = {
  iss: [undefined, `${ENV}/`, 'https://other.example', ENV.toUpperCase(), 5, null, [ENV], ''],
  aud: [undefined, RESOURCE, RESOURCE_ID, 'https://other.example', [], ['https://other.example'], ['x', RESOURCE_ID], [5, RESOURCE], 5, null, {}, [[RESOURCE]]],
  exp: [undefined, NOW - 11, NOW - 10, NOW - 9, NOW, NOW + 1, String(NOW + 3600), null, true, NOW + 0.5, -1, 0],
  nbf: [undefined, NOW + 9, NOW + 10, NOW + 11, NOW + 3600, String(NOW), null, false],
  iat: [undefined, NOW + 3600, String(NOW), null, -5],
  scope: [undefined, '', 'openid', 'web-search:read openid', 'web-search:read web-search:read', ' web-search:read ', 'web-search:read\t', 5, ['web-search:read']],
  scopes: [['web-search:read'], ['openid'], ['x web-search:read'], [5, 'web-search:read'], 'web-search:read', [], ['web-search:read', '']],
  jti: [undefined, '', 'x'.repeat(128), 'x'.repeat(129), 5],
  sub: [undefined, 5, ''],
  client_id: [undefined, 5],
  azp: ['skc_azp', 5],
};
for (const [claim, values] of Object.entries(claimCases)) {
  for (const value of values) add(`${claim} ${JSON.stringify(value)}`, sign(HEADER, withClaims({ [claim]: value })));
}
add('azp without client_id', sign(HEADER, withClaims({ client_id: undefined, azp: 'skc_azp' })));
add('scopes without scope', sign(HEADER, withClaims({ scope: undefined, scopes: ['web-search:read'] })));
add('exp 1e999 (Infinity once parsed)', sign(HEADER, JSON.stringify(CLAIMS).replace(/"exp":\d+/, '"exp":1e999')));
add('exp -1e999', sign(HEADER, JSON.stringify(CLAIMS).replace(/"exp":\d+/, '"exp":-1e999')));
add('nbf 1e999', sign(HEADER, JSON.stringify(CLAIMS).replace(/"nbf":\d+/, '"nbf":1e999')));
add('a payload that is a JSON array', sign(HEADER, '[1]'));
add('a payload that is null', sign(HEADER, 'null'));
add('a payload that is a number', sign(HEADER, '5'));
add('a payload that is not JSON', sign(HEADER, 'iss=x'));
add('a payload with a BOM', sign(HEADER, `\uFEFF${JSON.stringify(CLAIMS)}`));
add('a payload that is not UTF-8', sign(HEADER, Buffer.concat([Buffer.from(JSON.stringify(CLAIMS).slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')])));
add('a payload with duplicate iss (last wins)', sign(HEADER, JSON.stringify(CLAIMS).replace('{', '{"iss":"https://other.example",')));
add('a payload with a bad duplicate last', sign(HEADER, JSON.stringify(CLAIMS).replace(/}$/, ',"iss":"https://other.example"}')));
add('a payload with __proto__', sign(HEADER, JSON.stringify(CLAIMS).replace('{', '{"__proto__":{"iss":"x"},')));
add('an empty payload object', sign(HEADER, {}));

// The signature and the segments.
const [h, p, s] = segments(good);
/** Padded with base64url characters to a length of 1 mod 4, which no base64 decoder accepts. */
const impossibleLength = (segment: string) => segment + 'A'.repeat((5 - (segment.length % 4)) % 4 || 4);
const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
add('a signature from an unpublished key under our kid', sign(HEADER, CLAIMS, attacker.privateKey));
add('the signature of k1 presented under kid k2', sign(withHeader({ kid: 'k2' }), CLAIMS));
add('a flipped first signature character', `${h}.${p}.${flip(s, 0)}`);
add('a flipped last signature character', `${h}.${p}.${flip(s, s.length - 1)}`);
add('a truncated signature', `${h}.${p}.${s.slice(0, -4)}`);
add('a signature of length 1 mod 4', `${h}.${p}.${impossibleLength(s)}`);
add('a signature of length 1 mod 4 under an unknown kid', `${segments(sign(withHeader({ kid: 'k3' }), CLAIMS))[0]}.${p}.${impossibleLength(s)}`);
add('a changed payload under the genuine signature', `${h}.${b64(JSON.stringify(withClaims({ scope: 'web-search:read web-search:crawl' })))}.${s}`);
add('a header of length 1 mod 4', `${impossibleLength(h)}.${p}.${s}`);
add('a payload of length 1 mod 4, signed', signSegments(h, impossibleLength(p)));
add('base64 padding in the signature', `${h}.${p}.${s}==`);
add('standard base64 characters in the payload', `${h}.${p.replace(/-/g, '+')}.${s}`);
add('four segments', `${good}.${s}`);
add('two segments', `${h}.${p}`);
add('an empty signature', `${h}.${p}.`);
add('an empty header', `.${p}.${s}`);
add('whitespace inside', `${h}.${p} .${s}`);
add('non-ASCII inside', `${h}.${p}é.${s}`);

// Around the token.
const headerShapes: Array<[string, string | undefined]> = [
  ['no header', undefined],
  ['an empty header', ''],
  ['bearer in lower case', `bearer ${good}`],
  ['two spaces after Bearer', `Bearer  ${good}`],
  ['a trailing space', `Bearer ${good} `],
  ['a tab after Bearer', `Bearer\t${good}`],
  ['Basic scheme', `Basic ${good}`],
  ['no scheme', good],
  ['over 8 KB', `Bearer ${good}${'A'.repeat(8 * 1024)}`],
];

async function bothDecide(authorization: string | undefined): Promise<{ ours: Decision; reference: Decision }> {
  return { ours: await ours(authorization), reference: await reference(authorization) };
}

test('the named shapes cover every outcome and reason the verifier can give', async () => {
  const seen = new Set<string>();
  for (const [, authorization] of [...shapes, ...headerShapes]) {
    const { reference: decision } = await bothDecide(authorization);
    seen.add(decision.outcome === 'unauthorized' || decision.outcome === 'unavailable' ? `${decision.outcome}:${decision.reason}` : decision.outcome);
  }
  expect([...seen].sort()).toEqual(
    [
      'allow',
      'insufficient_scope',
      'unauthorized:missing',
      'unauthorized:malformed',
      'unauthorized:bad_signature',
      'unauthorized:expired',
      'unauthorized:not_yet_valid',
      'unauthorized:wrong_audience',
      'unauthorized:wrong_issuer',
      'unauthorized:malformed_scope',
      'unavailable:jwks_unavailable',
    ].sort(),
  );
  expect(shapes.length).toBeGreaterThan(150);
});

test.each(shapes)('%s: the same decision as jose', async (_name, authorization) => {
  const { ours: decision, reference: expected } = await bothDecide(authorization);
  expect(decision).toEqual(expected);
});

test.each(headerShapes)('Authorization %s: the same decision as jose', async (_name, authorization) => {
  const { ours: decision, reference: expected } = await bothDecide(authorization);
  expect(decision).toEqual(expected);
});

test('fast-check: random headers, claims, signers and damage get the same decision from both', async () => {
  const anyJson = fc.jsonValue({ maxDepth: 2 });
  const member = <T>(values: readonly T[]) => fc.option(fc.oneof(fc.constantFrom(...values), anyJson), { nil: undefined, freq: 4 });
  const header = fc.record(
    {
      alg: member(['RS256', 'RS256', 'RS256', 'none', 'HS256', 'rs256']),
      kid: member(['k1', 'k1', 'k2', 'k3', 'down']),
      typ: member(['JWT', 'at+jwt']),
      crit: fc.option(fc.constantFrom<unknown>(['b64'], [], ['x'], 'b64', ['b64', 'x'], [''], null), { nil: undefined, freq: 6 }),
      b64: fc.option(fc.constantFrom<unknown>(true, false, 'false', 0), { nil: undefined, freq: 4 }),
    },
    { requiredKeys: [] },
  );
  const claims = fc.record(
    {
      iss: member([ENV, ENV, ISSUERS[1]!, 'https://other.example']),
      aud: member<unknown>([[RESOURCE, RESOURCE_ID], RESOURCE, RESOURCE_ID, [], ['x']]),
      exp: member<unknown>([NOW + 3600, NOW + 3600, NOW - 10, NOW - 9, NOW - 11, String(NOW)]),
      nbf: member<unknown>([NOW, NOW + 10, NOW + 11, 'x']),
      iat: member<unknown>([NOW, NOW + 100, 'x']),
      scope: member<unknown>(['web-search:read', 'openid', 'web-search:read web-search:crawl', 'a\u0000b', '']),
      scopes: member<unknown>([['web-search:read'], ['x y'], []]),
      jti: member<unknown>(['tkn_1', 'x'.repeat(129)]),
      sub: member<unknown>(['usr_1']),
      client_id: member<unknown>(['skc_1']),
      azp: member<unknown>(['skc_2']),
    },
    { requiredKeys: [] },
  );
  const signer = fc.constantFrom(published[0]!.privateKey, published[0]!.privateKey, published[1]!.privateKey, attacker.privateKey);
  const damage = fc.option(fc.record({ segment: fc.integer({ min: 0, max: 2 }), at: fc.nat(), to: fc.constantFrom('A', '_', '-', '.', '', 'AA', '=') }), {
    nil: undefined,
    freq: 3,
  });

  await fc.assert(
    fc.asyncProperty(header, claims, signer, damage, async (headerValue, claimsValue, signerKey, damageValue) => {
      let token = sign(headerValue, claimsValue, signerKey);
      if (damageValue) {
        const parts = segments(token);
        const part = parts[damageValue.segment]!;
        const at = damageValue.at % (part.length + 1);
        parts[damageValue.segment] = part.slice(0, at) + damageValue.to + part.slice(at + 1);
        token = parts.join('.');
      }
      const { ours: decision, reference: expected } = await bothDecide(`Bearer ${token}`);
      expect(decision).toEqual(expected);
    }),
    { numRuns: 500, seed: 20261203 },
  );
});
