import { createRegistrationCore, REGISTRATION_LIMITS } from '../../../lambda/register/registration-proxy.js';
import { UpstreamError, type AuthorizationServerMetadataSource } from '../../../lambda/shared/authorization-server-metadata.js';
import { sendJson, startLoopbackServer, unusedLoopbackUrl, type LoopbackServer } from '../helpers/loopback-server.js';

let scalekit: LoopbackServer;
let registrationEndpoint: unknown;

const clientMetadata = {
  client_name: 'Test client',
  redirect_uris: ['http://localhost:6274/oauth/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  token_endpoint_auth_method: 'none',
};

/** The least a registration may carry past the policy (registration-policy.ts): one loopback redirect URI. */
const minimalMetadata = JSON.stringify({ redirect_uris: ['http://127.0.0.1:6274/callback'] });

beforeAll(async () => {
  scalekit = await startLoopbackServer();
});

afterAll(async () => {
  await scalekit?.close();
});

beforeEach(() => {
  scalekit.requests.length = 0;
  registrationEndpoint = `${scalekit.url}/resources/res_1/register`;
  scalekit.handler = (request, res) =>
    sendJson(res, 201, { ...JSON.parse(request.body), client_id: 'skc_new', client_id_issued_at: 1_900_000_000 }, {
      'Set-Cookie': 'upstream_session=secret; HttpOnly',
      'X-Upstream-Internal': 'leak',
    });
});

const metadataSource: AuthorizationServerMetadataSource = {
  get: async () => ({ metadata: { issuer: 'https://as.example', registration_endpoint: registrationEndpoint }, stale: false }),
};

const core = (source: AuthorizationServerMetadataSource = metadataSource) => createRegistrationCore({ authorizationServerMetadata: source });

function register(body: BodyInit | null, headers: Record<string, string> = {}, method = 'POST') {
  return new Request('https://mcp.example.com/oauth/register', {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: method === 'GET' || method === 'HEAD' ? null : body,
  });
}

const headersOf = (response: Response) => Object.fromEntries(response.headers.entries());

describe('a registration relayed', () => {
  test('201: the upstream JSON and status, with only fixed headers (no Set-Cookie, nothing else from upstream)', async () => {
    const response = await core()(register(JSON.stringify(clientMetadata)));
    expect(response.status).toBe(201);
    expect(headersOf(response)).toEqual({ 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await response.json()).toEqual({ ...clientMetadata, client_id: 'skc_new', client_id_issued_at: 1_900_000_000 });
  });

  test('upstream sees only the parsed JSON, re-serialized, with fixed headers: no client header reaches it', async () => {
    const body = `{ "client_name" : "Test client",\n  "redirect_uris": ["http://localhost:6274/oauth/callback"] }`;
    await core()(
      register(body, {
        'Content-Type': 'application/json; charset=utf-8',
        Cookie: 'session=abc',
        Authorization: 'Bearer client-token',
        'X-Forwarded-For': '203.0.113.9',
        'X-Forwarded-Host': 'evil.example',
        'X-Forwarded-Proto': 'http',
        'X-Amz-Security-Token': 'aws',
        'X-Custom': 'custom',
        Origin: 'https://app.example.com',
        'User-Agent': 'client/1.0',
      }),
    );
    expect(scalekit.requests).toHaveLength(1);
    const [seen] = scalekit.requests;
    expect(seen!.method).toBe('POST');
    expect(seen!.path).toBe('/resources/res_1/register');
    expect(seen!.body).toBe('{"client_name":"Test client","redirect_uris":["http://localhost:6274/oauth/callback"],"token_endpoint_auth_method":"none"}');
    expect(seen!.headers['content-type']).toBe('application/json');
    expect(seen!.headers.accept).toBe('application/json');
    for (const name of ['cookie', 'authorization', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-amz-security-token', 'x-custom', 'origin']) {
      expect(seen!.headers[name]).toBeUndefined();
    }
    expect(seen!.headers['user-agent']).not.toBe('client/1.0');
    const unexpected = Object.keys(seen!.headers).filter(
      (name) =>
        !['host', 'connection', 'content-type', 'content-length', 'accept', 'accept-language', 'accept-encoding', 'sec-fetch-mode', 'user-agent'].includes(name),
    );
    expect(unexpected).toEqual([]);
  });

  test('200 and other 2xx statuses are relayed as they are', async () => {
    scalekit.handler = (_request, res) => sendJson(res, 200, { client_id: 'skc_existing' });
    const response = await core()(register(JSON.stringify(clientMetadata)));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ client_id: 'skc_existing' });
  });

  test('application/*+json is accepted as JSON', async () => {
    const response = await core()(register(minimalMetadata, { 'Content-Type': 'application/merge-patch+json' }));
    expect(response.status).toBe(201);
  });
});

describe('upstream refusals and failures', () => {
  test('400 is relayed in RFC 7591 form: only error and error_description, no Set-Cookie', async () => {
    scalekit.handler = (_request, res) =>
      sendJson(
        res,
        400,
        { error: 'invalid_redirect_uri', error_description: 'redirect_uris is required', trace_id: 'internal-123', stack: 'at x' },
        { 'Set-Cookie': 'a=b' },
      );
    const response = await core()(register(minimalMetadata));
    expect(response.status).toBe(400);
    expect(headersOf(response)).toEqual({ 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' });
    expect(await response.json()).toEqual({ error: 'invalid_redirect_uri', error_description: 'redirect_uris is required' });
  });

  test('a 4xx without error fields gets RFC 7591 defaults; a long description is cut to 500 characters', async () => {
    scalekit.handler = (_request, res) => sendJson(res, 403, { message: 'nope' });
    const bare = await core()(register(minimalMetadata));
    expect(bare.status).toBe(403);
    expect(await bare.json()).toEqual({ error: 'invalid_client_metadata', error_description: 'The registration was refused.' });

    scalekit.handler = (_request, res) => sendJson(res, 400, { error: 'invalid_client_metadata', error_description: 'd'.repeat(600) });
    const long = await core()(register(minimalMetadata));
    expect(await long.json()).toEqual({ error: 'invalid_client_metadata', error_description: 'd'.repeat(500) });
  });

  test('a 4xx with non-string error fields gets the defaults', async () => {
    scalekit.handler = (_request, res) => sendJson(res, 400, { error: { code: 1 }, error_description: ['x'] });
    expect(await (await core()(register(minimalMetadata))).json()).toEqual({
      error: 'invalid_client_metadata',
      error_description: 'The registration was refused.',
    });
  });

  test.each([500, 502, 503])('upstream %d becomes a 502 server_error', async (status) => {
    scalekit.handler = (_request, res) => sendJson(res, status, { error: 'internal', detail: 'db down at 10.0.0.1' });
    const response = await core()(register(minimalMetadata));
    expect(response.status).toBe(502);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      error: 'server_error',
      error_description: `The authorization server's registration endpoint failed (HTTP ${status}); retry later.`,
    });
    expect(text).not.toContain('10.0.0.1');
  });

  test('an upstream answer that is not a JSON object becomes a 502', async () => {
    scalekit.handler = (_request, res) => {
      res.writeHead(201, { 'Content-Type': 'text/html' });
      res.end('<html>created</html>');
    };
    const response = await core()(register(minimalMetadata));
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({
      error: 'server_error',
      error_description: "The authorization server's registration endpoint answered HTTP 201 without a JSON object.",
    });
  });

  test('an upstream answer over 64 KiB becomes a 502', async () => {
    scalekit.handler = (_request, res) => sendJson(res, 201, { client_id: 'x', padding: 'p'.repeat(REGISTRATION_LIMITS.maxResponseBytes) });
    const response = await core()(register(minimalMetadata));
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({
      error: 'server_error',
      error_description: "The authorization server's registration endpoint answered with more data than a registration holds.",
    });
  });

  test('an unreachable registration endpoint: 503 with Retry-After', async () => {
    registrationEndpoint = `${await unusedLoopbackUrl()}/register`;
    const response = await core()(register(minimalMetadata));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'The registration endpoint could not be reached. Retry shortly.',
    });
  });

  test('a registration endpoint that does not answer within the deadline: 503 saying so, and the failure counted', async () => {
    const failures: string[] = [];
    // Never answers: the POST ends only when the proxy's own deadline aborts it.
    const silent: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason), { once: true }));
    const registerClient = createRegistrationCore({ authorizationServerMetadata: metadataSource, fetch: silent, timeoutMs: 1, onUpstreamFailure: (kind) => failures.push(kind) });
    const response = await registerClient(register(minimalMetadata));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'The registration endpoint did not answer in time. Retry shortly.',
    });
    expect(failures).toEqual(['unreachable']);
  });

  test('a redirect from the registration endpoint is not followed: 503', async () => {
    scalekit.handler = (_request, res) => sendJson(res, 307, {}, { Location: `${scalekit.url}/elsewhere` });
    const response = await core()(register(minimalMetadata));
    expect(response.status).toBe(503);
    expect(scalekit.requests.map((request) => request.path)).toEqual(['/resources/res_1/register']);
  });

  test('the metadata cannot be had: 503 with Retry-After naming why', async () => {
    const failing: AuthorizationServerMetadataSource = {
      get: async () => {
        throw new UpstreamError('unreachable', 'timed out');
      },
    };
    const response = await core(failing)(register(minimalMetadata));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'The authorization server could not be reached (timed out). Retry shortly.',
    });
    expect(scalekit.requests).toHaveLength(0);
  });

  test('a metadata source bug is not disguised as an outage', async () => {
    const broken: AuthorizationServerMetadataSource = {
      get: async () => {
        throw new RangeError('bug');
      },
    };
    await expect(core(broken)(register(minimalMetadata))).rejects.toThrow(RangeError);
  });

  test.each([
    ['missing', undefined],
    ['not a string', 42],
    ['not a URL', 'register here'],
    ['plain http off loopback', 'http://acme.scalekit.com/register'],
    ['another scheme', 'ftp://acme.scalekit.com/register'],
  ])('registration_endpoint %s: 502 naming what to fix, nothing sent', async (_why, endpoint) => {
    registrationEndpoint = endpoint;
    const response = await core()(register(minimalMetadata));
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({
      error: 'server_error',
      error_description:
        'The authorization server does not advertise a usable registration_endpoint. Enable dynamic client registration for this MCP server in Scalekit.',
    });
    expect(scalekit.requests).toHaveLength(0);
  });
});

describe('requests refused before anything is sent', () => {
  const INVALID_JSON_BODY = {
    error: 'invalid_client_metadata',
    error_description: 'The body must be a JSON object of client metadata (RFC 7591).',
  };

  test.each([
    ['text/plain', { 'Content-Type': 'text/plain' }],
    ['form encoding', { 'Content-Type': 'application/x-www-form-urlencoded' }],
    ['a JSON lookalike', { 'Content-Type': 'application/jsonp' }],
  ])('Content-Type %s: 400', async (_why, headers) => {
    const response = await core()(register(JSON.stringify(clientMetadata), headers));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'invalid_client_metadata',
      error_description: 'Send the client metadata as JSON, with Content-Type: application/json.',
    });
    expect(scalekit.requests).toHaveLength(0);
  });

  test('no Content-Type: 400', async () => {
    const request = new Request('https://mcp.example.com/oauth/register', { method: 'POST', body: new Uint8Array([0x7b, 0x7d]) });
    expect(request.headers.get('content-type')).toBeNull();
    expect((await core()(request)).status).toBe(400);
  });

  test.each([
    ['not JSON', '{client_name: x}'],
    ['a JSON array', '[{"client_name":"x"}]'],
    ['JSON null', 'null'],
    ['a JSON string', '"x"'],
    ['empty', ''],
  ])('a body that is %s: 400', async (_why, body) => {
    const response = await core()(register(body));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual(INVALID_JSON_BODY);
    expect(scalekit.requests).toHaveLength(0);
  });

  test('bytes that are not UTF-8: 400', async () => {
    const response = await core()(register(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual(INVALID_JSON_BODY);
  });

  test('a body over 16 KiB: 413; exactly 16 KiB goes through', async () => {
    const padded = (size: number) => {
      const base = JSON.stringify({ ...clientMetadata, software_id: '' });
      return JSON.stringify({ ...clientMetadata, software_id: 'x'.repeat(size - base.length) });
    };
    const over = padded(REGISTRATION_LIMITS.maxRequestBytes + 1);
    expect(Buffer.byteLength(over)).toBe(16 * 1024 + 1);
    const response = await core()(register(over));
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: 'invalid_client_metadata',
      error_description: 'Client metadata must not exceed 16384 bytes.',
    });
    expect(scalekit.requests).toHaveLength(0);

    const exact = padded(REGISTRATION_LIMITS.maxRequestBytes);
    expect(Buffer.byteLength(exact)).toBe(16 * 1024);
    expect((await core()(register(exact))).status).toBe(201);
  });

  test.each(['GET', 'PUT', 'DELETE'])('%s: 405 with Allow: POST', async (method) => {
    const response = await core()(register('{}', {}, method));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await response.json()).toEqual({ error: 'method_not_allowed', error_description: 'Use POST on this path.' });
    expect(scalekit.requests).toHaveLength(0);
  });
});
