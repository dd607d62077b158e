/**
 * API Gateway's throttling as the local gateway applies it (local/throttle.ts),
 * with an injected clock: the token bucket's refill and capacity, one bucket per
 * method with the stage limits as the default, the route table's own limits in
 * their place, and the gateway answering THROTTLED before anything runs.
 */
import { LocalGateway } from '../../../local/gateway.js';
import type { FunctionPool } from '../../../local/lambda-runtime.js';
import type { IncomingRequest } from '../../../local/api-gateway-events.js';
import { DEFAULT_STAGE_THROTTLE, StageThrottle, TokenBucket, UNMATCHED_METHOD } from '../../../local/throttle.js';
import { AS_METADATA_PATH, REGISTER_PATH, PRM_PATH, MCP_PATH, routes } from '../../../lambda/shared/routes.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms), set: (ms: number) => void (now = ms) };
}

/** How many of `count` requests at this instant the bucket lets through. */
const takeMany = (take: () => boolean, count: number) => Array.from({ length: count }, take).filter(Boolean).length;

describe('TokenBucket', () => {
  test('starts full: exactly `burst` requests at once pass, the next is refused', () => {
    const time = clock();
    const bucket = new TokenBucket({ rateLimit: 5, burstLimit: 10 }, time.now);
    expect(takeMany(() => bucket.tryTake(), 10)).toBe(10);
    expect(bucket.tryTake()).toBe(false);
  });

  test('refills `rate` tokens per second, continuously, and a fraction of a token is not enough', () => {
    const time = clock();
    const bucket = new TokenBucket({ rateLimit: 5, burstLimit: 10 }, time.now);
    takeMany(() => bucket.tryTake(), 10);
    time.advance(1000);
    expect(takeMany(() => bucket.tryTake(), 20)).toBe(5);
    time.advance(199); // 0.995 of a token
    expect(bucket.tryTake()).toBe(false);
    time.advance(1); // now a whole one
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  test('never holds more than `burst`, however long it idles', () => {
    const time = clock();
    const bucket = new TokenBucket({ rateLimit: 50, burstLimit: 100 }, time.now);
    time.advance(3_600_000);
    expect(bucket.available()).toBe(100);
    expect(takeMany(() => bucket.tryTake(), 150)).toBe(100);
  });

  test('a refused request takes nothing: refusals do not delay the refill', () => {
    const time = clock();
    const bucket = new TokenBucket({ rateLimit: 2, burstLimit: 2 }, time.now);
    takeMany(() => bucket.tryTake(), 2);
    expect(takeMany(() => bucket.tryTake(), 1000)).toBe(0);
    time.advance(500);
    expect(bucket.tryTake()).toBe(true);
  });

  test('a clock stepping back neither refills nor drains', () => {
    const time = clock(10_000);
    const bucket = new TokenBucket({ rateLimit: 1, burstLimit: 3 }, time.now);
    bucket.tryTake();
    time.set(0);
    expect(bucket.available()).toBe(2);
    time.set(10_000);
    expect(bucket.available()).toBe(2);
    time.set(11_000);
    expect(bucket.available()).toBe(3);
  });

  test('a burst of 0 refuses everything (as API Gateway does); negative or infinite limits are refused', () => {
    const bucket = new TokenBucket({ rateLimit: 10, burstLimit: 0 }, clock().now);
    expect(bucket.tryTake()).toBe(false);
    expect(() => new TokenBucket({ rateLimit: -1, burstLimit: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket({ rateLimit: 1, burstLimit: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => new TokenBucket({ rateLimit: Number.NaN, burstLimit: 1 })).toThrow(RangeError);
  });
});

describe('StageThrottle', () => {
  test('the defaults are the stack settings\' defaults', () => {
    expect(DEFAULT_STAGE_THROTTLE).toEqual({ rateLimit: 50, burstLimit: 100 });
  });

  test('the register route uses only its own limits from the route table, not the stage\'s', () => {
    const time = clock();
    const throttle = new StageThrottle({ rateLimit: 1, burstLimit: 1 }, routes, time.now);
    expect(throttle.limitsFor('POST', REGISTER_PATH)).toEqual({ rateLimit: 5, burstLimit: 10 });
    expect(takeMany(() => throttle.tryTake('POST', REGISTER_PATH), 20)).toBe(10);
    // And a stage far larger than its own does not lift it.
    const generous = new StageThrottle({ rateLimit: 10_000, burstLimit: 5000 }, routes, time.now);
    expect(takeMany(() => generous.tryTake('POST', REGISTER_PATH), 20)).toBe(10);
  });

  test('every other method has a bucket of its own with the stage limits; draining one leaves the others', () => {
    const time = clock();
    const throttle = new StageThrottle({ rateLimit: 2, burstLimit: 3 }, routes, time.now);
    expect(takeMany(() => throttle.tryTake('GET', PRM_PATH), 10)).toBe(3);
    expect(takeMany(() => throttle.tryTake('POST', MCP_PATH), 10)).toBe(3);
    expect(takeMany(() => throttle.tryTake('GET', MCP_PATH), 10)).toBe(3);
    // The preflight on a path is a method too.
    expect(takeMany(() => throttle.tryTake('OPTIONS', MCP_PATH), 10)).toBe(3);
    expect(takeMany(() => throttle.tryTake('POST', REGISTER_PATH), 20)).toBe(10);
    time.advance(1000);
    expect(takeMany(() => throttle.tryTake('GET', PRM_PATH), 10)).toBe(2);
  });

  test('requests matching no method share one bucket with the stage limits', () => {
    const throttle = new StageThrottle({ rateLimit: 1, burstLimit: 4 }, routes, clock().now);
    expect(UNMATCHED_METHOD).toBe('unmatched');
    const unknown = [
      ['GET', undefined],
      ['PUT', undefined],
      ['DELETE', undefined],
      ['POST', undefined],
      ['GET', undefined],
    ] as const;
    expect(unknown.map(([method, path]) => throttle.tryTake(method, path))).toEqual([true, true, true, true, false]);
    // Known methods are untouched by them.
    expect(throttle.tryTake('GET', PRM_PATH)).toBe(true);
  });

  test('bad limits in the stage or a route are refused when the throttle is built', () => {
    expect(() => new StageThrottle({ rateLimit: -5, burstLimit: 10 }, routes)).toThrow(RangeError);
    expect(
      () => new StageThrottle({ rateLimit: 5, burstLimit: 10 }, [{ method: 'GET', path: '/x', throttle: { rateLimit: 1, burstLimit: -1 } }]),
    ).toThrow(RangeError);
  });
});

describe('LocalGateway throttling', () => {
  function gatewayWith(options: { throttle?: { rateLimit: number; burstLimit: number } | false; now?: () => number; allowedOrigins?: string[] }) {
    const invoked: string[] = [];
    const pool = (name: string) =>
      ({
        invoke: async () => {
          invoked.push(name);
          return { ok: true, result: { statusCode: 200, body: '{}' } };
        },
      }) as unknown as FunctionPool;
    const gateway = new LocalGateway({
      pools: { authorizer: pool('authorizer'), mcp: pool('mcp'), metadata: pool('metadata'), register: pool('register') },
      protectedResourceMetadataUrl: 'http://localhost:1/.well-known/oauth-protected-resource/web-search/mcp',
      requiredScopes: ['web-search:read'],
      allowedOrigins: options.allowedOrigins ?? [],
      authorizerCacheTtlSeconds: 0,
      mocks: { protectedResource: { environmentUrl: 'http://localhost:2', resourceId: 'res_1', resourceIdentifier: 'http://localhost:1/web-search/mcp', scopesSupported: ['web-search:read'] } },
      ...('throttle' in options ? { throttle: options.throttle } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    return { gateway, invoked };
  }

  const request = (method: string, path: string, headers: Array<[string, string]> = []): IncomingRequest => ({
    method,
    path,
    resource: path,
    rawHeaders: headers,
    query: new URLSearchParams(),
    body: Buffer.from('{}'),
    sourceIp: '127.0.0.1',
    requestId: 'req-1',
    host: 'localhost:1',
  });

  test('past its bucket a request gets THROTTLED (429, JSON, Retry-After), and nothing is invoked for it', async () => {
    const time = clock();
    const { gateway, invoked } = gatewayWith({ throttle: { rateLimit: 1, burstLimit: 2 }, now: time.now });
    const answers = [];
    // A Lambda route (the PRM is a mock, which invokes nothing even when it is let through).
    for (let i = 0; i < 3; i++) answers.push(await gateway.handle(request('GET', AS_METADATA_PATH)));
    expect(answers.map((answer) => answer.outcome.status)).toEqual([200, 200, 429]);
    expect(invoked).toEqual(['metadata', 'metadata']);
    const throttled = answers[2]!;
    expect(throttled.error).toBe('throttled');
    expect(throttled.outcome.headers['Retry-After']).toBe('1');
    expect(JSON.parse(String(throttled.outcome.body))).toEqual({ error: 'rate_limited', error_description: 'Too many requests. Slow down and retry.' });
    time.advance(1000);
    expect((await gateway.handle(request('GET', AS_METADATA_PATH))).outcome.status).toBe(200);
  });

  test('a throttled MCP request never reaches the authorizer, token or not', async () => {
    const { gateway, invoked } = gatewayWith({ throttle: { rateLimit: 1, burstLimit: 1 }, now: clock().now });
    await gateway.handle(request('POST', MCP_PATH, [['Authorization', 'Bearer a']]));
    const before = gateway.authorizerInvocations;
    const throttled = await gateway.handle(request('POST', MCP_PATH, [['Authorization', 'Bearer b']]));
    expect(throttled.outcome.status).toBe(429);
    expect(throttled.authorizer).toBeUndefined();
    expect(gateway.authorizerInvocations).toBe(before);
    expect(invoked.filter((name) => name === 'authorizer')).toHaveLength(1);
  });

  test('the preflight and unknown routes are throttled too, with the gateway response\'s CORS headers', async () => {
    const { gateway } = gatewayWith({ throttle: { rateLimit: 1, burstLimit: 1 }, now: clock().now, allowedOrigins: ['http://localhost:*'] });
    const origin: Array<[string, string]> = [['Origin', 'http://localhost:3000'], ['Access-Control-Request-Method', 'POST']];
    expect((await gateway.handle(request('OPTIONS', MCP_PATH, origin))).outcome.status).toBe(204);
    const preflight = await gateway.handle(request('OPTIONS', MCP_PATH, origin));
    expect(preflight.outcome.status).toBe(429);
    expect(preflight.outcome.headers['Access-Control-Allow-Origin']).toBe('http://localhost:3000');
    expect((await gateway.handle(request('GET', '/nope'))).outcome.status).toBe(404);
    expect((await gateway.handle(request('PUT', '/elsewhere'))).outcome.status).toBe(429);
  });

  test('the default is the stack\'s 50/s, burst 100; `false` turns throttling off', async () => {
    const on = gatewayWith({ now: clock().now });
    const statuses = [];
    for (let i = 0; i < 101; i++) statuses.push((await on.gateway.handle(request('GET', AS_METADATA_PATH))).outcome.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(100);
    expect(statuses.at(-1)).toBe(429);

    const off = gatewayWith({ throttle: false, now: clock().now });
    for (let i = 0; i < 30; i++) expect((await off.gateway.handle(request('POST', REGISTER_PATH))).outcome.status).toBe(200);
  });
});
