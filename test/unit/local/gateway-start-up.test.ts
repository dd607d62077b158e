/**
 * The local gateway's HTTP server cannot be taken down by a request: while the
 * stack starts it answers 503 with Retry-After, and whatever throws while a
 * request is served is a 500 for that request, logged once, with the process
 * still serving the next one.
 */
import { LocalGateway, listen, type AccessLogEntry } from '../../../local/gateway.js';
import type { FunctionPool } from '../../../local/lambda-runtime.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));

function throwingPool(message: string): FunctionPool {
  return {
    invoke: async () => {
      throw new Error(message);
    },
  } as unknown as FunctionPool;
}

function gatewayWithPools(pool: FunctionPool) {
  return new LocalGateway({
    pools: { authorizer: pool, mcp: pool, metadata: pool, register: pool },
    protectedResourceMetadataUrl: 'http://localhost:1/.well-known/oauth-protected-resource/web-search/mcp',
    requiredScopes: ['web-search:read'],
    allowedOrigins: [],
    authorizerCacheTtlSeconds: 0,
    mocks: { protectedResource: { environmentUrl: 'http://localhost:2', resourceId: 'res_1', resourceIdentifier: 'http://localhost:1/web-search/mcp', scopesSupported: ['web-search:read'] } },
  });
}

async function serve(gatewayFor: () => LocalGateway | undefined) {
  const log: AccessLogEntry[] = [];
  const errors: unknown[] = [];
  const server = await listen(gatewayFor, { port: 0, hosts: ['127.0.0.1'], onAccessLog: (entry) => log.push(entry), onError: (error) => errors.push(error) });
  return { url: `http://127.0.0.1:${server.port}`, log, errors, close: server.close };
}

test('a request that arrives before the gateway exists gets 503 with Retry-After and a JSON body', async () => {
  let gateway: LocalGateway | undefined;
  const server = await serve(() => gateway);
  try {
    const starting = await fetch(`${server.url}/web-search/mcp`, { method: 'POST', body: '{}' });
    expect(starting.status).toBe(503);
    expect(starting.headers.get('retry-after')).toBe('1');
    expect(await starting.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringContaining('starting') });

    // Once the stack is up, the same server answers from the gateway.
    gateway = gatewayWithPools(throwingPool('never called'));
    const unknown = await fetch(`${server.url}/no-such-route`);
    expect(unknown.status).toBe(404);
    expect(server.log.map((entry) => entry.status)).toEqual([503, 404]);
  } finally {
    await server.close();
  }
  expect(unhandled).toEqual([]);
});

test('an exception inside the gateway is a 500 for that request, logged once; the next request is served', async () => {
  const broken = gatewayWithPools(throwingPool('worker vanished'));
  const server = await serve(() => broken);
  try {
    const failed = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(failed.status).toBe(500);
    const body = await failed.json();
    expect(body.error).toBeDefined();
    expect(JSON.stringify(body)).not.toContain('worker vanished');
    expect(server.log).toHaveLength(1);
    expect(server.log[0]!.error).toContain('worker vanished');

    const again = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(again.status).toBe(500);
    expect(server.log).toHaveLength(2);
  } finally {
    await server.close();
  }
  expect(unhandled).toEqual([]);
});

test('even a gateway that cannot build its own error response does not crash the server', async () => {
  const broken = gatewayWithPools(throwingPool('boom'));
  broken.gatewayResponse = () => {
    throw new TypeError("Cannot read properties of undefined (reading 'gatewayResponse')");
  };
  const server = await serve(() => broken);
  try {
    const failed = await fetch(`${server.url}/no-such-route`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: 'server_error', error_description: 'Internal server error' });
    expect(server.log).toHaveLength(1);
  } finally {
    await server.close();
  }
  expect(unhandled).toEqual([]);
});

test('a failing access log is reported once through onError and the answer still goes out', async () => {
  const gateway = gatewayWithPools(throwingPool('unused'));
  const errors: unknown[] = [];
  const server = await listen(() => gateway, {
    port: 0,
    hosts: ['127.0.0.1'],
    onAccessLog: () => {
      throw new Error('log sink closed');
    },
    onError: (error) => errors.push(error),
  });
  try {
    const response = await fetch(`http://127.0.0.1:${server.port}/no-such-route`);
    expect(response.status).toBe(404);
    await response.text();
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toHaveLength(1);
  } finally {
    await server.close();
  }
  expect(unhandled).toEqual([]);
});
