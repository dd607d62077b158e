/**
 * The authorization server's keys going wrong, seen through the local gateway:
 * rotation, a flood of unknown kids, an outage of the JWKS endpoint, a JWKS that
 * is broken in every way the fixture can make it, and a token expiring while
 * the gateway still holds a cached Allow for it.
 *
 * An authorizer instance keeps its keys in memory and refetches for an unknown
 * kid at most once per cooldown (30 s). Proving rotation and outage on an
 * instance that already holds keys means waiting out that cooldown once: the
 * `rotating` and `failing` environments are warmed first, the other tests run
 * meanwhile, and the tests that need the cooldown over come last.
 */
import { randomUUID } from 'node:crypto';
import { JWKS_DEFAULTS } from '../../lambda/authorizer/signing-keys.js';
import type { AccessLogEntry } from '../../local/gateway.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import {
  createSigningKey,
  exponentOneForgery,
  startTokenIssuer,
  type JwksBehaviour,
  type SigningKey,
  type TokenIssuer,
} from '../fixtures/token-issuer.js';
import {
  bearer,
  CLOCK_TOLERANCE_SECONDS,
  json,
  nowSeconds,
  postMcp,
  sleepUntil,
  unauthorizedChallenge,
  type RawResponse,
} from './support.js';

/** One authorization server and one local stack in front of it, with the gateway's access log. */
interface Environment {
  readonly issuer: TokenIssuer;
  readonly stack: LocalStack;
  readonly accessLog: AccessLogEntry[];
  /** The authorizer's log lines. */
  readonly authorizerLog: string[];
  /** When the authorizer instance last fetched the JWKS, as far as the test knows (after the call that caused it). */
  warmedAt: number;
}

async function startEnvironment({ maxInstances }: { maxInstances?: number } = {}): Promise<Environment> {
  const accessLog: AccessLogEntry[] = [];
  const authorizerLog: string[] = [];
  let stack: LocalStack | undefined;
  const issuer = await startTokenIssuer({ audience: () => stack!.resourceIdentifier });
  stack = await startLocalStack({
    port: 0,
    hosts: ['127.0.0.1'],
    publicHost: '127.0.0.1',
    authorizationServer: { environmentUrl: issuer.environmentUrl, resourceId: issuer.resourceId },
    maxInstances,
    onLog: (name, line) => {
      if (name === 'authorizer') authorizerLog.push(line);
    },
    onAccessLog: (entry) => accessLog.push(entry),
  });
  return { issuer, stack, accessLog, authorizerLog, warmedAt: 0 };
}

/** Call once with a good token so that the (single) authorizer instance fetches and holds the keys. */
async function warm(environment: Environment) {
  expectAccepted(await postMcp(environment.stack, bearer(await environment.issuer.mint())));
  environment.warmedAt = Date.now();
}

function expectAccepted(response: RawResponse) {
  expect(response.status).toBe(200);
  expect(response.headers['www-authenticate']).toBeUndefined();
}

function expectUnauthorized(response: RawResponse, stack: LocalStack) {
  expect(response.status).toBe(401);
  expect(response.headers['www-authenticate']).toBe(unauthorizedChallenge(stack));
}

/** Keys unreachable: AUTHORIZER_FAILURE served as 503 with Retry-After, never a 401 and never an allow. */
function expectKeysUnavailable(response: RawResponse) {
  expect(response.status).toBe(503);
  expect(response.headers['retry-after']).toBe('5');
  expect(response.headers['www-authenticate']).toBeUndefined();
  expect(json(response)).toMatchObject({ error: 'temporarily_unavailable' });
}

const COOLDOWN_MS = JWKS_DEFAULTS.unknownKeyCooldownMs;
/** Past the cooldown with a margin, since the instance's fetch happened a little before `warmedAt`. */
const afterCooldown = (environment: Environment) => sleepUntil(environment.warmedAt + COOLDOWN_MS + 1_000);

/** Tokens under kids nobody publishes, all signed by one throwaway key. */
async function junkKidTokens(environment: Environment, junkSigner: SigningKey, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      environment.issuer.mint({ key: junkSigner, header: { kid: `snk_junk_${i}_${randomUUID().slice(0, 8)}` } }),
    ),
  );
}

let rotating: Environment;
let failing: Environment;
let fresh: Environment;
let junkSigner: SigningKey;
let rotatedKey: SigningKey;

beforeAll(async () => {
  // One instance per function: every request meets the same authorizer and its key cache.
  [rotating, failing, fresh] = await Promise.all([
    startEnvironment({ maxInstances: 1 }),
    startEnvironment({ maxInstances: 1 }),
    startEnvironment(),
  ]);
  [junkSigner, rotatedKey] = await Promise.all([createSigningKey('snk_junk'), createSigningKey('snk_rotated_2')]);
  await Promise.all([warm(rotating), warm(failing)]);
}, 60_000);

afterAll(async () => {
  for (const environment of [rotating, failing, fresh]) {
    await environment?.stack.close();
    await environment?.issuer.close();
  }
});

describe('a flood of unknown kids', () => {
  test('20 junk kids at once: all 401 with the challenge, at most one JWKS refetch', async () => {
    const before = rotating.issuer.jwksRequests;
    const tokens = await junkKidTokens(rotating, junkSigner, 20);
    const responses = await Promise.all(tokens.map((token) => postMcp(rotating.stack, bearer(token))));
    for (const response of responses) expectUnauthorized(response, rotating.stack);
    expect(rotating.issuer.jwksRequests - before).toBeLessThanOrEqual(1);
    // A slow machine may have reached the end of the cooldown: that refetch starts the next one.
    if (rotating.issuer.jwksRequests > before) rotating.warmedAt = Date.now();
  });

  test('keys already held keep serving while the junk goes on', async () => {
    const before = rotating.issuer.jwksRequests;
    expectAccepted(await postMcp(rotating.stack, bearer(await rotating.issuer.mint())));
    expect(rotating.issuer.jwksRequests).toBe(before);
  });
});

describe('a broken JWKS, met by a fresh authorizer instance: 503, never an allow', () => {
  beforeEach(async () => {
    fresh.issuer.jwksBehaviour = 'ok';
    fresh.issuer.publish([fresh.issuer.key]);
    fresh.stack.gateway.clearAuthorizerCache();
    await fresh.stack.pools.authorizer.recycle();
  });

  afterAll(() => {
    fresh.issuer.jwksBehaviour = 'ok';
    fresh.issuer.publish([fresh.issuer.key]);
  });

  test.each<[string, JwksBehaviour]>([
    ['down (HTTP 503)', 'down'],
    ['oversized (200 KB, past the 64 KiB bound)', 'huge'],
    ['not JSON', 'not_json'],
    ['an empty key set', 'no_keys'],
    ['slower than the 3 s bound', 'slow'],
  ])('JWKS %s', async (_why, behaviour) => {
    fresh.issuer.jwksBehaviour = behaviour;
    const before = fresh.issuer.jwksRequests;
    expectKeysUnavailable(await postMcp(fresh.stack, bearer(await fresh.issuer.mint())));
    expect(fresh.issuer.jwksRequests - before).toBe(1);
  });

  test('JWKS holding only keys that are not RS256 signing keys', async () => {
    const unusable = (use: string, alg: string): SigningKey => ({ ...fresh.issuer.key, publicJwk: { ...fresh.issuer.key.publicJwk, use, alg } });
    fresh.issuer.publish([unusable('enc', 'RS256'), unusable('sig', 'RS512')]);
    expectKeysUnavailable(await postMcp(fresh.stack, bearer(await fresh.issuer.mint())));
  });

  test('the JWKS mended, the next fresh instance accepts the same token', async () => {
    const token = await fresh.issuer.mint();
    fresh.issuer.jwksBehaviour = 'down';
    expectKeysUnavailable(await postMcp(fresh.stack, bearer(token)));
    fresh.issuer.jwksBehaviour = 'ok';
    await fresh.stack.pools.authorizer.recycle();
    expectAccepted(await postMcp(fresh.stack, bearer(token)));
  });
});

describe('published keys that must never verify, met by a fresh authorizer instance', () => {
  beforeEach(async () => {
    fresh.issuer.jwksBehaviour = 'ok';
    fresh.stack.gateway.clearAuthorizerCache();
    await fresh.stack.pools.authorizer.recycle();
  });

  afterAll(() => {
    fresh.issuer.publish([fresh.issuer.key]);
  });

  test('exponent 1 (a token forged with no private key) and key_ops of encrypt only: 401, one warning per key naming only its kid', async () => {
    const forgery = exponentOneForgery('snk_exponent_one');
    const encryptionKey = await createSigningKey('snk_encrypt_only');
    const { use: _use, alg: _alg, ...encryptionJwk } = encryptionKey.publicJwk;
    fresh.issuer.publish([fresh.issuer.key, forgery, { publicJwk: { ...encryptionJwk, key_ops: ['encrypt'] } }]);
    const logged = fresh.authorizerLog.length;

    // Sequential: one authorizer instance, one JWKS fetch.
    for (let i = 0; i < 3; i++) {
      expectUnauthorized(await postMcp(fresh.stack, bearer(forgery.forge(fresh.issuer.defaultClaims()))), fresh.stack);
      expectUnauthorized(await postMcp(fresh.stack, bearer(await fresh.issuer.mint({ key: encryptionKey }))), fresh.stack);
    }
    expectAccepted(await postMcp(fresh.stack, bearer(await fresh.issuer.mint())));

    const warnings = fresh.authorizerLog
      .slice(logged)
      .filter((line) => line.includes('"level":"WARN"') && line.includes('Signing key skipped'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(warnings.map(({ kid, reason }) => ({ kid, reason }))).toEqual([
      { kid: 'snk_exponent_one', reason: 'its public exponent is not 65537' },
      { kid: 'snk_encrypt_only', reason: 'its key_ops do not include verify' },
    ]);
    // Nothing of the key itself.
    for (const line of fresh.authorizerLog.slice(logged)) {
      expect(line).not.toContain(forgery.publicJwk.n!.slice(0, 32));
      expect(line).not.toContain(encryptionJwk.n!.slice(0, 32));
    }
  });
});

describe('a JWKS outage after the keys were fetched', () => {
  beforeAll(() => {
    failing.issuer.jwksBehaviour = 'down';
  });

  test('tokens under keys already held keep working, without calling the JWKS', async () => {
    const before = failing.issuer.jwksRequests;
    for (let i = 0; i < 3; i++) expectAccepted(await postMcp(failing.stack, bearer(await failing.issuer.mint())));
    expect(failing.issuer.jwksRequests).toBe(before);
  });

  test('refusals still work: an expired token is 401, not 503', async () => {
    expectUnauthorized(await postMcp(failing.stack, bearer(await failing.issuer.mint({ expiresInSeconds: -120 }))), failing.stack);
  });
});

describe('expiry: never honoured past exp + tolerance, even from the gateway cache', () => {
  test('a cached Allow outliving its token: the MCP function answers 401 JSON', async () => {
    fresh.stack.gateway.clearAuthorizerCache();
    const exp = nowSeconds() + 2;
    const token = await fresh.issuer.mint({ claims: { exp } });

    const first = await postMcp(fresh.stack, bearer(token));
    expectAccepted(first);
    expect(fresh.accessLog.at(-1)).toMatchObject({ path: '/web-search/mcp', status: 200, authorizer: 'invoked' });

    await sleepUntil((exp + CLOCK_TOLERANCE_SECONDS + 1) * 1000);
    const invocations = fresh.stack.gateway.authorizerInvocations;
    const second = await postMcp(fresh.stack, bearer(token));
    // The gateway allowed it from cache; the function itself refused it.
    expect(fresh.accessLog.at(-1)).toMatchObject({ path: '/web-search/mcp', status: 401, authorizer: 'cached' });
    expect(fresh.stack.gateway.authorizerInvocations).toBe(invocations);
    expect(second.status).toBe(401);
    expect(second.headers['content-type']).toBe('application/json');
    expect(json(second)).toEqual({ error: 'invalid_token', error_description: expect.stringMatching(/expired/) });

    // Without the cached Allow, the authorizer refuses it with the gateway's challenge.
    fresh.stack.gateway.clearAuthorizerCache();
    expectUnauthorized(await postMcp(fresh.stack, bearer(token)), fresh.stack);
  }, 60_000);
});

describe('once the cooldown since the last fetch is over', () => {
  test('rotation: a key published under a new kid is fetched once and accepted; the old key still works', async () => {
    rotating.issuer.publish([rotating.issuer.key, rotatedKey]);
    await afterCooldown(rotating);
    const before = rotating.issuer.jwksRequests;

    expectAccepted(await postMcp(rotating.stack, bearer(await rotating.issuer.mint({ key: rotatedKey }))));
    expect(rotating.issuer.jwksRequests - before).toBe(1);
    expectAccepted(await postMcp(rotating.stack, bearer(await rotating.issuer.mint({ key: rotatedKey }))));
    expectAccepted(await postMcp(rotating.stack, bearer(await rotating.issuer.mint())));
    expect(rotating.issuer.jwksRequests - before).toBe(1);

    // That refetch starts a new cooldown: another flood of junk kids fetches nothing more.
    const tokens = await junkKidTokens(rotating, junkSigner, 20);
    const responses = await Promise.all(tokens.map((token) => postMcp(rotating.stack, bearer(token))));
    for (const response of responses) expectUnauthorized(response, rotating.stack);
    expect(rotating.issuer.jwksRequests - before).toBe(1);
  }, 60_000);

  test('outage: a token needing a key that can only come from the unreachable JWKS is 503 with Retry-After, not 401', async () => {
    await afterCooldown(failing);
    const before = failing.issuer.jwksRequests;
    expectKeysUnavailable(await postMcp(failing.stack, bearer(await failing.issuer.mint({ key: rotatedKey }))));
    expect(failing.issuer.jwksRequests - before).toBe(1);
    // The keys held survive the failed refresh.
    expectAccepted(await postMcp(failing.stack, bearer(await failing.issuer.mint())));
  }, 60_000);
});
