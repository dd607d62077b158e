import { createMetadataCore, proxiedAuthorizationServerMetadata } from '../../../lambda/metadata/metadata.js';
import {
  createAuthorizationServerMetadataSource,
  UpstreamError,
  type AuthorizationServerMetadataSource,
} from '../../../lambda/shared/authorization-server-metadata.js';
import { sendJson, startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.js';

const ORIGIN = 'https://mcp.example.com';
const REGISTRATION_URL = `${ORIGIN}/oauth/register`;
let upstream: LoopbackServer;
let clock: number;
let upstreamDocument: Record<string, unknown>;

beforeAll(async () => {
  upstream = await startLoopbackServer();
});

afterAll(async () => {
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  clock = 0;
  upstreamDocument = {
    issuer: 'https://acme.scalekit.com/resources/res_123',
    authorization_endpoint: 'https://acme.scalekit.com/oauth/authorize',
    token_endpoint: 'https://acme.scalekit.com/oauth/token',
    registration_endpoint: 'https://acme.scalekit.com/resources/res_123/register',
    code_challenge_methods_supported: ['S256'],
  };
  upstream.handler = (_request, res) => sendJson(res, 200, upstreamDocument);
});

function core(authorizationServerMetadata?: AuthorizationServerMetadataSource) {
  return createMetadataCore({
    authorizationServerMetadata:
      authorizationServerMetadata ?? createAuthorizationServerMetadataSource({ url: `${upstream.url}/as-metadata`, now: () => clock }),
    registrationUrl: REGISTRATION_URL,
  });
}

const get = (path: string, method = 'GET') => new Request(`${ORIGIN}${path}`, { method });

describe('authorization server metadata (RFC 8414), proxied', () => {
  test('keeps the issuer and every other field, and advertises this server’s registration proxy', async () => {
    const response = await core()(get('/.well-known/oauth-authorization-server'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(response.headers.get('warning')).toBeNull();
    expect(await response.json()).toEqual({ ...upstreamDocument, registration_endpoint: REGISTRATION_URL });
    expect(upstream.requests.map((request) => request.path)).toEqual(['/as-metadata']);
  });

  test('adds a registration endpoint when the upstream has none', () => {
    expect(proxiedAuthorizationServerMetadata({ issuer: 'https://as' }, REGISTRATION_URL)).toEqual({
      issuer: 'https://as',
      registration_endpoint: REGISTRATION_URL,
    });
  });

  test('a stale copy is served with a Warning when the upstream fails after a success', async () => {
    const serve = core();
    expect((await serve(get('/.well-known/oauth-authorization-server'))).status).toBe(200);
    upstream.handler = (_request, res) => sendJson(res, 503, { error: 'down' });
    clock += 5 * 60_000;
    const response = await serve(get('/.well-known/oauth-authorization-server'));
    expect(response.status).toBe(200);
    expect(response.headers.get('warning')).toBe('110 - "Response is stale"');
    expect(await response.json()).toEqual({ ...upstreamDocument, registration_endpoint: REGISTRATION_URL });
    expect(upstream.requests).toHaveLength(2);
  });

  test('502 JSON with Retry-After when the upstream never worked', async () => {
    upstream.handler = (_request, res) => sendJson(res, 503, { error: 'down' });
    const response = await core()(get('/.well-known/oauth-authorization-server'));
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description:
        "The authorization server's metadata could not be fetched (answered HTTP 503). Check SCALEKIT_ENVIRONMENT_URL and SCALEKIT_RESOURCE_ID, then retry.",
    });
  });

  test('an upstream document without issuer gives the same 502, naming the reason', async () => {
    upstream.handler = (_request, res) => sendJson(res, 200, { registration_endpoint: 'https://x' });
    const response = await core()(get('/.well-known/oauth-authorization-server'));
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error_description: string }).error_description).toBe(
      'The authorization server\'s metadata could not be fetched (the metadata has no "issuer"). Check SCALEKIT_ENVIRONMENT_URL and SCALEKIT_RESOURCE_ID, then retry.',
    );
  });

  test('an error that is not an upstream failure is not disguised as a 502', async () => {
    const broken: AuthorizationServerMetadataSource = {
      get: async () => {
        throw new TypeError('bug');
      },
    };
    await expect(core(broken)(get('/.well-known/oauth-authorization-server'))).rejects.toThrow(TypeError);
  });

  test('an UpstreamError from any source becomes the 502', async () => {
    const failing: AuthorizationServerMetadataSource = {
      get: async () => {
        throw new UpstreamError('unreachable', 'timed out');
      },
    };
    const response = await core(failing)(get('/.well-known/oauth-authorization-server'));
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error_description: string }).error_description).toContain('(timed out)');
  });
});

describe('other paths and methods', () => {
  // API Gateway answers the protected resource metadata itself: the function never serves it.
  test.each([
    '/',
    '/.well-known/openid-configuration',
    '/.well-known/oauth-protected-resource',
    '/.well-known/oauth-protected-resource/web-search/mcp',
    '/web-search/mcp',
  ])(
    '%s is a JSON 404',
    async (path) => {
      const response = await core()(get(path));
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({ error: 'not_found', error_description: 'No such metadata document.' });
    },
  );

  test('HEAD is answered like GET', async () => {
    const response = await core()(get('/.well-known/oauth-authorization-server', 'HEAD'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  test.each(['POST', 'PUT', 'DELETE', 'PATCH'])('%s is a 405 with Allow: GET, on every path', async (method) => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-authorization-server', '/nowhere']) {
      const response = await core()(get(path, method));
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('GET');
      expect(await response.json()).toEqual({ error: 'method_not_allowed', error_description: 'Use GET on this path.' });
    }
    expect(upstream.requests).toHaveLength(0);
  });
});
