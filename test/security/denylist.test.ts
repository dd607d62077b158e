/**
 * Issue 12, case 4: an operator's stop button. The authorizer never asks the
 * authorization server about a token, so a token is honoured until its `exp`
 * unless it is on the optional denylist: `jti`, `sub` or `client_id` entries in
 * an SSM parameter (StringList, or JSON), read through Powertools Parameters
 * with a short maxAge. A hit is the gateway's 401 with its challenge. Proven
 * through the local stack, the authorizer bundle and the real AWS SDK talking
 * to a loopback SSM.
 */
import { startFakeSsm, type FakeSsm } from '../fixtures/fake-ssm.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import { bearer, json, postMcp, sleep, unauthorizedChallenge, type RawResponse } from './support.js';

const PARAMETER = '/web-search-mcp/revoked';
/** Short here so that the test waits a second, not a minute; the default is 60 s. */
const MAX_AGE_SECONDS = 1;

let ssm: FakeSsm;
let test_: TestStack;

beforeAll(async () => {
  ssm = await startFakeSsm();
  test_ = await startTestStack({
    stack: {
      revocationDenylistParameter: PARAMETER,
      extraEnvironment: { ...ssm.environment, REVOCATION_DENYLIST_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS) },
    },
  });
});

afterAll(async () => {
  await test_?.close();
  await ssm?.close();
});

const jtiOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).jti as string;

/** Put the list in SSM, let the authorizer's copy age out, and flush the gateway's cache (the documented steps). */
async function block(value: string) {
  ssm.parameters.set(PARAMETER, value);
  await sleep(MAX_AGE_SECONDS * 1000 + 200);
  test_.stack.gateway.clearAuthorizerCache();
}

function expectRevoked(response: RawResponse) {
  expect(response.status).toBe(401);
  expect(response.headers['www-authenticate']).toBe(unauthorizedChallenge(test_.stack));
  expect(json(response)).toMatchObject({ error: 'invalid_token' });
}

const call = async (token: string) => postMcp(test_.stack, bearer(token));

test('no parameter yet: nothing is blocked (the tests below can fail)', async () => {
  expect((await call(await test_.issuer.mint())).status).toBe(200);
  expect(ssm.requests.some((request) => request.body.Name === PARAMETER)).toBe(true);
});

test('a jti on the list (StringList form): that token is refused, others are not', async () => {
  const blocked = await test_.issuer.mint();
  const other = await test_.issuer.mint();
  expect((await call(blocked)).status).toBe(200);
  await block(`jti:${jtiOf(blocked)},jti:tkn_unrelated`);
  expectRevoked(await call(blocked));
  expect((await call(other)).status).toBe(200);
  expect(test_.logs.some((line) => line.includes('"reason":"revoked"') && line.includes('"denied_by":"jti"'))).toBe(true);
});

test('a sub on the list: every token of that user is refused', async () => {
  await block('sub:usr_blocked');
  expectRevoked(await call(await test_.issuer.mint({ claims: { sub: 'usr_blocked' } })));
  expectRevoked(await call(await test_.issuer.mint({ claims: { sub: 'usr_blocked', jti: 'tkn_fresh' } })));
  expect((await call(await test_.issuer.mint({ claims: { sub: 'usr_other' } }))).status).toBe(200);
});

test('a client_id on the list (JSON form): every token of that client is refused, machine tokens included', async () => {
  await block(JSON.stringify({ client_id: ['skc_blocked'], sub: [], jti: [] }));
  expectRevoked(await call(await test_.issuer.mint({ claims: { client_id: 'skc_blocked' } })));
  expectRevoked(await call(await test_.issuer.mint({ claims: { client_id: undefined, azp: 'skc_blocked', sub: 'skc_blocked' } })));
  expect((await call(await test_.issuer.mint({ claims: { client_id: 'skc_fine' } }))).status).toBe(200);
});

test('the authorizer instance does not keep serving a decision it cached before the block', async () => {
  const token = await test_.issuer.mint({ claims: { sub: 'usr_later' } });
  expect((await call(token)).status).toBe(200);
  // The authorizer caches decisions per token in memory; the list is still checked on every invocation.
  await block('sub:usr_later');
  expectRevoked(await call(token));
});

test('until the gateway cache is flushed (or its TTL passes), API Gateway keeps the Allow it cached', async () => {
  await block('sub:nobody');
  const token = await test_.issuer.mint({ claims: { sub: 'usr_cached' } });
  expect((await call(token)).status).toBe(200);
  ssm.parameters.set(PARAMETER, 'sub:usr_cached');
  await sleep(MAX_AGE_SECONDS * 1000 + 200);
  expect((await call(token)).status).toBe(200);
  test_.stack.gateway.clearAuthorizerCache();
  expectRevoked(await call(token));
});

test('a list that cannot be read on a cold start: 503 with Retry-After, never an Allow', async () => {
  ssm.parameters.set(PARAMETER, 'AccessDenied');
  await test_.stack.pools.authorizer.recycle();
  test_.stack.gateway.clearAuthorizerCache();
  const response = await call(await test_.issuer.mint());
  expect(response.status).toBe(503);
  expect(response.headers['retry-after']).toBeDefined();
});

test('a malformed list on a cold start is as unreadable: 503, and the log names the problem', async () => {
  ssm.parameters.set(PARAMETER, 'usr_1,jti:abc');
  await test_.stack.pools.authorizer.recycle();
  test_.stack.gateway.clearAuthorizerCache();
  expect((await call(await test_.issuer.mint())).status).toBe(503);
  expect(test_.logs.some((line) => line.includes('denylist') && line.includes('usr_1') === false && line.includes('malformed'))).toBe(true);
});

test('a list that becomes unreadable after a good read: the last good list keeps applying', async () => {
  await test_.stack.pools.authorizer.recycle();
  await block('sub:usr_stale');
  expect((await call(await test_.issuer.mint())).status).toBe(200);
  ssm.parameters.set(PARAMETER, 'AccessDenied');
  await sleep(MAX_AGE_SECONDS * 1000 + 200);
  test_.stack.gateway.clearAuthorizerCache();
  expectRevoked(await call(await test_.issuer.mint({ claims: { sub: 'usr_stale' } })));
  expect((await call(await test_.issuer.mint())).status).toBe(200);
});
