import {
  AS_METADATA_DEFAULTS,
  authorizationServerMetadataUrl,
  createAuthorizationServerMetadataSource,
  fetchJsonDocument,
  UpstreamError,
  type MetadataSourceOptions,
} from '../../../lambda/shared/authorization-server-metadata.js';
import { sendJson, startLoopbackServer, unusedLoopbackUrl, type LoopbackServer } from '../helpers/loopback-server.js';

const PATH = '/resources/res_test123/.well-known/oauth-authorization-server';

let upstream: LoopbackServer;
let clock: number;
let document: Record<string, unknown>;

const metadata = (base: string) => ({
  issuer: `${base}/resources/res_test123`,
  authorization_endpoint: `${base}/oauth/authorize`,
  token_endpoint: `${base}/oauth/token`,
  registration_endpoint: `${base}/resources/res_test123/register`,
});

const serveDocument = () => (upstream.handler = (_request, res) => sendJson(res, 200, document));

beforeAll(async () => {
  upstream = await startLoopbackServer();
});

afterAll(async () => {
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  document = metadata(upstream.url);
  serveDocument();
  clock = 5_000_000;
});

const source = (options: Partial<MetadataSourceOptions> = {}) =>
  createAuthorizationServerMetadataSource({ url: `${upstream.url}${PATH}`, now: () => clock, ...options });

async function upstreamError(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error('expected an UpstreamError');
}

test('authorizationServerMetadataUrl is Scalekit’s per-resource URL', () => {
  expect(authorizationServerMetadataUrl('https://acme.scalekit.com', 'res_1')).toBe(
    'https://acme.scalekit.com/resources/res_1/.well-known/oauth-authorization-server',
  );
});

describe('caching', () => {
  test('the first get fetches with Accept: application/json and returns the document, fresh', async () => {
    expect(await source().get()).toEqual({ metadata: document, stale: false });
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]).toMatchObject({ method: 'GET', path: PATH });
    expect(upstream.requests[0]!.headers.accept).toBe('application/json');
  });

  test('within the TTL the cached copy is served without fetching', async () => {
    const metadataSource = source();
    await metadataSource.get();
    clock += AS_METADATA_DEFAULTS.ttlMs - 1;
    expect(await metadataSource.get()).toEqual({ metadata: document, stale: false });
    expect(upstream.requests).toHaveLength(1);
  });

  test('after the TTL it is fetched again, and changes are seen', async () => {
    const metadataSource = source({ ttlMs: 1_000 });
    await metadataSource.get();
    document = { ...document, scopes_supported: ['web-search:read'] };
    clock += 1_000;
    expect(await metadataSource.get()).toEqual({ metadata: document, stale: false });
    expect(upstream.requests).toHaveLength(2);
  });

  test('concurrent gets share one fetch', async () => {
    const metadataSource = source();
    const results = await Promise.all(Array.from({ length: 6 }, () => metadataSource.get()));
    expect(upstream.requests).toHaveLength(1);
    for (const result of results) expect(result).toEqual({ metadata: document, stale: false });
  });
});

describe('failures', () => {
  test('with nothing cached, the error reaches the caller, and the next get tries again', async () => {
    upstream.handler = (_request, res) => sendJson(res, 503, { error: 'down' });
    const metadataSource = source();
    const error = await upstreamError(metadataSource.get());
    expect(error.kind).toBe('unreachable');
    expect(error.message).toBe('answered HTTP 503');
    serveDocument();
    expect(await metadataSource.get()).toEqual({ metadata: document, stale: false });
    expect(upstream.requests).toHaveLength(2);
  });

  test('after a success, a failed refresh serves the stale copy, and waits 30 s before trying again', async () => {
    const metadataSource = source();
    const good = (await metadataSource.get()).metadata;
    upstream.handler = (_request, res) => sendJson(res, 500, {});

    clock += AS_METADATA_DEFAULTS.ttlMs;
    expect(await metadataSource.get()).toEqual({ metadata: good, stale: true });
    expect(upstream.requests).toHaveLength(2);

    clock += AS_METADATA_DEFAULTS.retryAfterFailureMs - 1;
    expect(await metadataSource.get()).toEqual({ metadata: good, stale: true });
    expect(upstream.requests).toHaveLength(2);

    clock += 1;
    expect(await metadataSource.get()).toEqual({ metadata: good, stale: true });
    expect(upstream.requests).toHaveLength(3);

    document = { ...document, token_endpoint: `${upstream.url}/v2/token` };
    serveDocument();
    clock += AS_METADATA_DEFAULTS.retryAfterFailureMs;
    expect(await metadataSource.get()).toEqual({ metadata: document, stale: false });
    expect(upstream.requests).toHaveLength(4);
  });

  test('an unusable answer after a success also serves the stale copy', async () => {
    const metadataSource = source();
    const good = (await metadataSource.get()).metadata;
    upstream.handler = (_request, res) => sendJson(res, 200, { no: 'issuer' });
    clock += AS_METADATA_DEFAULTS.ttlMs;
    expect(await metadataSource.get()).toEqual({ metadata: good, stale: true });
  });

  test('metadata without an issuer is refused', async () => {
    upstream.handler = (_request, res) => sendJson(res, 200, { registration_endpoint: 'https://x/register' });
    const error = await upstreamError(source().get());
    expect(error.kind).toBe('invalid');
    expect(error.message).toBe('the metadata has no "issuer"');
  });

  test('an empty or non-string issuer is refused', async () => {
    upstream.handler = (_request, res) => sendJson(res, 200, { issuer: '' });
    expect((await upstreamError(source().get())).message).toBe('the metadata has no "issuer"');
    upstream.handler = (_request, res) => sendJson(res, 200, { issuer: 42 });
    expect((await upstreamError(source().get())).message).toBe('the metadata has no "issuer"');
  });

  test('a response over the size cap is refused', async () => {
    document = { ...document, padding: 'x'.repeat(2_000) };
    const error = await upstreamError(source({ maxResponseBytes: 1_024 }).get());
    expect(error.kind).toBe('invalid');
    expect(error.message).toBe('the response exceeds 1024 bytes');
  });

  test('the default cap is 64 KiB', async () => {
    document = { ...document, padding: 'x'.repeat(64 * 1024) };
    expect((await upstreamError(source().get())).message).toBe('the response exceeds 65536 bytes');
  });
});

describe('fetchJsonDocument', () => {
  const fetchDoc = (url: string, timeoutMs = 3_000) => fetchJsonDocument(url, { timeoutMs, maxBytes: 64 * 1024 });

  test.each([
    ['HTML', (res: import('node:http').ServerResponse) => (res.writeHead(200, { 'Content-Type': 'text/html' }), res.end('<html>'))],
    ['a JSON array', (res: import('node:http').ServerResponse) => sendJson(res, 200, [{ issuer: 'x' }])],
    ['JSON null', (res: import('node:http').ServerResponse) => sendJson(res, 200, null)],
    ['a JSON string', (res: import('node:http').ServerResponse) => sendJson(res, 200, 'issuer')],
    ['bytes that are not UTF-8', (res: import('node:http').ServerResponse) => (res.writeHead(200), res.end(Buffer.from([0x7b, 0xff, 0x7d])))],
  ])('%s is not a JSON object (invalid)', async (_why, answer) => {
    upstream.handler = (_request, res) => answer(res);
    const error = await upstreamError(fetchDoc(`${upstream.url}/doc`));
    expect(error.kind).toBe('invalid');
    expect(error.message).toBe('the response is not a JSON object');
  });

  test.each([
    [404, 'invalid'],
    [401, 'invalid'],
    [500, 'unreachable'],
    [502, 'unreachable'],
  ] as const)('HTTP %d is %s', async (status, kind) => {
    upstream.handler = (_request, res) => sendJson(res, status, { issuer: 'x' });
    const error = await upstreamError(fetchDoc(`${upstream.url}/doc`));
    expect(error.kind).toBe(kind);
    expect(error.message).toBe(`answered HTTP ${status}`);
  });

  test('a redirect is not followed: connection failed', async () => {
    upstream.handler = (_request, res) => sendJson(res, 302, {}, { Location: `${upstream.url}/elsewhere` });
    const error = await upstreamError(fetchDoc(`${upstream.url}/doc`));
    expect(error.kind).toBe('unreachable');
    expect(error.message).toBe('connection failed');
    expect(upstream.requests.map((request) => request.path)).toEqual(['/doc']);
  });

  test('nobody listening: connection failed', async () => {
    const error = await upstreamError(fetchDoc(`${await unusedLoopbackUrl()}/doc`));
    expect(error).toMatchObject({ kind: 'unreachable', message: 'connection failed' });
  });

  test('no answer in time: timed out', async () => {
    upstream.handler = () => undefined;
    const error = await upstreamError(fetchDoc(`${upstream.url}/doc`, 100));
    expect(error).toMatchObject({ kind: 'unreachable', message: 'timed out' });
  });

  test('an answer cut off mid-body: unreachable', async () => {
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
      res.write('{"issuer":"x"');
      setTimeout(() => res.destroy(), 10);
    };
    const error = await upstreamError(fetchDoc(`${upstream.url}/doc`));
    expect(error).toMatchObject({ kind: 'unreachable', message: 'the response was cut off' });
  });

  test('an injected fetch is used', async () => {
    const seen: string[] = [];
    const result = await fetchJsonDocument('https://as.example/meta', {
      fetchImpl: async (input) => {
        seen.push(String(input));
        return new Response('{"issuer":"https://as.example"}', { status: 200 });
      },
      timeoutMs: 1_000,
      maxBytes: 100,
    });
    expect(result).toEqual({ issuer: 'https://as.example' });
    expect(seen).toEqual(['https://as.example/meta']);
  });
});
