/**
 * Lambda's own limits, held by the local gateway as AWS holds them, with a real
 * function (a worker-thread instance of a bundled entry, as the local stack runs
 * the product's): an answer over Lambda's 6 MB response payload becomes API
 * Gateway's 502, and a function that outlives its timeout a 502 as well (its
 * timeout is under API Gateway's 29 s), both as gateway responses with JSON
 * bodies, the next request still served.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptions } from '../../lib/bundling.js';
import { functionSpecs } from '../../lib/functions.js';
import { AS_METADATA_PATH } from '../../lambda/shared/routes.js';
import { LAMBDA_RESPONSE_PAYLOAD_LIMIT_BYTES, LocalGateway, listen } from '../../local/gateway.js';
import { FunctionPool } from '../../local/lambda-runtime.js';

let dir: string;
let pool: FunctionPool;
let server: Awaited<ReturnType<typeof listen>>;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lambda-limits-'));
  const bundlePath = join(dir, 'index.cjs');
  await build(esbuildOptions(fileURLToPath(new URL('../fixtures/limits-entry.ts', import.meta.url)), bundlePath));
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
  // The metadata function's spec, with a 1 s timeout so that the test does not wait 10 s.
  pool = new FunctionPool({ spec: { ...functionSpecs.metadata, timeoutSeconds: 1 }, bundlePath, environment: {}, onLog: () => {} });
  const gateway = new LocalGateway({
    // Only the AS metadata route (a Lambda route of the metadata function) is called.
    pools: { authorizer: pool, mcp: pool, metadata: pool, register: pool },
    protectedResourceMetadataUrl: 'http://127.0.0.1:1/.well-known/oauth-protected-resource/web-search/mcp',
    requiredScopes: ['web-search:read'],
    allowedOrigins: [],
    authorizerCacheTtlSeconds: 0,
    throttle: false,
    mocks: {
      protectedResource: { environmentUrl: 'http://127.0.0.1:2', resourceId: 'res_1', resourceIdentifier: 'http://127.0.0.1:1/web-search/mcp', scopesSupported: ['web-search:read'] },
    },
  });
  server = await listen(() => gateway, { port: 0, hosts: ['127.0.0.1'] });
  url = `http://127.0.0.1:${server.port}${AS_METADATA_PATH}`;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await pool?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("an answer over Lambda's 6 MB response payload is API Gateway's 502, with a JSON body; one under it passes", async () => {
  const over = await fetch(`${url}?bytes=${LAMBDA_RESPONSE_PAYLOAD_LIMIT_BYTES + 1}`);
  expect(over.status).toBe(502);
  expect(over.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await over.text();
  expect(body.length).toBeLessThan(1000);
  expect(JSON.parse(body)).toMatchObject({ error_description: expect.any(String) });

  const under = await fetch(`${url}?bytes=${5 * 1024 * 1024}`);
  expect(under.status).toBe(200);
  expect((await under.text()).length).toBe(5 * 1024 * 1024);
});

test('a function that outlives its timeout is a 502 (its timeout is under API Gateway 29 s), and the next request is served', async () => {
  const hung = await fetch(`${url}?hang=1`);
  expect(hung.status).toBe(502);
  expect(JSON.parse(await hung.text())).toMatchObject({ error_description: expect.any(String) });
  const next = await fetch(`${url}?bytes=3`);
  expect(next.status).toBe(200);
  expect(await next.text()).toBe('xxx');
}, 20_000);
