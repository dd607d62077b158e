/** The authorizer's in-memory decision cache: what it keeps, for how long, and how much. */
import { cacheDecisions } from '../../../lambda/authorizer/decision-cache.js';
import type { Decision } from '../../../lambda/authorizer/verify-access-token.js';

const caller = (exp: number) => ({ sub: 'usr_1', clientId: 'c', scopes: ['web-search:read'], exp, tokenId: 't' });

function counting(decide: (authorization: string | undefined) => Decision) {
  const calls: Array<string | undefined> = [];
  return {
    calls,
    verify: async (authorization: string | undefined) => {
      calls.push(authorization);
      return decide(authorization);
    },
  };
}

test('an allow is served from memory, marked cached, until the token expires', async () => {
  let clock = 1_000_000;
  const inner = counting(() => ({ outcome: 'allow', caller: caller(1_060) }));
  const verify = cacheDecisions(inner.verify, { now: () => clock });
  expect(await verify('Bearer a')).toEqual({ outcome: 'allow', caller: caller(1_060) });
  expect(await verify('Bearer a')).toEqual({ outcome: 'allow', caller: caller(1_060), cached: true });
  expect(inner.calls).toEqual(['Bearer a']);
  clock = 1_060_000; // exp reached: verified afresh
  await verify('Bearer a');
  expect(inner.calls).toEqual(['Bearer a', 'Bearer a']);
});

test('insufficient_scope is kept too; refusals and outages never are', async () => {
  const outcomes: Record<string, Decision> = {
    'Bearer narrow': { outcome: 'insufficient_scope', caller: caller(9_999_999_999), missingScopes: ['web-search:read'] },
    'Bearer early': { outcome: 'unauthorized', reason: 'not_yet_valid', tokenId: 'x' },
    'Bearer down': { outcome: 'unavailable', reason: 'jwks_unavailable', tokenId: 'y' },
  };
  const inner = counting((authorization) => outcomes[authorization!]!);
  const verify = cacheDecisions(inner.verify);
  for (let i = 0; i < 3; i++) for (const authorization of Object.keys(outcomes)) await verify(authorization);
  expect(inner.calls.filter((call) => call === 'Bearer narrow')).toHaveLength(1);
  expect(inner.calls.filter((call) => call === 'Bearer early')).toHaveLength(3);
  expect(inner.calls.filter((call) => call === 'Bearer down')).toHaveLength(3);
});

test('a missing header is never cached', async () => {
  const inner = counting(() => ({ outcome: 'unauthorized', reason: 'missing' }));
  const verify = cacheDecisions(inner.verify);
  await verify(undefined);
  await verify(undefined);
  expect(inner.calls).toHaveLength(2);
});

test('an already expired allow is not stored', async () => {
  const inner = counting(() => ({ outcome: 'allow', caller: caller(10) }));
  const verify = cacheDecisions(inner.verify, { now: () => 20_000 });
  await verify('Bearer old');
  await verify('Bearer old');
  expect(inner.calls).toHaveLength(2);
});

test('bounded: past the limit, the oldest entry goes first', async () => {
  const inner = counting(() => ({ outcome: 'allow', caller: caller(9_999_999_999) }));
  const verify = cacheDecisions(inner.verify, { maxEntries: 2 });
  await verify('Bearer 1');
  await verify('Bearer 2');
  await verify('Bearer 3'); // evicts 1
  await verify('Bearer 2');
  await verify('Bearer 3');
  expect(inner.calls).toEqual(['Bearer 1', 'Bearer 2', 'Bearer 3']);
  await verify('Bearer 1');
  expect(inner.calls).toEqual(['Bearer 1', 'Bearer 2', 'Bearer 3', 'Bearer 1']);
});
