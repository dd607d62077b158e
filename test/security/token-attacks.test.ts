/**
 * Forged, altered, misdirected and malformed access tokens, each sent through
 * the local gateway to the MCP endpoint exactly as an attacker would send it.
 * Every refusal must be the gateway's own answer with its exact challenge: 401
 * with `resource_metadata` and `scope`, or 403 with `insufficient_scope` for a
 * genuine token that lacks the scope. Headers that name attacker key material
 * (`jku`, `x5u`, `jwk`, a URL as `kid`) are never followed: the attacker's
 * server, on loopback, must never be contacted.
 */
import { createPublicKey } from 'node:crypto';
import { CompactEncrypt, compactVerify, exportJWK, FlattenedSign, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { createSigningKey, startTokenIssuer, type SigningKey, type TokenIssuer } from '../fixtures/token-issuer.js';
import { sendJson, startLoopbackServer, type LoopbackServer } from '../unit/helpers/loopback-server.js';
import {
  base64url,
  bearer,
  CLOCK_TOLERANCE_SECONDS,
  insufficientScopeChallenge,
  json,
  nowSeconds,
  postMcp,
  REQUIRED_SCOPE,
  signWith,
  unauthorizedChallenge,
  type RawHeaders,
  type RawResponse,
} from './support.js';

let issuer: TokenIssuer;
let attacker: LoopbackServer;
let stack: LocalStack;
/** The attacker's own RSA key, published on the attacker's server. */
let attackerKey: SigningKey;
/** Our issuer's private key, importable for algorithms other than RS256. */
let issuerPrivateJwk: JWK;
let ecKey: { privateKey: CryptoKey; publicKey: CryptoKey };
/** An RSA key that claims our kid. */
let impostor: SigningKey;
/** An RSA key under a kid the issuer never published. */
let stranger: SigningKey;

beforeAll(async () => {
  issuer = await startTokenIssuer({ audience: () => stack.resourceIdentifier });
  attackerKey = await createSigningKey('snk_attacker');
  attacker = await startLoopbackServer((request, res) => {
    if (request.path.startsWith('/cert')) {
      res.writeHead(200, { 'Content-Type': 'application/pem-certificate-chain' });
      res.end('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      return;
    }
    sendJson(res, 200, { keys: [attackerKey.publicJwk, { ...attackerKey.publicJwk, kid: 'snk_primary' }] });
  });
  stack = await startLocalStack({
    port: 0,
    hosts: ['127.0.0.1'],
    publicHost: '127.0.0.1',
    authorizationServer: { environmentUrl: issuer.environmentUrl, resourceId: issuer.resourceId },
    onLog: () => undefined,
  });
  const { kty, n, e, d, p, q, dp, dq, qi } = await exportJWK(issuer.key.privateKey);
  issuerPrivateJwk = { kty, n, e, d, p, q, dp, dq, qi };
  [ecKey, impostor, stranger] = await Promise.all([generateKeyPair('ES256'), createSigningKey('snk_primary'), createSigningKey('snk_unknown')]);
});

afterAll(async () => {
  await stack?.close();
  await Promise.all([issuer?.close(), attacker?.close()]);
});

beforeEach(() => {
  stack.gateway.clearAuthorizerCache();
});

afterEach(() => {
  // Whatever a token's header says, the authorizer fetches keys from the configured JWKS only.
  expect(attacker.requests).toEqual([]);
});

/** What the attack must come to. */
type Expected = 'unauthorized' | 'insufficient_scope' | 'accepted' | 'refused_oversized';

interface AttackCase {
  readonly name: string;
  /** Authorization header value(s) to send; undefined sends none. */
  readonly authorization: () => Promise<string | readonly string[] | undefined>;
  readonly query?: () => Promise<string>;
  readonly expected: Expected;
  /** Run on a fresh authorizer instance (no keys held) and check the JWKS is not fetched. */
  readonly jwksUntouched?: boolean;
  /** The gateway must refuse before invoking the authorizer. */
  readonly authorizerSkipped?: boolean;
  /**
   * The key and algorithm under which the forged token genuinely verifies:
   * proof that the attack is a well-made signed token, refused for what it is.
   */
  readonly verifiesUnder?: () => Promise<{ key: CryptoKey | Uint8Array; alg: string; crit?: Record<string, boolean> }>;
}

const claims = (overrides: Record<string, unknown> = {}) => {
  const all: Record<string, unknown> = { ...issuer.defaultClaims() };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete all[name];
    else all[name] = value;
  }
  return all;
};

const ours = () => stack.resourceIdentifier;
const header = (alg: string, extra: Record<string, unknown> = {}) => ({ alg, typ: 'JWT', kid: 'snk_primary', ...extra });
const issuerKeyFor = (alg: string) => importJWK(issuerPrivateJwk, alg) as Promise<CryptoKey>;
/** A public JWK without `use`/`alg`/`kid`, importable for any RSA algorithm. */
const publicPart = ({ kty, n, e }: JWK): JWK => ({ kty, n, e });
const publicKeyPem = () => createPublicKey({ key: issuer.key.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;

/** A token minted by the fixture, Bearer-prefixed. */
const minted = (options: Parameters<TokenIssuer['mint']>[0] = {}) => async () => `Bearer ${await issuer.mint(options)}`;
const withClaims = (overrides: Record<string, unknown>) => minted({ claims: overrides });
const raw = (value: string | readonly string[] | undefined) => async () => value;

/** The segments of a genuine token, changed by `change`, joined again. */
const reshaped = (change: (segments: string[]) => string[]) => async () => `Bearer ${change((await issuer.mint()).split('.')).join('.')}`;

/** Pad a segment with base64url characters until its length is 1 mod 4: no base64 decoder accepts that. */
const impossibleLength = (segment: string) => segment + 'A'.repeat((5 - (segment.length % 4)) % 4 || 4);

/** The attacker's key, published nowhere we look. */
const attackerVerifies = async () => ({ key: await importJWK(attackerKey.publicJwk, 'RS256'), alg: 'RS256' });

const algorithmAttacks: AttackCase[] = [
  {
    name: 'alg "none" with an empty signature',
    authorization: async () => `Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims())}.`,
    expected: 'unauthorized',
  },
  {
    name: 'alg "none" keeping a genuine signature',
    authorization: async () => {
      const [, , signature] = (await issuer.mint()).split('.');
      return `Bearer ${base64url({ alg: 'none', typ: 'JWT', kid: 'snk_primary' })}.${base64url(claims())}.${signature}`;
    },
    expected: 'unauthorized',
  },
  {
    name: 'alg "NONE" in capitals, with a made-up signature',
    authorization: async () => `Bearer ${base64url({ alg: 'NONE', kid: 'snk_primary' })}.${base64url(claims())}.c2lnbmF0dXJl`,
    expected: 'unauthorized',
  },
  {
    name: 'HS256 keyed with our public key as PEM (algorithm confusion)',
    authorization: async () => `Bearer ${await signWith(claims(), header('HS256'), new TextEncoder().encode(publicKeyPem()))}`,
    verifiesUnder: async () => ({ key: new TextEncoder().encode(publicKeyPem()), alg: 'HS256' }),
    expected: 'unauthorized',
  },
  {
    name: 'HS256 keyed with our public modulus bytes',
    authorization: async () => `Bearer ${await signWith(claims(), header('HS256'), Buffer.from(issuer.key.publicJwk.n!, 'base64url'))}`,
    verifiesUnder: async () => ({ key: Buffer.from(issuer.key.publicJwk.n!, 'base64url'), alg: 'HS256' }),
    expected: 'unauthorized',
  },
  {
    name: 'HS256 keyed with our published JWK as JSON',
    authorization: async () => `Bearer ${await signWith(claims(), header('HS256'), new TextEncoder().encode(JSON.stringify(issuer.key.publicJwk)))}`,
    verifiesUnder: async () => ({ key: new TextEncoder().encode(JSON.stringify(issuer.key.publicJwk)), alg: 'HS256' }),
    expected: 'unauthorized',
  },
  ...(['RS512', 'RS384', 'PS256'] as const).map(
    (alg): AttackCase => ({
      name: `${alg} signed with our own private key`,
      authorization: async () => `Bearer ${await signWith(claims(), header(alg), await issuerKeyFor(alg))}`,
      verifiesUnder: async () => ({ key: await importJWK(publicPart(issuer.key.publicJwk), alg), alg }),
      expected: 'unauthorized',
    }),
  ),
  {
    name: 'ES256 under our kid',
    authorization: async () => `Bearer ${await signWith(claims(), header('ES256'), ecKey.privateKey)}`,
    verifiesUnder: async () => ({ key: ecKey.publicKey, alg: 'ES256' }),
    expected: 'unauthorized',
  },
  {
    name: 'a kid the issuer never published',
    authorization: async () => `Bearer ${await issuer.mint({ key: stranger })}`,
    verifiesUnder: async () => ({ key: await importJWK(stranger.publicJwk, 'RS256'), alg: 'RS256' }),
    expected: 'unauthorized',
  },
  {
    name: 'our kid, signed by another key',
    authorization: async () => `Bearer ${await issuer.mint({ key: impostor })}`,
    verifiesUnder: async () => ({ key: await importJWK(impostor.publicJwk, 'RS256'), alg: 'RS256' }),
    expected: 'unauthorized',
  },
  {
    name: 'no kid, signed by another key (the only published key is tried, and fails)',
    authorization: async () => `Bearer ${await signWith(claims(), { alg: 'RS256', typ: 'JWT' }, attackerKey.privateKey)}`,
    verifiesUnder: attackerVerifies,
    expected: 'unauthorized',
  },
  {
    name: 'kid is a number, signed with our real key (RFC 7515 wants a string)',
    authorization: async () => `Bearer ${await signWith(claims(), header('RS256', { kid: 1 }), issuer.key.privateKey)}`,
    verifiesUnder: async () => ({ key: await importJWK(issuer.key.publicJwk, 'RS256'), alg: 'RS256' }),
    expected: 'unauthorized',
  },
  {
    name: "jku pointing at the attacker's JWKS, under the attacker's kid",
    authorization: async () =>
      `Bearer ${await signWith(claims(), header('RS256', { kid: 'snk_attacker', jku: `${attacker.url}/jwks.json` }), attackerKey.privateKey)}`,
    verifiesUnder: attackerVerifies,
    expected: 'unauthorized',
  },
  {
    name: "jku pointing at the attacker's JWKS, under our kid",
    authorization: async () => `Bearer ${await signWith(claims(), header('RS256', { jku: `${attacker.url}/jwks.json` }), attackerKey.privateKey)}`,
    verifiesUnder: attackerVerifies,
    expected: 'unauthorized',
  },
  {
    name: "x5u pointing at the attacker's certificate",
    authorization: async () =>
      `Bearer ${await signWith(claims(), header('RS256', { kid: 'snk_attacker', x5u: `${attacker.url}/cert.pem` }), attackerKey.privateKey)}`,
    verifiesUnder: attackerVerifies,
    expected: 'unauthorized',
  },
  {
    name: "the attacker's key embedded as jwk",
    authorization: async () =>
      `Bearer ${await signWith(claims(), { alg: 'RS256', typ: 'JWT', jwk: publicPart(attackerKey.publicJwk) }, attackerKey.privateKey)}`,
    verifiesUnder: attackerVerifies,
    expected: 'unauthorized',
  },
  {
    name: "the attacker's key embedded as jwk, under our kid",
    authorization: async () => `Bearer ${await signWith(claims(), header('RS256', { jwk: publicPart(attackerKey.publicJwk) }), attackerKey.privateKey)}`,
    verifiesUnder: attackerVerifies,
    expected: 'unauthorized',
  },
  {
    name: "kid is a URL on the attacker's server",
    authorization: async () =>
      `Bearer ${await signWith(claims(), header('RS256', { kid: `${attacker.url}/keys/snk_primary` }), attackerKey.privateKey)}`,
    verifiesUnder: attackerVerifies,
    expected: 'unauthorized',
  },
  {
    name: 'an unknown critical header, signed with our real key',
    authorization: async () =>
      `Bearer ${await signWith(claims(), header('RS256', { crit: ['urn:example:evil'], 'urn:example:evil': true }), issuer.key.privateKey, {
        crit: { 'urn:example:evil': true },
      })}`,
    verifiesUnder: async () => ({ key: await importJWK(issuer.key.publicJwk, 'RS256'), alg: 'RS256', crit: { 'urn:example:evil': true } }),
    expected: 'unauthorized',
  },
  {
    name: 'an unencoded payload (b64: false, RFC 7797), signed with our real key',
    authorization: async () => {
      // The payload is sent as is; base64url text keeps it within the compact form a JWT must have.
      const signed = await new FlattenedSign(new TextEncoder().encode(base64url(claims())))
        .setProtectedHeader({ alg: 'RS256', kid: 'snk_primary', b64: false, crit: ['b64'] })
        .sign(issuer.key.privateKey);
      return `Bearer ${signed.protected}.${signed.payload}.${signed.signature}`;
    },
    expected: 'unauthorized',
  },
];

const beyond = CLOCK_TOLERANCE_SECONDS + 20;
const within = Math.max(1, CLOCK_TOLERANCE_SECONDS - 5);

const claimAttacks: AttackCase[] = [
  { name: 'exp missing', authorization: withClaims({ exp: undefined }), expected: 'unauthorized' },
  { name: `exp ${beyond} s past (beyond the ${CLOCK_TOLERANCE_SECONDS} s tolerance)`, authorization: async () => `Bearer ${await issuer.mint({ claims: { iat: nowSeconds() - 600, nbf: nowSeconds() - 600, exp: nowSeconds() - beyond } })}`, expected: 'unauthorized' },
  { name: `exp ${within} s past (within the tolerance): accepted`, authorization: async () => `Bearer ${await issuer.mint({ claims: { iat: nowSeconds() - 600, nbf: nowSeconds() - 600, exp: nowSeconds() - within } })}`, expected: 'accepted' },
  { name: `nbf ${beyond} s ahead (beyond the tolerance)`, authorization: async () => `Bearer ${await issuer.mint({ claims: { nbf: nowSeconds() + beyond } })}`, expected: 'unauthorized' },
  { name: `nbf ${within} s ahead (within the tolerance): accepted`, authorization: async () => `Bearer ${await issuer.mint({ claims: { nbf: nowSeconds() + within } })}`, expected: 'accepted' },
  { name: 'exp as a string of digits', authorization: async () => `Bearer ${await issuer.mint({ claims: { exp: String(nowSeconds() + 300) } })}`, expected: 'unauthorized' },
  { name: 'iss missing', authorization: withClaims({ iss: undefined }), expected: 'unauthorized' },
  { name: 'iss of another authorization server', authorization: withClaims({ iss: 'https://evil.scalekit.com' }), expected: 'unauthorized' },
  { name: 'iss with a trailing slash', authorization: async () => `Bearer ${await issuer.mint({ claims: { iss: `${issuer.environmentUrl}/` } })}`, expected: 'unauthorized' },
  { name: 'iss for another resource', authorization: async () => `Bearer ${await issuer.mint({ claims: { iss: `${issuer.environmentUrl}/resources/res_other` } })}`, expected: 'unauthorized' },
  { name: 'iss for our resource with a trailing slash', authorization: async () => `Bearer ${await issuer.mint({ claims: { iss: `${issuer.environmentUrl}/resources/${issuer.resourceId}/` } })}`, expected: 'unauthorized' },
  { name: 'aud missing', authorization: withClaims({ aud: undefined }), expected: 'unauthorized' },
  { name: 'aud of another resource', authorization: withClaims({ aud: ['res_other'] }), expected: 'unauthorized' },
  { name: 'aud of another server', authorization: withClaims({ aud: ['https://other.example.com/web-search/mcp'] }), expected: 'unauthorized' },
  { name: 'aud a prefix of our resource identifier', authorization: async () => `Bearer ${await issuer.mint({ claims: { aud: [ours().slice(0, -1)] } })}`, expected: 'unauthorized' },
  { name: 'aud a prefix of our resource id', authorization: withClaims({ aud: ['res_test12'] }), expected: 'unauthorized' },
  { name: 'aud a suffix of our resource identifier', authorization: async () => `Bearer ${await issuer.mint({ claims: { aud: [ours().slice('http://'.length)] } })}`, expected: 'unauthorized' },
  { name: 'aud a suffix of our resource id', authorization: withClaims({ aud: ['test123'] }), expected: 'unauthorized' },
  { name: 'aud our resource identifier with more appended', authorization: async () => `Bearer ${await issuer.mint({ claims: { aud: [`${ours()}-evil`] } })}`, expected: 'unauthorized' },
  { name: 'aud our resource identifier with a trailing slash', authorization: async () => `Bearer ${await issuer.mint({ claims: { aud: [`${ours()}/`] } })}`, expected: 'unauthorized' },
  { name: 'aud our resource identifier in other case', authorization: async () => `Bearer ${await issuer.mint({ claims: { aud: [ours().replace('/mcp', '/MCP')] } })}`, expected: 'unauthorized' },
  { name: 'aud ours, nested in an array', authorization: async () => `Bearer ${await issuer.mint({ claims: { aud: [[ours(), issuer.resourceId]] } })}`, expected: 'unauthorized' },
];

const scopeLookAlikes: AttackCase[] = [
  { name: 'scope "web-search:readx"', authorization: withClaims({ scope: 'web-search:readx' }), expected: 'insufficient_scope' },
  { name: 'scope "WEB-SEARCH:READ"', authorization: withClaims({ scope: 'WEB-SEARCH:READ' }), expected: 'insufficient_scope' },
  { name: 'scope "web-search:rea"', authorization: withClaims({ scope: 'web-search:rea' }), expected: 'insufficient_scope' },
  { name: 'scope a number', authorization: withClaims({ scope: 1 }), expected: 'insufficient_scope' },
  { name: 'scopes an array of numbers', authorization: withClaims({ scope: undefined, scopes: [1] }), expected: 'insufficient_scope' },
  { name: 'scopes a string where an array belongs', authorization: withClaims({ scope: undefined, scopes: REQUIRED_SCOPE }), expected: 'insufficient_scope' },
  { name: 'scope an array where a string belongs', authorization: withClaims({ scope: [REQUIRED_SCOPE] }), expected: 'insufficient_scope' },
  { name: 'scope an object', authorization: withClaims({ scope: { [REQUIRED_SCOPE]: true } }), expected: 'insufficient_scope' },
  { name: 'scope in the unrelated claim "scp"', authorization: withClaims({ scope: undefined, scp: REQUIRED_SCOPE }), expected: 'insufficient_scope' },
  { name: 'scope in the unrelated claim "permissions"', authorization: withClaims({ scope: undefined, permissions: [REQUIRED_SCOPE] }), expected: 'insufficient_scope' },
  { name: 'scopes separated by a comma', authorization: withClaims({ scope: `${REQUIRED_SCOPE},openid` }), expected: 'insufficient_scope' },
  // A tab is not NQCHAR (RFC 6749 section 3.3): the whole token is malformed, not merely short of a scope (issue 12).
  { name: 'scopes separated by a tab', authorization: withClaims({ scope: `openid\t${REQUIRED_SCOPE}` }), expected: 'unauthorized' },
];

const shapeAttacks: AttackCase[] = [
  { name: 'two segments', authorization: reshaped((s) => s.slice(0, 2)), expected: 'unauthorized' },
  { name: 'four segments', authorization: reshaped((s) => [...s, s[2]!]), expected: 'unauthorized' },
  {
    name: 'a JWE (five segments) encrypted to our own public key',
    authorization: async () => {
      const { kty, n, e } = issuer.key.publicJwk;
      const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims())))
        .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'snk_primary' })
        .encrypt(await importJWK({ kty, n, e }, 'RSA-OAEP-256'));
      return `Bearer ${jwe}`;
    },
    expected: 'unauthorized',
  },
  { name: 'standard base64 characters in the header', authorization: reshaped(([h, p, s]) => [`${h!.slice(0, -2)}+/`, p!, s!]), expected: 'unauthorized' },
  { name: 'standard base64 characters in the payload', authorization: reshaped(([h, p, s]) => [h!, `${p!.slice(0, -2)}+/`, s!]), expected: 'unauthorized' },
  { name: 'padding in the signature', authorization: reshaped(([h, p, s]) => [h!, p!, `${s!}==`]), expected: 'unauthorized' },
  { name: 'an impossible base64 length in the header', authorization: reshaped(([h, p, s]) => [impossibleLength(h!), p!, s!]), expected: 'unauthorized' },
  { name: 'an impossible base64 length in the payload', authorization: reshaped(([h, p, s]) => [h!, impossibleLength(p!), s!]), expected: 'unauthorized' },
  { name: 'an impossible base64 length in the signature', authorization: reshaped(([h, p, s]) => [h!, p!, impossibleLength(s!)]), expected: 'unauthorized' },
  {
    name: 'the payload changed after signing (sub)',
    authorization: reshaped(([h, p, s]) => [h!, base64url({ ...JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')), sub: 'usr_admin' }), s!]),
    expected: 'unauthorized',
  },
  {
    name: 'the payload changed after signing (scope raised)',
    authorization: async () => {
      const [h, p, s] = (await issuer.mint({ claims: { scope: 'openid' } })).split('.');
      const raised = { ...JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')), scope: REQUIRED_SCOPE };
      return `Bearer ${h}.${base64url(raised)}.${s}`;
    },
    expected: 'unauthorized',
  },
  {
    name: 'a genuine token only in the query string (?access_token=)',
    authorization: raw(undefined),
    query: async () => `?access_token=${await issuer.mint()}`,
    expected: 'unauthorized',
    authorizerSkipped: true,
  },
  { name: 'Basic credentials', authorization: raw(`Basic ${Buffer.from('admin:admin').toString('base64')}`), expected: 'unauthorized' },
  { name: 'a genuine token under the Basic scheme', authorization: async () => `Basic ${await issuer.mint()}`, expected: 'unauthorized' },
  { name: 'a genuine token under the Token scheme', authorization: async () => `Token ${await issuer.mint()}`, expected: 'unauthorized' },
  { name: 'a genuine token under the DPoP scheme', authorization: async () => `DPoP ${await issuer.mint()}`, expected: 'unauthorized' },
  { name: 'a genuine token with no scheme', authorization: async () => issuer.mint(), expected: 'unauthorized' },
  { name: 'a genuine token after "Bearer" and a tab', authorization: async () => `Bearer\t${await issuer.mint()}`, expected: 'unauthorized' },
  { name: '"Bearer" with an empty token', authorization: raw('Bearer '), expected: 'unauthorized' },
  { name: '"Bearer" followed by spaces only', authorization: raw('Bearer     '), expected: 'unauthorized' },
  { name: 'two genuine tokens in one header', authorization: async () => `Bearer ${await issuer.mint()} ${await issuer.mint()}`, expected: 'unauthorized' },
  { name: 'two Authorization headers, each with a genuine token', authorization: async () => [`Bearer ${await issuer.mint()}`, `Bearer ${await issuer.mint()}`], expected: 'unauthorized' },
  { name: 'two Authorization headers, one empty and one genuine', authorization: async () => ['', `Bearer ${await issuer.mint()}`], expected: 'unauthorized' },
];

const sizeAttacks: AttackCase[] = [
  {
    name: 'an Authorization header of 100 KB: refused before the authorizer, JWKS untouched',
    authorization: async () => `Bearer ${'a'.repeat(100 * 1024)}.${'b'.repeat(10)}.${'c'.repeat(10)}`,
    expected: 'refused_oversized',
    jwksUntouched: true,
  },
  {
    name: 'an Authorization header of 12 KB (past the authorizer\'s 8 KiB bound): refused unparsed, JWKS untouched',
    authorization: async () => `Bearer ${await issuer.mint({ claims: { padding: 'p'.repeat(9 * 1024) } })}`,
    expected: 'unauthorized',
    jwksUntouched: true,
  },
];

async function attempt(attack: AttackCase): Promise<RawResponse> {
  const authorization = await attack.authorization();
  if (attack.verifiesUnder) {
    const { key, alg, crit } = await attack.verifiesUnder();
    const token = String(authorization).replace(/^Bearer /, '');
    await expect(compactVerify(token, key, { algorithms: [alg], crit })).resolves.toBeDefined();
  }
  const headers: RawHeaders = authorization === undefined ? {} : { Authorization: authorization };
  return postMcp(stack, headers, { query: attack.query ? await attack.query() : '' });
}

function expectOutcome(response: RawResponse, expected: Expected) {
  const challenge = response.headers['www-authenticate'];
  switch (expected) {
    case 'unauthorized':
      expect(response.status).toBe(401);
      expect(challenge).toBe(unauthorizedChallenge(stack));
      expect(json(response)).toMatchObject({ error: 'invalid_token' });
      return;
    case 'insufficient_scope':
      expect(response.status).toBe(403);
      expect(challenge).toBe(insufficientScopeChallenge(stack));
      expect(json(response)).toMatchObject({ error: 'insufficient_scope' });
      return;
    case 'accepted':
      expect(response.status).toBe(200);
      expect(challenge).toBeUndefined();
      expect(json(response)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { serverInfo: { name: 'web-search-mcp' } } });
      return;
    case 'refused_oversized':
      // Node's HTTP server refuses headers past 16 KiB itself (431); a gateway that read them must say 401.
      expect([401, 431]).toContain(response.status);
      if (response.status === 401) expect(challenge).toBe(unauthorizedChallenge(stack));
      else expect(challenge).toBeUndefined();
      return;
  }
}

const suites: ReadonlyArray<readonly [string, readonly AttackCase[]]> = [
  ['algorithm and header attacks', algorithmAttacks],
  ['claim attacks', claimAttacks],
  ['scope look-alikes: a genuine token, the scope not granted', scopeLookAlikes],
  ['token shape and transport', shapeAttacks],
  ['size', sizeAttacks],
];

test('the door opens for a genuine token (the baseline every attack differs from)', async () => {
  expectOutcome(await postMcp(stack, bearer(await issuer.mint())), 'accepted');
});

describe.each(suites)('%s', (_suite, attacks) => {
  test.each(attacks.map((attack) => [attack.name, attack] as const))('%s', async (_name, attack) => {
    if (attack.jwksUntouched) await stack.pools.authorizer.recycle();
    const jwksBefore = issuer.jwksRequests;
    const invocationsBefore = stack.gateway.authorizerInvocations;

    const response = await attempt(attack);

    if (attack.expected === 'refused_oversized' && response.status === 431) {
      expect(stack.gateway.authorizerInvocations).toBe(invocationsBefore);
    }
    expectOutcome(response, attack.expected);
    if (attack.authorizerSkipped) expect(stack.gateway.authorizerInvocations).toBe(invocationsBefore);
    if (attack.jwksUntouched) expect(issuer.jwksRequests).toBe(jwksBefore);
  });
});

test('there are at least 30 attacks, each its own test', () => {
  const count = suites.reduce((total, [, attacks]) => total + attacks.length, 0);
  expect(count).toBeGreaterThanOrEqual(30);
  expect(new Set(suites.flatMap(([, attacks]) => attacks.map((attack) => attack.name))).size).toBe(count);
});
