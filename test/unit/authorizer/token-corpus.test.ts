/**
 * A named corpus of token shapes, each with the decision the authorizer must
 * reach, written out: every header member absent, wrong or odd (alg, kid, crit,
 * b64, typ, jwk/jku/x5u), every claim absent, wrong-typed or at the clock's
 * edges, headers and payloads that are not JSON, not objects, not UTF-8,
 * BOM-prefixed or of impossible base64 lengths, signatures from other keys,
 * flipped, truncated or reused, and the Authorization header around them.
 *
 * The decisions are jose's (`jwtVerify` with the authorizer's options) as the
 * authorizer maps them: when jose is upgraded, a changed verdict shows here by name.
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import type { JWK } from 'jose';
import { SigningKeysUnavailableError, UnknownSigningKeyError } from '../../../lambda/authorizer/signing-keys.js';
import { createAccessTokenVerifier, shortHash, type Caller, type Decision, type RejectionReason } from '../../../lambda/authorizer/verify-access-token.js';

const ENV = 'https://tenant.scalekit.example';
const RESOURCE_ID = 'res_1234';
const RESOURCE = 'https://mcp.example.com/web-search/mcp';
const ISSUERS = [ENV, `${ENV}/resources/${RESOURCE_ID}`];
const AUDIENCES = [RESOURCE, RESOURCE_ID];
/** Mid-second, so that the flooring of the clock is exercised. */
const NOW_MS = 1_800_000_000_600;
const NOW = Math.floor(NOW_MS / 1000);

interface Pair {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

function rsaPair(kid: string): Pair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicKey };
}

const published = [rsaPair('k1'), rsaPair('k2')];
const attacker = rsaPair('k1');

/** signing-keys.ts's rules, without the fetching: a string kid names a key; the kid "down" is an outage. */
function keyFor(header: { kid?: unknown }): KeyObject {
  if (header.kid === 'down') throw new SigningKeysUnavailableError('JWKS endpoint answered HTTP 503');
  const found = typeof header.kid === 'string' ? published.find((pair) => pair.kid === header.kid) : undefined;
  if (!found) throw new UnknownSigningKeyError('No signing key matches the token');
  return found.publicKey;
}

const decide = createAccessTokenVerifier({
  issuers: ISSUERS,
  audiences: AUDIENCES,
  requiredScopes: ['web-search:read'],
  keys: { keyFor: async (header) => keyFor(header) },
  now: () => NOW_MS,
});

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

// The expected decisions. A token refused after it was read carries its short hash as token id;
// one refused for its shape alone (before jose or the keys are asked) carries none.
type Expected = (token: string) => Decision;
const CALLER: Caller = { sub: 'usr_123', clientId: 'skc_client', scopes: ['web-search:read'], exp: NOW + 3600, tokenId: 'tkn_abc' };
/** The caller with these changes; a `tokenId` of `HASH` is the token's short hash. */
const HASH = Symbol('short hash');
const callerWith = (token: string, changes: Partial<Omit<Caller, 'tokenId'>> & { tokenId?: string | typeof HASH }): Caller => ({
  ...CALLER,
  ...changes,
  tokenId: changes.tokenId === HASH ? shortHash(token) : (changes.tokenId ?? CALLER.tokenId),
});
const allow =
  (changes: Parameters<typeof callerWith>[1] = {}): Expected =>
  (token) => ({ outcome: 'allow', caller: callerWith(token, changes) });
const insufficientScope =
  (changes: Parameters<typeof callerWith>[1] = {}): Expected =>
  (token) => ({ outcome: 'insufficient_scope', caller: callerWith(token, changes), missingScopes: ['web-search:read'] });
const refused =
  (reason: RejectionReason): Expected =>
  (token) => ({ outcome: 'unauthorized', reason, tokenId: shortHash(token) });
const refusedUnread =
  (reason: RejectionReason): Expected =>
  () => ({ outcome: 'unauthorized', reason });
const malformedScope: Expected = () => ({ outcome: 'unauthorized', reason: 'malformed_scope', tokenId: 'tkn_abc' });
const keysUnavailable: Expected = (token) => ({ outcome: 'unavailable', reason: 'jwks_unavailable', tokenId: shortHash(token) });

const segments = (token: string) => token.split('.') as [string, string, string];
const good = sign(HEADER, CLAIMS);

/** Every named shape: its token, and the decision on `Bearer <token>`. */
const shapes: Array<[string, string, Expected]> = [];
const add = (name: string, token: string, expected: Expected) => shapes.push([name, token, expected]);

add('a genuine token', good, allow());
add('the resource issuer form', sign(HEADER, withClaims({ iss: ISSUERS[1] })), allow());
add('signed under the second published key', sign(withHeader({ kid: 'k2' }), CLAIMS, published[1]!.privateKey), allow());

// The header. Only RS256, spelled exactly, is accepted.
for (const alg of ['none', 'NONE', 'rs256', 'RS384', 'RS512', 'PS256', 'HS256', 'ES256', '', 5, null, ['RS256'], undefined]) {
  add(`alg ${JSON.stringify(alg)}`, sign(withHeader({ alg }), CLAIMS), refused('malformed'));
}
const kidCases: Array<[unknown, Expected]> = [
  ['k2', refused('bad_signature')], // published, but not the key that signed
  ['k3', refused('bad_signature')],
  ['', refused('bad_signature')],
  [1, refused('bad_signature')],
  [null, refused('bad_signature')],
  [undefined, refused('bad_signature')],
  [['k1'], refused('bad_signature')],
  ['down', keysUnavailable],
];
for (const [kid, expected] of kidCases) add(`kid ${JSON.stringify(kid)}`, sign(withHeader({ kid }), CLAIMS), expected);
const critCases: Array<[unknown, unknown, Expected]> = [
  [[], undefined, refused('malformed')],
  [['b64'], undefined, refused('malformed')],
  [['b64'], true, allow()],
  // RFC 7797's unencoded payload is no JWT (RFC 7519 section 7.2): refused, even when signed.
  [['b64'], false, refused('malformed')],
  [['b64'], 'false', refused('malformed')],
  [['b64'], null, refused('malformed')],
  [['b64', 'b64'], true, allow()],
  [['exp'], undefined, refused('malformed')],
  [['b64', 'exp'], true, refused('malformed')],
  [[''], undefined, refused('malformed')],
  [[1], undefined, refused('malformed')],
  ['b64', true, refused('malformed')],
  [{}, undefined, refused('malformed')],
  [null, undefined, refused('malformed')],
  // Without crit, b64 is an ignored member.
  [undefined, false, allow()],
  [undefined, 'x', allow()],
];
for (const [crit, b64Value, expected] of critCases) {
  add(`crit ${JSON.stringify(crit)}, b64 ${JSON.stringify(b64Value)}`, sign(withHeader({ crit, b64: b64Value }), CLAIMS), expected);
}
add('crit ["b64"], b64 false, kid of the other key', sign(withHeader({ crit: ['b64'], b64: false, kid: 'k2' }), CLAIMS), refused('bad_signature'));
add('crit names "kid", which is present', sign(withHeader({ crit: ['kid'] }), CLAIMS), refused('malformed'));
for (const typ of ['at+jwt', 'JWT', 'jwt', 5, null]) add(`typ ${JSON.stringify(typ)}`, sign(withHeader({ typ }), CLAIMS), allow());
add(
  'an attacker jwk embedded in the header',
  sign(withHeader({ jwk: attacker.publicKey.export({ format: 'jwk' }) as JWK }), CLAIMS, attacker.privateKey),
  refused('bad_signature'),
);
add('jku and x5u pointing elsewhere (never fetched)', sign(withHeader({ jku: 'https://evil.example/keys', x5u: 'https://evil.example/cert' }), CLAIMS), allow());
add('a header that is a JSON array', sign('["RS256"]', CLAIMS), refused('malformed'));
add('a header that is null', sign('null', CLAIMS), refused('malformed'));
add('a header that is a string', sign('"RS256"', CLAIMS), refused('malformed'));
add('a header that is not JSON', sign('{alg: RS256}', CLAIMS), refused('malformed'));
add('a header with a BOM', sign(`\uFEFF${JSON.stringify(HEADER)}`, CLAIMS), allow());
add(
  'a header that is not UTF-8',
  sign(Buffer.concat([Buffer.from('{"alg":"RS256","kid":"k1","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), CLAIMS),
  refused('malformed'),
);
add('a header with a lone surrogate escape', sign('{"alg":"RS256","kid":"k1","x":"\\ud800"}', CLAIMS), allow());
add('a header with duplicate alg (last wins)', sign('{"alg":"none","kid":"k1","alg":"RS256"}', CLAIMS), allow());
add('a header with __proto__', sign('{"alg":"RS256","kid":"k1","__proto__":{"alg":"none"}}', CLAIMS), allow());

// The claims.
const claimCases: Record<string, Array<[unknown, Expected]>> = {
  iss: [
    [undefined, refused('wrong_issuer')],
    [`${ENV}/`, refused('wrong_issuer')],
    ['https://other.example', refused('wrong_issuer')],
    [ENV.toUpperCase(), refused('wrong_issuer')],
    [5, refused('wrong_issuer')],
    [null, refused('wrong_issuer')],
    [[ENV], refused('wrong_issuer')],
    ['', refused('wrong_issuer')],
  ],
  aud: [
    [undefined, refused('wrong_audience')],
    [RESOURCE, allow()],
    [RESOURCE_ID, allow()],
    ['https://other.example', refused('wrong_audience')],
    [[], refused('wrong_audience')],
    [['https://other.example'], refused('wrong_audience')],
    [['x', RESOURCE_ID], allow()],
    [[5, RESOURCE], allow()],
    [5, refused('wrong_audience')],
    [null, refused('wrong_audience')],
    [{}, refused('wrong_audience')],
    [[[RESOURCE]], refused('wrong_audience')],
  ],
  // Expired once exp + 10 s (the tolerance) is not after now.
  exp: [
    [undefined, refused('malformed')],
    [NOW - 11, refused('expired')],
    [NOW - 10, refused('expired')],
    [NOW - 9, allow({ exp: NOW - 9 })],
    [NOW, allow({ exp: NOW })],
    [NOW + 1, allow({ exp: NOW + 1 })],
    [String(NOW + 3600), refused('malformed')],
    [null, refused('malformed')],
    [true, refused('malformed')],
    [NOW + 0.5, allow({ exp: NOW + 0.5 })],
    [-1, refused('expired')],
    [0, refused('expired')],
  ],
  // Not yet valid once nbf is more than 10 s ahead.
  nbf: [
    [undefined, allow()],
    [NOW + 9, allow()],
    [NOW + 10, allow()],
    [NOW + 11, refused('not_yet_valid')],
    [NOW + 3600, refused('not_yet_valid')],
    [String(NOW), refused('not_yet_valid')],
    [null, refused('not_yet_valid')],
    [false, refused('not_yet_valid')],
  ],
  iat: [
    [undefined, allow()],
    [NOW + 3600, allow()],
    [String(NOW), refused('malformed')],
    [null, refused('malformed')],
    [-5, allow()],
  ],
  scope: [
    [undefined, insufficientScope({ scopes: [] })],
    ['', insufficientScope({ scopes: [] })],
    ['openid', insufficientScope({ scopes: ['openid'] })],
    ['web-search:read openid', allow({ scopes: ['web-search:read', 'openid'] })],
    ['web-search:read web-search:read', allow()],
    [' web-search:read ', allow()],
    ['web-search:read\t', malformedScope],
    [5, insufficientScope({ scopes: [] })],
    [['web-search:read'], insufficientScope({ scopes: [] })],
  ],
  // Beside the scope string of CLAIMS.
  scopes: [
    [['web-search:read'], allow()],
    [['openid'], allow({ scopes: ['web-search:read', 'openid'] })],
    [['x web-search:read'], malformedScope],
    [[5, 'web-search:read'], allow()],
    ['web-search:read', allow()],
    [[], allow()],
    [['web-search:read', ''], allow()],
  ],
  jti: [
    [undefined, allow({ tokenId: HASH })],
    ['', allow({ tokenId: '' })],
    ['x'.repeat(128), allow({ tokenId: 'x'.repeat(128) })],
    ['x'.repeat(129), allow({ tokenId: HASH })],
    [5, allow({ tokenId: HASH })],
  ],
  sub: [
    [undefined, allow({ sub: '' })],
    [5, allow({ sub: '' })],
    ['', allow({ sub: '' })],
  ],
  client_id: [
    [undefined, allow({ clientId: '' })],
    [5, allow({ clientId: '' })],
  ],
  azp: [
    ['skc_azp', allow()], // client_id wins
    [5, allow()],
  ],
  // The organisation, for the result cache's default scope: taken only when it is a short printable id.
  oid: [
    ['org_59615193906282635', allow({ organizationId: 'org_59615193906282635' })],
    ['o'.repeat(128), allow({ organizationId: 'o'.repeat(128) })],
    ['o'.repeat(129), allow()],
    ['org 1', allow()],
    ['', allow()],
    [5, allow()],
    [['org_1'], allow()],
  ],
};
for (const [claim, values] of Object.entries(claimCases)) {
  for (const [value, expected] of values) add(`${claim} ${JSON.stringify(value)}`, sign(HEADER, withClaims({ [claim]: value })), expected);
}
add('azp without client_id', sign(HEADER, withClaims({ client_id: undefined, azp: 'skc_azp' })), allow({ clientId: 'skc_azp' }));
// Nobody to count, limit or deny by name: refused, with the token's own id.
const noIdentity: Expected = () => ({ outcome: 'unauthorized', reason: 'no_identity', tokenId: 'tkn_abc' });
add('neither sub nor client_id', sign(HEADER, withClaims({ sub: undefined, client_id: undefined })), noIdentity);
add('sub empty, client_id and azp not text', sign(HEADER, withClaims({ sub: '', client_id: 5, azp: null })), noIdentity);
add('scopes without scope', sign(HEADER, withClaims({ scope: undefined, scopes: ['web-search:read'] })), allow());
add('exp 1e999 (Infinity once parsed)', sign(HEADER, JSON.stringify(CLAIMS).replace(/"exp":\d+/, '"exp":1e999')), allow({ exp: Infinity }));
add('exp -1e999', sign(HEADER, JSON.stringify(CLAIMS).replace(/"exp":\d+/, '"exp":-1e999')), refused('expired'));
add('nbf 1e999', sign(HEADER, JSON.stringify(CLAIMS).replace(/"nbf":\d+/, '"nbf":1e999')), refused('not_yet_valid'));
add('a payload that is a JSON array', sign(HEADER, '[1]'), refused('malformed'));
add('a payload that is null', sign(HEADER, 'null'), refused('malformed'));
add('a payload that is a number', sign(HEADER, '5'), refused('malformed'));
add('a payload that is not JSON', sign(HEADER, 'iss=x'), refused('malformed'));
add('a payload with a BOM', sign(HEADER, `\uFEFF${JSON.stringify(CLAIMS)}`), allow());
add(
  'a payload that is not UTF-8',
  sign(HEADER, Buffer.concat([Buffer.from(JSON.stringify(CLAIMS).slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')])),
  refused('malformed'),
);
add('a payload with duplicate iss (last wins)', sign(HEADER, JSON.stringify(CLAIMS).replace('{', '{"iss":"https://other.example",')), allow());
add('a payload with a bad duplicate last', sign(HEADER, JSON.stringify(CLAIMS).replace(/}$/, ',"iss":"https://other.example"}')), refused('wrong_issuer'));
add('a payload with __proto__', sign(HEADER, JSON.stringify(CLAIMS).replace('{', '{"__proto__":{"iss":"x"},')), allow());
add('an empty payload object', sign(HEADER, {}), refused('wrong_issuer'));

// The signature and the segments.
const [h, p, s] = segments(good);
/** Padded with base64url characters to a length of 1 mod 4, which no base64 decoder accepts. */
const impossibleLength = (segment: string) => segment + 'A'.repeat((5 - (segment.length % 4)) % 4 || 4);
const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
add('a signature from an unpublished key under our kid', sign(HEADER, CLAIMS, attacker.privateKey), refused('bad_signature'));
add('the signature of k1 presented under kid k2', sign(withHeader({ kid: 'k2' }), CLAIMS), refused('bad_signature'));
add('a flipped first signature character', `${h}.${p}.${flip(s, 0)}`, refused('bad_signature'));
// The last character carries two bits of the signature and four unused ones: change the two.
add('a changed last signature character', `${h}.${p}.${s.slice(0, -1)}${s.at(-1) === 'w' ? 'A' : 'w'}`, refused('bad_signature'));
add('a truncated signature', `${h}.${p}.${s.slice(0, -4)}`, refused('bad_signature'));
add('a signature of length 1 mod 4', `${h}.${p}.${impossibleLength(s)}`, refused('malformed'));
add(
  'a signature of length 1 mod 4 under an unknown kid',
  `${segments(sign(withHeader({ kid: 'k3' }), CLAIMS))[0]}.${p}.${impossibleLength(s)}`,
  refused('bad_signature'),
);
add(
  'a changed payload under the genuine signature',
  `${h}.${b64(JSON.stringify(withClaims({ scope: 'web-search:read web-search:crawl' })))}.${s}`,
  refused('bad_signature'),
);
add('a header of length 1 mod 4', `${impossibleLength(h)}.${p}.${s}`, refused('malformed'));
add('a payload of length 1 mod 4, signed', signSegments(h, impossibleLength(p)), refused('malformed'));
add('base64 padding in the signature', `${h}.${p}.${s}==`, refusedUnread('malformed'));
add('standard base64 characters in the payload', `${h}.${p.replace(/-/g, '+')}.${s}`, allow());
add('four segments', `${good}.${s}`, refusedUnread('malformed'));
add('two segments', `${h}.${p}`, refusedUnread('malformed'));
add('an empty signature', `${h}.${p}.`, refusedUnread('malformed'));
add('an empty header', `.${p}.${s}`, refusedUnread('malformed'));
add('whitespace inside', `${h}.${p} .${s}`, refusedUnread('malformed'));
add('non-ASCII inside', `${h}.${p}é.${s}`, refusedUnread('malformed'));

// Around the token: the Authorization header as sent.
const headerShapes: Array<[string, string | undefined, Decision]> = [
  ['no header', undefined, { outcome: 'unauthorized', reason: 'missing' }],
  ['an empty header', '', { outcome: 'unauthorized', reason: 'missing' }],
  ['bearer in lower case', `bearer ${good}`, { outcome: 'allow', caller: CALLER }],
  ['two spaces after Bearer', `Bearer  ${good}`, { outcome: 'allow', caller: CALLER }],
  ['a trailing space', `Bearer ${good} `, { outcome: 'allow', caller: CALLER }],
  ['a tab after Bearer', `Bearer\t${good}`, { outcome: 'unauthorized', reason: 'malformed' }],
  ['Basic scheme', `Basic ${good}`, { outcome: 'unauthorized', reason: 'malformed' }],
  ['no scheme', good, { outcome: 'unauthorized', reason: 'malformed' }],
  ['over 8 KB', `Bearer ${good}${'A'.repeat(8 * 1024)}`, { outcome: 'unauthorized', reason: 'malformed' }],
];

const summary = (decision: Decision) =>
  decision.outcome === 'unauthorized' || decision.outcome === 'unavailable' ? `${decision.outcome}:${decision.reason}` : decision.outcome;

test('the named shapes cover every outcome and reason the verifier can give', () => {
  const seen = new Set([...shapes.map(([, token, expected]) => summary(expected(token))), ...headerShapes.map(([, , decision]) => summary(decision))]);
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
      'unauthorized:no_identity',
      'unavailable:jwks_unavailable',
    ].sort(),
  );
  expect(shapes.length).toBeGreaterThan(150);
});

test.each(shapes)('%s', async (_name, token, expected) => {
  expect(await decide(`Bearer ${token}`)).toEqual(expected(token));
});

test.each(headerShapes)('Authorization: %s', async (_name, authorization, expected) => {
  expect(await decide(authorization)).toEqual(expected);
});

test('fast-check: whatever the header and claims, a token not signed by a published key, or damaged after signing, is never let in', async () => {
  const anyJson = fc.jsonValue({ maxDepth: 2 });
  const member = <T>(values: readonly T[]) => fc.option(fc.oneof(fc.constantFrom(...values), anyJson), { nil: undefined, freq: 4 });
  const header = fc.record(
    {
      alg: member(['RS256', 'RS256', 'RS256', 'none', 'HS256', 'rs256']),
      kid: member(['k1', 'k1', 'k2', 'k3']),
      typ: member(['JWT', 'at+jwt']),
      crit: fc.option(fc.constantFrom<unknown>(['b64'], [], ['x'], 'b64', ['b64', 'x'], [''], null), { nil: undefined, freq: 6 }),
      b64: fc.option(fc.constantFrom<unknown>(true, false, 'false', 0), { nil: undefined, freq: 4 }),
    },
    { requiredKeys: [] },
  );
  const claims = fc.record(
    {
      iss: member([ENV, ENV, ISSUERS[1]!]),
      aud: member<unknown>([[RESOURCE, RESOURCE_ID], RESOURCE, RESOURCE_ID]),
      exp: member<unknown>([NOW + 3600]),
      scope: member<unknown>(['web-search:read']),
      sub: member<unknown>(['usr_1']),
    },
    { requiredKeys: [] },
  );
  // A genuine token, then one character of its signature replaced (base64url only, so the shape stays compact).
  const damage = fc.record({ at: fc.nat(), to: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') });

  await fc.assert(
    fc.asyncProperty(header, claims, fc.boolean(), damage, async (headerValue, claimsValue, byAttacker, { at, to }) => {
      let token = sign(headerValue, claimsValue, byAttacker ? attacker.privateKey : published[0]!.privateKey);
      if (!byAttacker) {
        const [head, payload, signature] = segments(token);
        // Not the last character: its padding bits may be ignored by a decoder, changing no byte.
        const position = at % (signature.length - 1);
        const replacement = to === signature[position] ? (to === 'A' ? 'B' : 'A') : to;
        token = `${head}.${payload}.${signature.slice(0, position)}${replacement}${signature.slice(position + 1)}`;
      }
      const decision = await decide(`Bearer ${token}`);
      expect(['allow', 'insufficient_scope']).not.toContain(decision.outcome);
    }),
    { numRuns: 300, seed: 20261203 },
  );
});
