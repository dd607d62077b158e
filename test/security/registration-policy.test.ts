/**
 * Issue 12, case 3: the registration policy covers every field, not only
 * `redirect_uris`. Anonymous registration through `POST /oauth/register` (the
 * local gateway, the register bundle, a Scalekit-shaped upstream that records
 * what reaches it) must never create a client that can mint user-less tokens,
 * ask for scopes this server does not use, or carry a script URL anywhere; no
 * Unicode format or control character passes in any field. The embedded
 * development authorization server enforces the same on its own registration
 * endpoint: client credentials only for the one configured machine client.
 */
import { runDoctor } from '../../scripts/doctor/checks.js';
import { startDevAuthorizationServer, type DevAuthorizationServer } from '../../local/dev-authorization-server.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import { json, rawRequest, type RawResponse } from './support.js';

const CALLBACK = 'http://127.0.0.1:53682/callback';
const GOOD = {
  client_name: 'Hostile test client',
  redirect_uris: [CALLBACK],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
};

let test_: TestStack;

beforeAll(async () => {
  // Dozens of registrations in a row, well past the register route's 5/s, burst 10: throttling
  // (test/security/throttling.test.ts) is off here so each case meets the policy, not the bucket.
  test_ = await startTestStack({ stack: { throttle: false } });
});

afterAll(async () => {
  await test_?.close();
});

const register = (body: unknown): Promise<RawResponse> =>
  rawRequest(test_.stack.baseUrl, {
    method: 'POST',
    path: '/oauth/register',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

/** A refusal by our policy: 400, RFC 7591 error, nothing forwarded upstream. */
async function expectRefused(body: unknown, error: 'invalid_client_metadata' | 'invalid_redirect_uri' = 'invalid_client_metadata') {
  const before = test_.issuer.registrations.length;
  const response = await register(body);
  expect(response.status).toBe(400);
  expect(json(response)).toMatchObject({ error, error_description: expect.any(String) });
  expect(test_.issuer.registrations.length).toBe(before);
  return json(response);
}

test('the baseline: a well-formed public client registers (so the refusals below can fail)', async () => {
  const response = await register(GOOD);
  expect(response.status).toBe(201);
  expect(test_.issuer.registrations.at(-1)).toEqual(GOOD);
});

test('a client that leaves token_endpoint_auth_method out is registered public (none), not with the RFC 7591 default secret', async () => {
  const { token_endpoint_auth_method: _omitted, ...rest } = GOOD;
  const response = await register(rest);
  expect(response.status).toBe(201);
  expect(test_.issuer.registrations.at(-1)).toEqual({ ...rest, token_endpoint_auth_method: 'none' });
});

describe('grant types, response types, authentication method, scope', () => {
  test.each([
    ['client_credentials (the reported attack)', { grant_types: ['client_credentials'] }],
    ['client_credentials beside authorization_code', { grant_types: ['authorization_code', 'client_credentials'] }],
    ['password', { grant_types: ['password'] }],
    ['implicit', { grant_types: ['implicit'] }],
    ['the JWT bearer grant', { grant_types: ['urn:ietf:params:oauth:grant-type:jwt-bearer'] }],
    ['the device grant', { grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] }],
    ['token exchange', { grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'] }],
    ['grant_types not an array', { grant_types: 'authorization_code' }],
    ['an empty grant_types', { grant_types: [] }],
    ['response_types token', { response_types: ['token'] }],
    ['response_types code and token', { response_types: ['code', 'token'] }],
    ['response_types id_token', { response_types: ['code id_token'] }],
    ['a client secret method', { token_endpoint_auth_method: 'client_secret_basic' }],
    ['private_key_jwt', { token_endpoint_auth_method: 'private_key_jwt' }],
    ['tls_client_auth', { token_endpoint_auth_method: 'tls_client_auth' }],
    ['a scope this server does not use', { scope: 'admin' }],
    ['a supported scope beside one it does not use', { scope: 'web-search:read web-search:write' }],
    ['scope not a string', { scope: ['web-search:read'] }],
    ['a scope with a tab', { scope: 'web-search:read\topenid' }],
  ])('%s: refused', async (_case, change) => {
    await expectRefused({ ...GOOD, ...change });
  });

  test.each([
    ['the scope this server uses', 'web-search:read'],
    ['with offline_access (refresh tokens at Scalekit)', 'web-search:read offline_access'],
    ['with openid', 'openid web-search:read'],
  ])('%s: accepted', async (_case, scope) => {
    expect((await register({ ...GOOD, scope })).status).toBe(201);
  });
});

describe('every URI-valued field', () => {
  test.each([
    ['a javascript: post-logout URI (the reported attack)', { post_logout_redirect_uris: ['javascript:alert(1)'] }],
    ['a plain-http post-logout URI on a foreign host', { post_logout_redirect_uris: ['http://evil.example/out'] }],
    ['post_logout_redirect_uris not an array', { post_logout_redirect_uris: 'https://app.example.com/out' }],
    ['jwks_uri (a fetch the authorization server would make)', { jwks_uri: 'https://evil.example/jwks' }],
    ['jwks (keys for a client that has no use for them)', { jwks: { keys: [] } }],
    ['request_uris', { request_uris: ['https://evil.example/request'] }],
    ['sector_identifier_uri', { sector_identifier_uri: 'https://evil.example/sector' }],
    ['initiate_login_uri', { initiate_login_uri: 'https://evil.example/login' }],
    ['backchannel_logout_uri', { backchannel_logout_uri: 'https://evil.example/logout' }],
    ['frontchannel_logout_uri', { frontchannel_logout_uri: 'https://evil.example/logout' }],
    ['a javascript: client_uri', { client_uri: 'javascript:alert(1)' }],
    ['a data: logo_uri', { logo_uri: 'data:image/svg+xml,<svg onload=alert(1)>' }],
    ['a plain-http tos_uri', { tos_uri: 'http://evil.example/tos' }],
    ['a policy_uri with a private-use scheme', { policy_uri: 'com.example.app:/policy' }],
    ['an unknown URI field', { callback_uri: 'https://evil.example/x' }],
    ['an unknown list of URIs', { webhook_uris: ['https://evil.example/x'] }],
  ])('%s: refused', async (_case, change) => {
    await expectRefused({ ...GOOD, ...change });
  });

  test('informational https URIs and https post-logout URIs are accepted', async () => {
    const response = await register({
      ...GOOD,
      client_uri: 'https://app.example.com',
      logo_uri: 'https://app.example.com/logo.png',
      tos_uri: 'https://app.example.com/tos',
      policy_uri: 'https://app.example.com/privacy',
      post_logout_redirect_uris: ['https://app.example.com/signed-out'],
    });
    expect(response.status).toBe(201);
  });
});

describe('Unicode format and control characters, in any field', () => {
  test.each([
    ['U+00AD soft hyphen in a redirect host', { redirect_uris: ['https://app.exa\u00admple.com/cb'] }, 'invalid_redirect_uri'],
    ['U+200B zero-width space in a redirect URI', { redirect_uris: ['https://app.example.com/\u200bcb'] }, 'invalid_redirect_uri'],
    ['U+202E right-to-left override in a redirect URI', { redirect_uris: ['https://app.example.com/\u202ecb'] }, 'invalid_redirect_uri'],
    ['U+2028 line separator in a redirect URI', { redirect_uris: ['https://app.example.com/\u2028cb'] }, 'invalid_redirect_uri'],
    ['U+FEFF in a redirect URI', { redirect_uris: ['\ufeffhttps://app.example.com/cb'] }, 'invalid_redirect_uri'],
    ['U+202E in client_name', { client_name: 'Claude \u202eedoC' }, 'invalid_client_metadata'],
    ['U+200B in client_name', { client_name: 'Cla\u200bude' }, 'invalid_client_metadata'],
    ['a NUL in client_name', { client_name: 'Claude\u0000' }, 'invalid_client_metadata'],
    ['an escape character in client_name', { client_name: '\u001b[31mred' }, 'invalid_client_metadata'],
    ['U+2029 in a contact', { contacts: ['a@example.com\u2029'] }, 'invalid_client_metadata'],
    ['U+200E in software_id', { software_id: 'app\u200e' }, 'invalid_client_metadata'],
    ['U+061C in a nested value', { software_statement_extra: { a: ['x\u061c'] } }, 'invalid_client_metadata'],
    ['U+200D in a field name', { ['client\u200d_name']: 'x' }, 'invalid_client_metadata'],
  ] as const)('%s: refused', async (_case, change, error) => {
    await expectRefused({ ...GOOD, ...change }, error);
  });

  test('ordinary non-ASCII text in client_name is fine', async () => {
    expect((await register({ ...GOOD, client_name: 'Café Müller 日本語 😀' })).status).toBe(201);
  });
});

describe('the embedded development authorization server enforces the same', () => {
  let as: DevAuthorizationServer;
  const M2M = { clientId: 'policy-m2m', clientSecret: 'policy-m2m-secret' };

  beforeAll(async () => {
    as = await startDevAuthorizationServer({ port: 0, m2mClient: M2M, onServerError: () => undefined });
  });
  afterAll(async () => {
    await as?.close();
  });

  const registerAtDevServer = async (body: unknown) => {
    const response = await fetch(`${as.authorizationServerUrl}/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  test('a registered public client, as before', async () => {
    expect((await registerAtDevServer(GOOD)).status).toBe(201);
  });

  test.each([
    ['client_credentials', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' }],
    ['client_credentials beside authorization_code', { grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }],
    ['a javascript: post-logout URI', { post_logout_redirect_uris: ['javascript:alert(1)'] }],
    ['jwks_uri', { jwks_uri: 'https://evil.example/jwks' }],
    ['U+202E in client_name', { client_name: 'x\u202ey' }],
    ['U+00AD in a redirect URI', { redirect_uris: ['http://127.0.0.1:53682/call\u00adback'] }],
  ])('%s: refused with an RFC 7591 error', async (_case, change) => {
    const { status, body } = await registerAtDevServer({ ...GOOD, ...change });
    expect(status).toBe(400);
    expect(['invalid_client_metadata', 'invalid_redirect_uri']).toContain(body.error);
  });

  test('a refused redirect URI is invalid_redirect_uri, described by the policy (not "did not match")', async () => {
    const { status, body } = await registerAtDevServer({ ...GOOD, redirect_uris: ['http://evil.example/cb'] });
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'invalid_redirect_uri', error_description: expect.stringContaining('redirect_uris[0] uses http on a host other than a loopback address') });
  });

  test('the configured machine client still gets client-credentials tokens', async () => {
    const response = await fetch(`${as.environmentUrl}/oauth/token`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${M2M.clientId}:${M2M.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'web-search:read', resource: 'http://localhost:10000/web-search/mcp' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ access_token: expect.any(String), token_type: expect.stringMatching(/^bearer$/i) });
  });
});

describe('npm run doctor says what the authorization server allows past this policy', () => {
  test('dynamic registration, client ID metadata documents, grants and client authentication, from the AS metadata', async () => {
    const report = await runDoctor({ url: test_.stack.baseUrl });
    const check = report.checks.find((candidate) => candidate.id === 'authorization-server.registration-exposure');
    expect(check).toMatchObject({
      step: 3,
      status: 'pass',
      summary: expect.stringContaining('binds only clients registering through it'),
      details: {
        dynamicClientRegistration: true,
        clientIdMetadataDocuments: false,
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
        tokenEndpointAuthMethods: ['client_secret_post', 'client_secret_basic', 'none'],
        consider: expect.stringContaining('Allow dynamic client registration'),
      },
    });
  });
});
