import {
  createSigningKeySource,
  JWKS_DEFAULTS,
  SigningKeysUnavailableError,
  UnknownSigningKeyError,
  type SigningKeySourceOptions,
} from '../../../lambda/authorizer/signing-keys.js';
import { sendJson, startLoopbackServer, unusedLoopbackUrl, type LoopbackServer } from '../helpers/loopback-server.js';
import { rsaKey, verifiesWith, weakRsaKey, type TestKey } from './keys.js';
import { rejection } from '../../fixtures/rejection.js';

let jwks: LoopbackServer;
let primary: TestKey;
let secondary: TestKey;
let rotated: TestKey;
/** What the JWKS endpoint answers: a key set, or a status with a body. */
let published: { status: number; body: unknown };
let clock: number;

const REFRESH = JWKS_DEFAULTS.refreshIntervalMs;
const COOLDOWN = JWKS_DEFAULTS.unknownKeyCooldownMs;

beforeAll(async () => {
  [primary, secondary, rotated] = await Promise.all([rsaKey('snk_primary'), rsaKey('snk_secondary'), rsaKey('snk_rotated')]);
  jwks = await startLoopbackServer((_request, res) => sendJson(res, published.status, published.body));
});

afterAll(async () => {
  await jwks?.close();
});

beforeEach(() => {
  jwks.requests.length = 0;
  jwks.handler = (_request, res) => sendJson(res, published.status, published.body);
  published = { status: 200, body: { keys: [primary.publicJwk, secondary.publicJwk] } };
  clock = 1_000_000;
});

const source = (options: Partial<SigningKeySourceOptions> = {}) =>
  createSigningKeySource({ jwksUrl: `${jwks.url}/keys`, now: () => clock, ...options });

describe('fetching', () => {
  test('the JWKS is fetched on first use, with a JWKS Accept header, and the key for the kid is returned', async () => {
    const keys = source();
    expect(jwks.requests).toHaveLength(0);
    const key = await keys.keyFor({ kid: 'snk_secondary', alg: 'RS256' });
    expect(await verifiesWith(key, secondary)).toBe(true);
    expect(await verifiesWith(key, primary)).toBe(false);
    expect(jwks.requests).toHaveLength(1);
    expect(jwks.requests[0]).toMatchObject({ method: 'GET', path: '/keys' });
    expect(jwks.requests[0]!.headers.accept).toBe('application/jwk-set+json, application/json');
  });

  test('keys are held: later lookups within the refresh interval do not fetch', async () => {
    const keys = source();
    const first = await keys.keyFor({ kid: 'snk_primary' });
    clock += REFRESH - 1;
    const again = await keys.keyFor({ kid: 'snk_primary' });
    expect(again).toBe(first);
    expect(jwks.requests).toHaveLength(1);
  });

  test('concurrent first uses share one fetch', async () => {
    const keys = source();
    const results = await Promise.all(Array.from({ length: 8 }, () => keys.keyFor({ kid: 'snk_primary' })));
    expect(jwks.requests).toHaveLength(1);
    for (const key of results) expect(key).toBe(results[0]);
  });

  test('the keys are refreshed after the refresh interval, and a key dropped by the server is dropped here', async () => {
    const keys = source();
    await keys.keyFor({ kid: 'snk_secondary' });
    published = { status: 200, body: { keys: [primary.publicJwk] } };
    clock += REFRESH;
    expect(await verifiesWith(await keys.keyFor({ kid: 'snk_primary' }), primary)).toBe(true);
    expect(jwks.requests).toHaveLength(2);
    const error = await rejection(keys.keyFor({ kid: 'snk_secondary' }));
    expect(error).toBeInstanceOf(UnknownSigningKeyError);
    expect(jwks.requests).toHaveLength(2);
  });

  test('the interval and cooldown can be configured', async () => {
    const keys = source({ refreshIntervalMs: 1_000, unknownKeyCooldownMs: 100 });
    await keys.keyFor({ kid: 'snk_primary' });
    clock += 999;
    await keys.keyFor({ kid: 'snk_primary' });
    expect(jwks.requests).toHaveLength(1);
    clock += 1;
    await keys.keyFor({ kid: 'snk_primary' });
    expect(jwks.requests).toHaveLength(2);
  });

  test('an injected GET is used instead of node:http', async () => {
    const calls: string[] = [];
    const keys = createSigningKeySource({
      jwksUrl: 'https://acme.scalekit.example/keys',
      now: () => clock,
      get: async (url) => {
        calls.push(url);
        return { status: 200, body: Buffer.from(JSON.stringify({ keys: [primary.publicJwk] })) };
      },
    });
    expect(await verifiesWith(await keys.keyFor({ kid: 'snk_primary' }), primary)).toBe(true);
    expect(calls).toEqual(['https://acme.scalekit.example/keys']);
  });
});

describe('an outage of the JWKS endpoint', () => {
  test('with no keys held: SigningKeysUnavailableError naming the status', async () => {
    published = { status: 503, body: { error: 'unavailable' } };
    const error = await rejection(source().keyFor({ kid: 'snk_primary' }));
    expect(error).toBeInstanceOf(SigningKeysUnavailableError);
    expect(error.name).toBe('SigningKeysUnavailableError');
    expect(error.message).toBe('JWKS endpoint answered HTTP 503');
  });

  test('a failed first fetch is retried on the next use (nothing is held to fall back on)', async () => {
    published = { status: 500, body: {} };
    const keys = source();
    await rejection(keys.keyFor({ kid: 'snk_primary' }));
    published = { status: 200, body: { keys: [primary.publicJwk] } };
    expect(await verifiesWith(await keys.keyFor({ kid: 'snk_primary' }), primary)).toBe(true);
    expect(jwks.requests).toHaveLength(2);
  });

  test('keys held survive an outage after the refresh interval; the refresh is retried only after the cooldown', async () => {
    const keys = source();
    const held = await keys.keyFor({ kid: 'snk_primary' });
    published = { status: 503, body: { error: 'down' } };

    clock += REFRESH + 1;
    expect(await keys.keyFor({ kid: 'snk_primary' })).toBe(held);
    expect(jwks.requests).toHaveLength(2);

    clock += COOLDOWN - 1;
    expect(await keys.keyFor({ kid: 'snk_primary' })).toBe(held);
    expect(jwks.requests).toHaveLength(2);

    clock += 1;
    expect(await keys.keyFor({ kid: 'snk_primary' })).toBe(held);
    expect(jwks.requests).toHaveLength(3);

    published = { status: 200, body: { keys: [primary.publicJwk, rotated.publicJwk] } };
    clock += COOLDOWN;
    expect(await verifiesWith(await keys.keyFor({ kid: 'snk_rotated' }), rotated)).toBe(true);
    expect(jwks.requests).toHaveLength(4);
  });

  test('keys held survive an unreachable endpoint too', async () => {
    const keys = source();
    const held = await keys.keyFor({ kid: 'snk_primary' });
    jwks.handler = (_request, res) => {
      res.destroy();
    };
    clock += REFRESH;
    expect(await keys.keyFor({ kid: 'snk_primary' })).toBe(held);
  });

  test('an unknown kid while the endpoint is down and keys are held: unavailable, not a bad signature', async () => {
    const keys = source();
    await keys.keyFor({ kid: 'snk_primary' });
    published = { status: 503, body: {} };
    clock += COOLDOWN;
    const error = await rejection(keys.keyFor({ kid: 'snk_unknown' }));
    expect(error).toBeInstanceOf(SigningKeysUnavailableError);
    expect(jwks.requests).toHaveLength(2);
  });

  test.each([
    ['not JSON', { status: 200, raw: '<html>maintenance</html>' }, 'JWKS response is not JSON'],
    ['no keys array', { status: 200, body: { keys: 'none' } }, 'JWKS response has no usable "keys" array'],
    ['a JSON array', { status: 200, body: [] }, 'JWKS response has no usable "keys" array'],
    ['JSON null', { status: 200, body: null }, 'JWKS response has no usable "keys" array'],
    ['an empty keys array', { status: 200, body: { keys: [] } }, 'JWKS response holds no RSA signing key'],
    ['a redirect (never followed)', { status: 302, body: {} }, 'JWKS endpoint answered HTTP 302'],
    ['a 404', { status: 404, body: {} }, 'JWKS endpoint answered HTTP 404'],
  ])('%s: SigningKeysUnavailableError', async (_why, answer, message) => {
    jwks.handler = (_request, res) => {
      if ('raw' in answer) {
        res.writeHead(answer.status, { 'Content-Type': 'text/html' });
        res.end(answer.raw);
      } else {
        sendJson(res, answer.status, answer.body, answer.status === 302 ? { Location: `${jwks.url}/elsewhere` } : {});
      }
    };
    const error = await rejection(source().keyFor({ kid: 'snk_primary' }));
    expect(error).toBeInstanceOf(SigningKeysUnavailableError);
    expect(error.message).toBe(message);
    expect(jwks.requests.map((request) => request.path)).toEqual(['/keys']);
  });

  test('more than 50 keys is refused as a whole', async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ ...primary.publicJwk, kid: `snk_${i}` }));
    published = { status: 200, body: { keys: many } };
    const error = await rejection(source().keyFor({ kid: 'snk_0' }));
    expect(error.message).toBe('JWKS response has no usable "keys" array');
    published = { status: 200, body: { keys: many.slice(0, 50) } };
    expect(await verifiesWith(await source().keyFor({ kid: 'snk_49' }), primary)).toBe(true);
  });

  test('a response over the size limit is refused', async () => {
    published = { status: 200, body: { keys: [primary.publicJwk], padding: 'x'.repeat(5_000) } };
    const error = await rejection(source({ maxResponseBytes: 4_096 }).keyFor({ kid: 'snk_primary' }));
    expect(error).toBeInstanceOf(SigningKeysUnavailableError);
    expect(error.message).toBe('JWKS response exceeds 4096 bytes');
  });

  test('the default size limit is 64 KiB', async () => {
    published = { status: 200, body: { keys: [primary.publicJwk], padding: 'x'.repeat(64 * 1024) } };
    const error = await rejection(source().keyFor({ kid: 'snk_primary' }));
    expect(error.message).toBe('JWKS response exceeds 65536 bytes');
  });

  test('an endpoint that does not answer in time', async () => {
    jwks.handler = () => undefined; // never answers; close() drops the connection
    const error = await rejection(source({ timeoutMs: 100 }).keyFor({ kid: 'snk_primary' }));
    expect(error).toBeInstanceOf(SigningKeysUnavailableError);
    expect(error.message).toBe('JWKS fetch failed: timeout');
  });

  test('an endpoint nobody listens on', async () => {
    const keys = createSigningKeySource({ jwksUrl: `${await unusedLoopbackUrl()}/keys`, now: () => clock });
    const error = await rejection(keys.keyFor({ kid: 'snk_primary' }));
    expect(error).toBeInstanceOf(SigningKeysUnavailableError);
    expect(error.message).toBe('JWKS fetch failed: network');
  });
});

describe('unknown kid', () => {
  test('right after a fetch: refused without fetching again', async () => {
    const keys = source();
    await keys.keyFor({ kid: 'snk_primary' });
    const error = await rejection(keys.keyFor({ kid: 'snk_unknown' }));
    expect(error).toBeInstanceOf(UnknownSigningKeyError);
    expect(error.message).toBe('No signing key matches the token');
    expect(jwks.requests).toHaveLength(1);
  });

  test('on first use: one fetch, then refused', async () => {
    const error = await rejection(source().keyFor({ kid: 'snk_unknown' }));
    expect(error).toBeInstanceOf(UnknownSigningKeyError);
    expect(jwks.requests).toHaveLength(1);
  });

  test('after the cooldown: one refetch, then the cooldown applies to every further unknown kid', async () => {
    const keys = source();
    await keys.keyFor({ kid: 'snk_primary' });
    clock += COOLDOWN;
    expect(await rejection(keys.keyFor({ kid: 'snk_junk_1' }))).toBeInstanceOf(UnknownSigningKeyError);
    expect(jwks.requests).toHaveLength(2);
    for (let i = 2; i < 20; i++) {
      clock += 1_000;
      expect(await rejection(keys.keyFor({ kid: `snk_junk_${i}` }))).toBeInstanceOf(UnknownSigningKeyError);
    }
    // 18 more seconds passed: still within the 30 s cooldown of the second fetch.
    expect(jwks.requests).toHaveLength(2);
    clock += COOLDOWN;
    expect(await rejection(keys.keyFor({ kid: 'snk_junk_x' }))).toBeInstanceOf(UnknownSigningKeyError);
    expect(jwks.requests).toHaveLength(3);
  });

  test('a rotated key is picked up by the refetch', async () => {
    const keys = source();
    await keys.keyFor({ kid: 'snk_primary' });
    published = { status: 200, body: { keys: [primary.publicJwk, rotated.publicJwk] } };
    clock += COOLDOWN;
    expect(await verifiesWith(await keys.keyFor({ kid: 'snk_rotated' }), rotated)).toBe(true);
    expect(jwks.requests).toHaveLength(2);
    // Known keys stay known.
    expect(await verifiesWith(await keys.keyFor({ kid: 'snk_primary' }), primary)).toBe(true);
    expect(jwks.requests).toHaveLength(2);
  });

  test('a kid that is not a string matches nothing', async () => {
    const keys = source();
    await keys.keyFor({ kid: 'snk_primary' });
    expect(await rejection(keys.keyFor({ kid: 42 }))).toBeInstanceOf(UnknownSigningKeyError);
  });
});

describe('which published keys are used', () => {
  test('RSA keys under 2048 bits are ignored', async () => {
    const weak = weakRsaKey('snk_weak', 1024);
    const almost = weakRsaKey('snk_2040', 2040);
    published = { status: 200, body: { keys: [weak.publicJwk, almost.publicJwk, primary.publicJwk] } };
    const keys = source();
    expect(await rejection(keys.keyFor({ kid: 'snk_weak' }))).toBeInstanceOf(UnknownSigningKeyError);
    expect(await rejection(keys.keyFor({ kid: 'snk_2040' }))).toBeInstanceOf(UnknownSigningKeyError);
    expect(await verifiesWith(await keys.keyFor({ kid: 'snk_primary' }), primary)).toBe(true);
  });

  test('a JWKS of weak keys only holds no usable key', async () => {
    published = { status: 200, body: { keys: [weakRsaKey('snk_weak').publicJwk] } };
    const error = await rejection(source().keyFor({ kid: 'snk_weak' }));
    expect(error).toBeInstanceOf(SigningKeysUnavailableError);
    expect(error.message).toBe('JWKS response holds no RSA signing key');
  });

  test('encryption keys, other algorithms, other key types and incomplete keys are ignored', async () => {
    const { n, e } = primary.publicJwk;
    published = {
      status: 200,
      body: {
        keys: [
          { kty: 'RSA', n, e, kid: 'enc', use: 'enc' },
          { kty: 'RSA', n, e, kid: 'rs512', alg: 'RS512' },
          { kty: 'RSA', n, e, kid: 'ps256', alg: 'PS256' },
          { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'ec' },
          { kty: 'RSA', n, kid: 'no-e' },
          { kty: 'RSA', e, kid: 'no-n' },
          null,
          'junk',
          { kty: 'RSA', n, e, kid: 'plain' },
        ],
      },
    };
    const keys = source();
    for (const kid of ['enc', 'rs512', 'ps256', 'ec', 'no-e', 'no-n']) {
      expect(await rejection(keys.keyFor({ kid }))).toBeInstanceOf(UnknownSigningKeyError);
    }
    expect(await verifiesWith(await keys.keyFor({ kid: 'plain' }), primary)).toBe(true);
  });

  test('an RSA key whose public exponent is not 65537 is skipped, with one warning per key naming only its kid', async () => {
    const { n } = primary.publicJwk;
    const warnings: Array<{ kid: string | undefined; reason: string }> = [];
    published = {
      status: 200,
      body: { keys: [{ kty: 'RSA', n, e: 'AQ', kid: 'snk_e1' }, { kty: 'RSA', n, e: 'Aw', kid: 'snk_e3' }, { kty: 'RSA', n, e: 'AQ' }, secondary.publicJwk] },
    };
    const keys = source({ onSkippedKey: (kid, reason) => warnings.push({ kid, reason }) });
    expect(await verifiesWith(await keys.keyFor({ kid: 'snk_secondary' }), secondary)).toBe(true);
    for (const kid of ['snk_e1', 'snk_e3']) expect(await rejection(keys.keyFor({ kid }))).toBeInstanceOf(UnknownSigningKeyError);
    const reason = 'its public exponent is not 65537';
    expect(warnings).toEqual([
      { kid: 'snk_e1', reason },
      { kid: 'snk_e3', reason },
      { kid: undefined, reason },
    ]);
    // Fetched again (refresh, then an unknown kid after the cooldown): the same keys warn no more.
    clock += REFRESH;
    await keys.keyFor({ kid: 'snk_secondary' });
    clock += COOLDOWN;
    await rejection(keys.keyFor({ kid: 'snk_e1' }));
    expect(jwks.requests).toHaveLength(3);
    expect(warnings).toHaveLength(3);
  });

  test('a JWKS whose only RSA key has exponent 1 holds no usable key', async () => {
    published = { status: 200, body: { keys: [{ ...primary.publicJwk, e: 'AQ' }] } };
    const error = await rejection(source().keyFor({ kid: 'snk_primary' }));
    expect(error).toBeInstanceOf(SigningKeysUnavailableError);
    expect(error.message).toBe('JWKS response holds no RSA signing key');
  });

  test('a key whose key_ops (when present) do not include verify is skipped, with one warning per key', async () => {
    const warnings: Array<{ kid: string | undefined; reason: string }> = [];
    const withOps = (kid: string, key_ops: unknown) => ({ ...primary.publicJwk, kid, key_ops });
    published = {
      status: 200,
      body: {
        keys: [
          withOps('ops_encrypt', ['encrypt']),
          withOps('ops_sign', ['sign']),
          withOps('ops_empty', []),
          withOps('ops_string', 'verify'),
          withOps('ops_verify', ['verify']),
          withOps('ops_sign_verify', ['sign', 'verify']),
          primary.publicJwk,
        ],
      },
    };
    const keys = source({ onSkippedKey: (kid, reason) => warnings.push({ kid, reason }) });
    for (const kid of ['ops_verify', 'ops_sign_verify', 'snk_primary']) expect(await verifiesWith(await keys.keyFor({ kid }), primary)).toBe(true);
    for (const kid of ['ops_encrypt', 'ops_sign', 'ops_empty', 'ops_string']) {
      expect(await rejection(keys.keyFor({ kid }))).toBeInstanceOf(UnknownSigningKeyError);
    }
    const reason = 'its key_ops do not include verify';
    expect(warnings).toEqual(['ops_encrypt', 'ops_sign', 'ops_empty', 'ops_string'].map((kid) => ({ kid, reason })));
  });

  test('a token without kid uses the only key published', async () => {
    const { kid: _kid, ...unnamed } = primary.publicJwk;
    published = { status: 200, body: { keys: [unnamed] } };
    expect(await verifiesWith(await source().keyFor({}), primary)).toBe(true);
    published = { status: 200, body: { keys: [primary.publicJwk] } };
    expect(await verifiesWith(await source().keyFor({}), primary)).toBe(true);
  });

  test('a token without kid matches nothing when several keys are published', async () => {
    expect(await rejection(source().keyFor({}))).toBeInstanceOf(UnknownSigningKeyError);
  });

  test('a key published without kid is not matched by a token naming a kid', async () => {
    const { kid: _kid, ...unnamed } = primary.publicJwk;
    published = { status: 200, body: { keys: [unnamed] } };
    expect(await rejection(source().keyFor({ kid: 'snk_primary' }))).toBeInstanceOf(UnknownSigningKeyError);
  });
});
