/**
 * Issue 12, case 6: the local gateway throttles as API Gateway does, from the
 * same settings as the deployed stack. The hostile pass had 20 of 20 burst
 * registrations accepted where AWS allows 5/s with a burst of 10. Through the
 * real local gateway over HTTP, with the real bundles and an injected clock (a
 * frozen instant, advanced by hand, so "at once" means at once):
 * - POST /oauth/register uses its own bucket from lambda/shared/routes.ts (5/s, burst 10):
 *   10 of 20 at once pass, the others get the THROTTLED gateway response, and
 *   none of those reaches the register function or the upstream;
 * - every other method has the stage limits (THROTTLE_RATE_LIMIT and
 *   THROTTLE_BURST_LIMIT) as a bucket of its own, as API Gateway applies stage
 *   throttling per method; a throttled request never reaches the authorizer.
 */
import { jest } from '@jest/globals';
import { AS_METADATA_PATH, MCP_PATH, PRM_FOR_MCP_PATH, REGISTER_PATH } from '../../lambda/shared/routes.js';
import type { AccessLogEntry } from '../../local/gateway.js';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import { bearer, json, postMcp, rawRequest, type RawResponse } from './support.js';

const ORIGIN = 'http://localhost:5173';
const CLIENT = {
  client_name: 'Throttling test client',
  redirect_uris: ['http://127.0.0.1:53682/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
};

function frozenClock() {
  let now = Date.parse('2026-01-01T00:00:00Z');
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** How many invocations a function of the stack receives from here on. */
function countInvocations(stack: LocalStack, name: keyof LocalStack['pools']) {
  return jest.spyOn(stack.pools[name], 'invoke');
}

const register = (stack: LocalStack) =>
  rawRequest(stack.baseUrl, {
    method: 'POST',
    path: REGISTER_PATH,
    headers: { 'Content-Type': 'application/json', Origin: ORIGIN },
    body: JSON.stringify(CLIENT),
  });

const atOnce = <T>(count: number, send: (index: number) => Promise<T>) => Promise.all(Array.from({ length: count }, (_, index) => send(index)));

const statuses = (responses: readonly RawResponse[]) => responses.map((response) => response.status).sort();

/** The THROTTLED gateway response, with the CORS headers every gateway response gets. */
function expectThrottled(response: RawResponse) {
  expect(response.status).toBe(429);
  expect(response.headers['content-type']).toBe('application/json');
  expect(response.headers['retry-after']).toBe('1');
  expect(response.headers['access-control-allow-origin']).toBe(ORIGIN);
  expect(response.headers['access-control-expose-headers']).toEqual(expect.any(String));
  expect(json(response)).toEqual({ error: 'rate_limited', error_description: 'Too many requests. Slow down and retry.' });
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('the register route: its own 5/s, burst 10, with the stack\'s default stage limits', () => {
  const clock = frozenClock();
  const accessLog: AccessLogEntry[] = [];
  let test_: TestStack;

  beforeAll(async () => {
    test_ = await startTestStack({ stack: { now: clock.now, onAccessLog: (entry) => accessLog.push(entry) } });
  });

  afterAll(async () => {
    await test_?.close();
  });

  test('20 registrations at once: exactly 10 get 201, 10 get 429 THROTTLED; no extra call reaches the function or Scalekit', async () => {
    const invocations = countInvocations(test_.stack, 'register');
    const upstreamBefore = test_.issuer.registrations.length;
    const responses = await atOnce(20, () => register(test_.stack));
    expect(statuses(responses)).toEqual([...Array(10).fill(201), ...Array(10).fill(429)]);
    for (const response of responses.filter((answer) => answer.status === 429)) expectThrottled(response);
    expect(invocations).toHaveBeenCalledTimes(10);
    expect(test_.issuer.registrations.length - upstreamBefore).toBe(10);
    // Each refusal is in the access log as throttled, without an authorizer step.
    const throttled = accessLog.filter((entry) => entry.path === REGISTER_PATH && entry.status === 429);
    expect(throttled).toHaveLength(10);
    for (const entry of throttled) expect(entry).toMatchObject({ method: 'POST', error: 'throttled' });
    for (const entry of throttled) expect(entry.authorizer).toBeUndefined();
  });

  test('a second later the bucket holds 5 tokens: 5 more are accepted, the rest refused', async () => {
    clock.advance(1000);
    const invocations = countInvocations(test_.stack, 'register');
    const responses = await atOnce(8, () => register(test_.stack));
    expect(statuses(responses)).toEqual([...Array(5).fill(201), ...Array(3).fill(429)]);
    expect(invocations).toHaveBeenCalledTimes(5);
  });

  test('the register route\'s drained bucket leaves the other methods alone (each method has its own)', async () => {
    const response = await rawRequest(test_.stack.baseUrl, { path: PRM_FOR_MCP_PATH, headers: { Origin: ORIGIN } });
    expect(response.status).toBe(200);
  });
});

describe('the stage limits, configured small (rate 2, burst 3)', () => {
  const clock = frozenClock();
  let test_: TestStack;

  beforeAll(async () => {
    test_ = await startTestStack({ stack: { now: clock.now, throttle: { rateLimit: 2, burstLimit: 3 } } });
  });

  afterAll(async () => {
    await test_?.close();
  });

  test('the 4th request at once to a metadata route gets 429, and the function never runs for it', async () => {
    const invocations = countInvocations(test_.stack, 'metadata');
    const responses = await atOnce(4, () => rawRequest(test_.stack.baseUrl, { path: AS_METADATA_PATH, headers: { Origin: ORIGIN } }));
    expect(statuses(responses)).toEqual([200, 200, 200, 429]);
    expectThrottled(responses.find((response) => response.status === 429)!);
    expect(invocations).toHaveBeenCalledTimes(3);
  });

  test('a throttled MCP request never reaches the authorizer or the MCP function', async () => {
    const tokens = await Promise.all(Array.from({ length: 4 }, () => test_.issuer.mint()));
    const authorizerBefore = test_.stack.gateway.authorizerInvocations;
    const authorizer = countInvocations(test_.stack, 'authorizer');
    const mcp = countInvocations(test_.stack, 'mcp');
    // Four distinct tokens: no cached decision can spare an authorizer call.
    const responses = await atOnce(4, (index) => postMcp(test_.stack, { ...bearer(tokens[index]!), Origin: ORIGIN }));
    expect(statuses(responses)).toEqual([200, 200, 200, 429]);
    expectThrottled(responses.find((response) => response.status === 429)!);
    expect(test_.stack.gateway.authorizerInvocations - authorizerBefore).toBe(3);
    expect(authorizer).toHaveBeenCalledTimes(3);
    expect(mcp).toHaveBeenCalledTimes(3);
  });

  test('without a token too: the throttled request is 429, not the 401 challenge', async () => {
    // The MCP method's bucket is empty after the test above; half a second refills one token.
    clock.advance(500);
    const responses = await atOnce(2, () => postMcp(test_.stack, { Origin: ORIGIN }));
    expect(statuses(responses)).toEqual([401, 429]);
  });

  test('the register route keeps its own burst of 10, above this stage\'s 3', async () => {
    const responses = await atOnce(12, () => register(test_.stack));
    expect(statuses(responses)).toEqual([...Array(10).fill(201), ...Array(2).fill(429)]);
  });

  test('the CORS preflight is throttled like any method, and unknown routes too', async () => {
    const preflight = () =>
      rawRequest(test_.stack.baseUrl, {
        method: 'OPTIONS',
        path: MCP_PATH,
        headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' },
      });
    const answers = await atOnce(4, preflight);
    expect(statuses(answers)).toEqual([204, 204, 204, 429]);
    expectThrottled(answers.find((response) => response.status === 429)!);
    const unknown = await atOnce(4, (index) => rawRequest(test_.stack.baseUrl, { path: `/nothing-here/${index}`, headers: { Origin: ORIGIN } }));
    expect(statuses(unknown)).toEqual([404, 404, 404, 429]);
  });

  test('the stage limits refill at their rate: one second after the preflight\'s bucket drained, 2 more pass', async () => {
    clock.advance(1000);
    const responses = await atOnce(4, () =>
      rawRequest(test_.stack.baseUrl, { method: 'OPTIONS', path: MCP_PATH, headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' } }),
    );
    expect(statuses(responses)).toEqual([204, 204, 429, 429]);
  });
});
