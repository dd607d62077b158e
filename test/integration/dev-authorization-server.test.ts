/**
 * The development authorization server, over real HTTP on loopback, driven the
 * way MCP clients drive Scalekit: discovery through the per-resource metadata,
 * dynamic registration, authorization code with PKCE and a resource indicator
 * (the MCP SDK's own client helpers), refresh, and client_credentials. Tokens
 * are checked with jose against the published keys, as the authorizer does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  discoverAuthorizationServerMetadata,
  exchangeAuthorization,
  refreshAuthorization,
  registerClient,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import type { ResolveHost } from '../../local/client-id-metadata-document.js';
import { startDevAuthorizationServer, type DevAuthorizationServer } from '../../local/dev-authorization-server.js';
import { startClientMetadataDocumentServer, type ClientMetadataDocumentServer } from '../fixtures/client-metadata-documents.js';

const RESOURCE_ID = 'res_dev';
const MCP_RESOURCE = 'http://localhost:3001/web-search/mcp';
const M2M = { clientId: 'm2m_dev', clientSecret: 'm2m-dev-secret' };
const BROWSER_ORIGIN = 'http://localhost:6274';

let as: DevAuthorizationServer;
let metadata: AuthorizationServerMetadata;
let callback: { server: Server; url: string; hits: URL[] };
const serverErrors: Error[] = [];
const printed: unknown[][] = [];
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error'] as const;
const originalConsole = Object.fromEntries(CONSOLE_METHODS.map((method) => [method, console[method]]));

/** The client's redirect target: it only records where it was sent. */
async function startCallbackServer() {
  const hits: URL[] = [];
  const server = createServer((req, res) => {
    hits.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('signed in');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`, hits };
}

beforeAll(async () => {
  // ESM suites have no `jest` global to spy with; the console is swapped by hand.
  for (const method of CONSOLE_METHODS) console[method] = (...args: unknown[]) => void printed.push(args);
  callback = await startCallbackServer();
  as = await startDevAuthorizationServer({
    port: 0,
    resourceId: RESOURCE_ID,
    m2mClient: M2M,
    onServerError: (error) => serverErrors.push(error),
  });
  metadata = (await discoverAuthorizationServerMetadata(as.authorizationServerUrl))!;
});

afterAll(async () => {
  Object.assign(console, originalConsole);
  await as?.close();
  if (callback) {
    callback.server.closeAllConnections();
    await new Promise((resolve) => callback.server.close(resolve));
  }
});

async function verifyAccessToken(token: string, audience = MCP_RESOURCE): Promise<JWTPayload> {
  const keys = createRemoteJWKSet(new URL(`${as.issuer}/keys`));
  const { payload, protectedHeader } = await jwtVerify(token, keys, { issuer: as.issuer, audience, algorithms: ['RS256'] });
  expect(protectedHeader.kid).toMatch(/^snk_dev_/);
  return payload;
}

function registerPublicClient(redirectUrl = callback.url) {
  return registerClient(as.authorizationServerUrl, {
    metadata,
    clientMetadata: {
      client_name: 'public test client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
  });
}

/** One request to the authorization endpoint; where it redirects to. */
async function authorize(authorizationUrl: URL): Promise<URL> {
  const response = await fetch(authorizationUrl, { redirect: 'manual' });
  expect(response.status).toBe(303);
  return new URL(response.headers.get('location')!);
}

async function signIn(client: OAuthClientInformationFull, options: { scope?: string; resource?: string } = {}) {
  const { authorizationUrl, codeVerifier } = await startAuthorization(as.authorizationServerUrl, {
    metadata,
    clientInformation: client,
    redirectUrl: client.redirect_uris[0]!,
    scope: options.scope ?? 'web-search:read',
    state: 'state-123',
    resource: new URL(options.resource ?? MCP_RESOURCE),
  });
  const redirect = await authorize(authorizationUrl);
  return { redirect, codeVerifier };
}

async function tokenRequest(body: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body),
  });
  return { response, body: (await response.json()) as Record<string, unknown> };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('discovery', () => {
  test('every per-resource metadata URL serves one RFC 8414 document for {base}/resources/{id}', async () => {
    const [suffixed, inserted, ...openid] = await Promise.all(
      [
        `${as.issuer}/resources/${RESOURCE_ID}/.well-known/oauth-authorization-server`,
        `${as.issuer}/.well-known/oauth-authorization-server/resources/${RESOURCE_ID}`,
        `${as.issuer}/resources/${RESOURCE_ID}/.well-known/openid-configuration`,
        `${as.issuer}/.well-known/openid-configuration/resources/${RESOURCE_ID}`,
      ].map(async (url) => {
        const response = await fetch(url);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toMatch(/^application\/json/);
        return response.json();
      }),
    );
    expect(inserted).toEqual(suffixed);
    for (const document of openid) expect(document).toEqual(suffixed);
    expect(as.metadataUrl).toBe(`${as.issuer}/resources/${RESOURCE_ID}/.well-known/oauth-authorization-server`);
    expect(suffixed).toMatchObject({
      issuer: as.authorizationServerUrl,
      jwks_uri: `${as.issuer}/keys`,
      authorization_endpoint: `${as.issuer}/oauth/authorize`,
      token_endpoint: `${as.issuer}/oauth/token`,
      registration_endpoint: `${as.issuer}/resources/${RESOURCE_ID}/register`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
    });
    expect(suffixed.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    expect(suffixed.scopes_supported).toContain('web-search:read');
    expect(suffixed.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic']));
    // What the SDK found through the protected resource's `authorization_servers` entry is the same document.
    expect(metadata).toMatchObject({ issuer: suffixed.issuer, token_endpoint: suffixed.token_endpoint });
    // RFC 9207 is advertised, and so are client ID metadata documents beside DCR.
    expect(suffixed.authorization_response_iss_parameter_supported).toBe(true);
    expect(suffixed.client_id_metadata_document_supported).toBe(true);
  });

  test('no metadata at the base URL itself: a document there would have to name another issuer than every authorization response', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const response = await fetch(`${as.issuer}${path}`);
      expect(response.status).toBe(404);
      expect((await response.json()).error_description).toContain(as.authorizationServerUrl);
    }
  });

  test('the base URL is Scalekit-shaped: issuer and environment URL without a trailing slash, on loopback', () => {
    expect(as.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(as.environmentUrl).toBe(as.issuer);
    expect(as.authorizationServerUrl).toBe(`${as.issuer}/resources/${RESOURCE_ID}`);
    expect(as.jwksUrl).toBe(`${as.issuer}/keys`);
    expect(as.resourceId).toBe(RESOURCE_ID);
  });

  test('JWKS at {base}/keys: one public RS256 signing key with a Scalekit-style kid', async () => {
    const response = await fetch(as.jwksUrl);
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.stringMatching(/^snk_dev_[0-9a-f]{16}$/) });
    for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(keys[0]).not.toHaveProperty(privateMember);
  });

  test('metadata is readable from a browser page on loopback', async () => {
    const preflight = await fetch(as.metadataUrl, {
      method: 'OPTIONS',
      headers: { Origin: BROWSER_ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'mcp-protocol-version' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('mcp-protocol-version');
    const response = await fetch(as.metadataUrl, { headers: { Origin: BROWSER_ORIGIN } });
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('dynamic client registration (anonymous)', () => {
  test('a public client gets a client_id and no secret', async () => {
    const client = await registerPublicClient();
    expect(client.client_id).toEqual(expect.any(String));
    expect(client.client_secret).toBeUndefined();
    expect(client.token_endpoint_auth_method).toBe('none');
    expect(client.redirect_uris).toEqual([callback.url]);
  });

  test('a confidential client gets a client_secret', async () => {
    const client = await registerClient(as.authorizationServerUrl, {
      metadata,
      clientMetadata: { redirect_uris: [callback.url], token_endpoint_auth_method: 'client_secret_basic' },
    });
    expect(client.client_secret).toEqual(expect.any(String));
    expect(client.grant_types).toEqual(['authorization_code', 'refresh_token']);
  });

  test('a browser page on loopback may register (CORS), a foreign page gets no CORS grant', async () => {
    const preflight = await fetch(metadata.registration_endpoint!, {
      method: 'OPTIONS',
      headers: { Origin: BROWSER_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(BROWSER_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');

    const register = (origin: string) =>
      fetch(metadata.registration_endpoint!, {
        method: 'POST',
        headers: { Origin: origin, 'Content-Type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [`${BROWSER_ORIGIN}/oauth/callback`], token_endpoint_auth_method: 'none' }),
      });
    const fromLoopback = await register(BROWSER_ORIGIN);
    expect(fromLoopback.status).toBe(201);
    expect(fromLoopback.headers.get('access-control-allow-origin')).toBe(BROWSER_ORIGIN);
    const fromElsewhere = await register('https://evil.example');
    expect(fromElsewhere.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('a scope the server does not know is refused as invalid client metadata', async () => {
    const response = await fetch(metadata.registration_endpoint!, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [callback.url], token_endpoint_auth_method: 'none', scope: 'web-search:write' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });
});

describe('authorization code with PKCE', () => {
  test('a client following redirects with plain fetch lands on redirect_uri with a code', async () => {
    const client = await registerPublicClient();
    const { authorizationUrl } = await startAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      redirectUrl: callback.url,
      scope: 'web-search:read',
      state: 'follow-me',
      resource: new URL(MCP_RESOURCE),
    });
    const response = await fetch(authorizationUrl);
    expect(response.status).toBe(200);
    const landed = new URL(response.url);
    expect(`${landed.origin}${landed.pathname}`).toBe(callback.url);
    expect(landed.searchParams.get('code')).toEqual(expect.any(String));
    expect(landed.searchParams.get('state')).toBe('follow-me');
    expect(callback.hits.at(-1)?.searchParams.get('code')).toBe(landed.searchParams.get('code'));
  });

  test('the MCP SDK helpers get a Scalekit-shaped access token; the authorization response names the advertised issuer', async () => {
    const client = await registerPublicClient();
    const { redirect, codeVerifier } = await signIn(client);
    expect(redirect.searchParams.get('state')).toBe('state-123');
    // RFC 9207: `iss` is the issuer of the metadata the client discovered, byte for byte.
    expect(metadata.issuer).toBe(as.authorizationServerUrl);
    expect((metadata as Record<string, unknown>).authorization_response_iss_parameter_supported).toBe(true);
    expect(redirect.searchParams.get('iss')).toBe(metadata.issuer);

    const tokens = await exchangeAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      authorizationCode: redirect.searchParams.get('code')!,
      codeVerifier,
      redirectUri: callback.url,
      resource: new URL(MCP_RESOURCE),
    });
    expect(tokens).toMatchObject({ token_type: expect.stringMatching(/^bearer$/i), expires_in: 300, scope: 'web-search:read' });
    // No offline_access asked for: no refresh token, as with Scalekit.
    expect(tokens.refresh_token).toBeUndefined();

    // Tokens keep the environment root as `iss`, as Scalekit's do.
    const claims = await verifyAccessToken(tokens.access_token);
    expect(claims.iss).toBe(as.issuer);
    expect(claims.aud).toEqual([MCP_RESOURCE, RESOURCE_ID]);
    expect(claims).toMatchObject({ scope: 'web-search:read', sub: 'usr_dev', client_id: client.client_id });
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims.exp! - claims.iat!).toBe(300);
    // The authorizer may also be configured with the resource id as its audience.
    await expect(verifyAccessToken(tokens.access_token, RESOURCE_ID)).resolves.toBeDefined();
  });

  test('refreshing works without naming the resource again, and rotates the refresh token', async () => {
    const client = await registerPublicClient();
    const { redirect, codeVerifier } = await signIn(client, { scope: 'web-search:read offline_access' });
    const first = await exchangeAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      authorizationCode: redirect.searchParams.get('code')!,
      codeVerifier,
      redirectUri: callback.url,
      resource: new URL(MCP_RESOURCE),
    });
    const second = await refreshAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      refreshToken: first.refresh_token!,
    });
    expect(second.refresh_token).toEqual(expect.any(String));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    const claims = await verifyAccessToken(second.access_token);
    expect(claims.aud).toEqual([MCP_RESOURCE, RESOURCE_ID]);
    expect(claims).toMatchObject({ scope: 'web-search:read', sub: 'usr_dev', client_id: client.client_id });
    expect(claims.jti).not.toBe(decodeJwt(first.access_token).jti);

    // A rotated-out refresh token is spent.
    const reused = await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: client.client_id });
    expect(reused.response.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
  });

  test('a confidential client signs in, refreshes and rotates too', async () => {
    const client = await registerClient(as.authorizationServerUrl, {
      metadata,
      clientMetadata: { redirect_uris: [callback.url], token_endpoint_auth_method: 'client_secret_basic' },
    });
    const { redirect, codeVerifier } = await signIn(client, { scope: 'web-search:read offline_access' });
    const first = await exchangeAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      authorizationCode: redirect.searchParams.get('code')!,
      codeVerifier,
      redirectUri: callback.url,
      resource: new URL(MCP_RESOURCE),
    });
    expect((await verifyAccessToken(first.access_token)).client_id).toBe(client.client_id);
    const second = await refreshAuthorization(as.authorizationServerUrl, { metadata, clientInformation: client, refreshToken: first.refresh_token! });
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await verifyAccessToken(second.access_token)).aud).toEqual([MCP_RESOURCE, RESOURCE_ID]);
  });

  test('OpenID scopes, offline_access and prompt=consent are consented automatically as well', async () => {
    const client = await registerPublicClient();
    const { redirect, codeVerifier } = await signIn(client, { scope: 'openid email profile offline_access web-search:read' });
    const tokens = await exchangeAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      authorizationCode: redirect.searchParams.get('code')!,
      codeVerifier,
      redirectUri: callback.url,
      resource: new URL(MCP_RESOURCE),
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect((await verifyAccessToken(tokens.access_token)).scope).toBe('web-search:read');
    // An ID token's `iss` is the discovery issuer (OpenID Connect Core 3.1.3.7).
    expect(decodeJwt(tokens.id_token!)).toMatchObject({ iss: as.authorizationServerUrl, aud: client.client_id, sub: 'usr_dev', email: 'dev@localhost' });
  });

  test('offline_access without prompt=consent still gets a refresh token (Scalekit does not ask for the prompt)', async () => {
    const client = await registerPublicClient();
    const { authorizationUrl, codeVerifier } = await startAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      redirectUrl: callback.url,
      scope: 'web-search:read',
      resource: new URL(MCP_RESOURCE),
    });
    authorizationUrl.searchParams.set('scope', 'web-search:read offline_access');
    expect(authorizationUrl.searchParams.get('prompt')).toBeNull();
    const redirect = await authorize(authorizationUrl);
    const tokens = await exchangeAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      authorizationCode: redirect.searchParams.get('code')!,
      codeVerifier,
      redirectUri: callback.url,
      resource: new URL(MCP_RESOURCE),
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect((await verifyAccessToken(tokens.access_token)).scope).toBe('web-search:read');
  });

  test('error responses carry the advertised issuer too', async () => {
    const client = await registerPublicClient();
    const refused = await signIn(client, { resource: 'https://api.example.com/mcp' });
    expect(refused.redirect.searchParams.get('error')).toBe('invalid_target');
    expect(refused.redirect.searchParams.get('iss')).toBe(metadata.issuer);
  });

  test('an authorization request without PKCE is refused', async () => {
    const client = await registerPublicClient();
    const url = new URL(metadata.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: client.client_id,
      response_type: 'code',
      redirect_uri: callback.url,
      scope: 'web-search:read',
      resource: MCP_RESOURCE,
      state: 'no-pkce',
    }).toString();
    const redirect = await authorize(url);
    expect(redirect.searchParams.get('error')).toBe('invalid_request');
    expect(redirect.searchParams.get('error_description')).toMatch(/PKCE/);
    expect(redirect.searchParams.get('code')).toBeNull();
  });

  test('a resource that is not allowed gets invalid_target, at the authorization and at the token endpoint', async () => {
    const client = await registerPublicClient();
    const refused = await signIn(client, { resource: 'https://api.example.com/mcp' });
    expect(refused.redirect.searchParams.get('error')).toBe('invalid_target');
    expect(refused.redirect.searchParams.get('code')).toBeNull();

    const { redirect, codeVerifier } = await signIn(client, { scope: 'web-search:read offline_access' });
    const tokens = await exchangeAuthorization(as.authorizationServerUrl, {
      metadata,
      clientInformation: client,
      authorizationCode: redirect.searchParams.get('code')!,
      codeVerifier,
      redirectUri: callback.url,
      resource: new URL(MCP_RESOURCE),
    });
    await expect(
      refreshAuthorization(as.authorizationServerUrl, {
        metadata,
        clientInformation: client,
        refreshToken: tokens.refresh_token!,
        resource: new URL('https://api.example.com/mcp'),
      }),
    ).rejects.toMatchObject({ errorCode: 'invalid_target' });
  });

  test('a wrong code_verifier is refused at the token endpoint', async () => {
    const client = await registerPublicClient();
    const { redirect } = await signIn(client);
    const { response, body } = await tokenRequest({
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code')!,
      code_verifier: 'x'.repeat(43),
      redirect_uri: callback.url,
      client_id: client.client_id,
    });
    expect(response.status).toBe(400);
    expect(body.error).toBe('invalid_grant');
  });

  test('errors that cannot go back to a redirect_uri are JSON', async () => {
    const url = new URL(metadata.authorization_endpoint);
    url.search = new URLSearchParams({ client_id: 'no-such-client', response_type: 'code', redirect_uri: callback.url }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });
});

describe('client ID metadata documents', () => {
  /** A client publishing its metadata document on http loopback (development only). */
  async function publish(document: (url: string) => unknown) {
    let url = '';
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(document(url)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/client-metadata.json`;
    return { url, close: () => new Promise((resolve) => server.close(resolve)) };
  }

  test('a URL client_id is resolved from its document: authorization code, PKCE, token, no registration', async () => {
    const published = await publish((url) => ({ client_id: url, client_name: 'CIMD client', redirect_uris: [callback.url], token_endpoint_auth_method: 'none' }));
    try {
      const client = { client_id: published.url, redirect_uris: [callback.url] } as OAuthClientInformationFull;
      const { redirect, codeVerifier } = await signIn(client);
      expect(redirect.searchParams.get('iss')).toBe(metadata.issuer);
      const tokens = await exchangeAuthorization(as.authorizationServerUrl, {
        metadata,
        clientInformation: client,
        authorizationCode: redirect.searchParams.get('code')!,
        codeVerifier,
        redirectUri: callback.url,
        resource: new URL(MCP_RESOURCE),
      });
      expect((await verifyAccessToken(tokens.access_token)).client_id).toBe(published.url);
    } finally {
      await published.close();
    }
  });

  test('a redirect_uri the document does not list, or a document naming another client_id, is refused', async () => {
    const published = await publish((url) => ({ client_id: url, redirect_uris: ['http://127.0.0.1:1/other'], token_endpoint_auth_method: 'none' }));
    const impostor = await publish(() => ({ client_id: 'https://someone-else.example/client.json', redirect_uris: [callback.url] }));
    try {
      for (const clientId of [published.url, impostor.url]) {
        const { authorizationUrl } = await startAuthorization(as.authorizationServerUrl, {
          metadata,
          clientInformation: { client_id: clientId },
          redirectUrl: callback.url,
          scope: 'web-search:read',
          resource: new URL(MCP_RESOURCE),
        });
        // Nothing may be sent to a redirect_uri the client never published: a JSON error instead.
        const response = await fetch(authorizationUrl, { redirect: 'manual' });
        expect(response.status).toBe(400);
        expect(response.headers.get('location')).toBeNull();
        expect((await response.json()).error).toMatch(/^invalid_(redirect_uri|client_metadata|request)$/);
      }
    } finally {
      await published.close();
      await impostor.close();
    }
  });
});

describe('client ID metadata documents under attack', () => {
  /** Names resolved for this server by the test, never by the system's resolver. */
  const NAMES: Record<string, readonly string[]> = {
    'metadata.google.internal': ['169.254.169.254'],
    'intranet.example': ['127.0.0.1', '10.0.0.1'],
  };
  const resolveHost: ResolveHost = async (hostname) => {
    const addresses = NAMES[hostname];
    if (!addresses) throw new Error(`getaddrinfo ENOTFOUND ${hostname}`);
    return addresses.map((address) => ({ address, family: 4 }));
  };
  let guarded: DevAuthorizationServer;
  let guardedMetadata: AuthorizationServerMetadata;
  let documents: ClientMetadataDocumentServer;

  beforeAll(async () => {
    documents = await startClientMetadataDocumentServer();
    guarded = await startDevAuthorizationServer({
      port: 0,
      onServerError: (error) => serverErrors.push(error),
      clientIdMetadataDocuments: { resolveHost, maxConcurrentFetches: 1, timeoutMs: 30_000, trustedCertificates: [documents.certificate] },
    });
    guardedMetadata = (await discoverAuthorizationServerMetadata(guarded.authorizationServerUrl))!;
  });

  afterAll(async () => {
    await guarded?.close();
    await documents?.close();
  });

  /** A client's document on http loopback; `hold` keeps the answer back until `release` is called. */
  async function publish(document: (url: string) => unknown, { hold = false } = {}) {
    let url = '';
    let release!: () => void;
    let arrived!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const requested = new Promise<void>((resolve) => (arrived = resolve));
    const server = createServer(async (_req, res) => {
      arrived();
      if (hold) await released;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(document(url)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/client-metadata.json`;
    return {
      url,
      requested,
      release,
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      },
    };
  }

  /** The authorization request of a client named by `clientId`, redirecting to `redirectUrl`, as the server answers it. */
  async function authorizeAt(clientId: string, redirectUrl: string = callback.url) {
    const { authorizationUrl } = await startAuthorization(guarded.authorizationServerUrl, {
      metadata: guardedMetadata,
      clientInformation: { client_id: clientId },
      redirectUrl,
      scope: 'web-search:read',
      resource: new URL(MCP_RESOURCE),
    });
    return fetch(authorizationUrl, { redirect: 'manual' });
  }

  /** Refused with a JSON OAuth error: nothing is sent to any redirect_uri. */
  async function expectRefused(response: Response, error: string, description: string) {
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error, error_description: expect.stringContaining(description) });
  }

  test.each([
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data/client.json'],
    ['a private address', 'https://10.0.0.1/client.json'],
    ["AWS's IPv6 metadata address", 'https://[fd00:ec2::254]/client.json'],
    ['a name resolving to the cloud metadata address', 'https://metadata.google.internal/computeMetadata/v1/client.json'],
    ['a name resolving to loopback and to a private address', 'https://intranet.example/client.json'],
  ])('a document URL on %s: invalid_client, nothing fetched', async (_label, clientId) => {
    await expectRefused(await authorizeAt(clientId), 'invalid_client', 'which this server does not fetch from');
  });

  test('a document URL on 0.0.0.0 ("this network", which reaches this machine): invalid_client, although a document is there', async () => {
    const port = new URL(documents.origin).port;
    const clientId = `https://0.0.0.0:${port}/zero.json`;
    documents.serve('/zero.json', { client_id: clientId, redirect_uris: [callback.url], token_endpoint_auth_method: 'none' });
    await expectRefused(await authorizeAt(clientId), 'invalid_client', 'which this server does not fetch from');
    expect(documents.fetched).not.toContain('/zero.json');
  });

  test("a document's redirect_uris pass the registration policy: http://evil.example/cb gets no code", async () => {
    const published = await publish((url) => ({ client_id: url, redirect_uris: ['http://evil.example/cb'], token_endpoint_auth_method: 'none' }));
    try {
      await expectRefused(await authorizeAt(published.url, 'http://evil.example/cb'), 'invalid_redirect_uri', 'redirect_uris[0] uses http on a host other than a loopback address');
    } finally {
      await published.close();
    }
  });

  test('documents fetched at once are capped: the next client gets temporarily_unavailable at once, not a hang', async () => {
    const held = await publish((url) => ({ client_id: url, redirect_uris: [callback.url], token_endpoint_auth_method: 'none' }), { hold: true });
    const other = await publish((url) => ({ client_id: url, redirect_uris: [callback.url], token_endpoint_auth_method: 'none' }));
    try {
      const first = authorizeAt(held.url);
      await held.requested;
      await expectRefused(await authorizeAt(other.url), 'temporarily_unavailable', 'try again');
      held.release();
      const response = await first;
      expect(response.status).toBe(303);
      expect(new URL(response.headers.get('location')!).searchParams.get('code')).toEqual(expect.any(String));
      // The fetch done, the other client goes ahead.
      expect((await authorizeAt(other.url)).status).toBe(303);
    } finally {
      held.release();
      await held.close();
      await other.close();
    }
  });
});

describe('client_credentials', () => {
  test('the machine client gets a JWT for the requested resource', async () => {
    const { response, body } = await tokenRequest(
      { grant_type: 'client_credentials', scope: 'web-search:read', resource: MCP_RESOURCE },
      { Authorization: basic(M2M.clientId, M2M.clientSecret) },
    );
    expect(response.status).toBe(200);
    expect(body).toMatchObject({ token_type: expect.stringMatching(/^bearer$/i), scope: 'web-search:read', expires_in: 300 });
    expect(body.refresh_token).toBeUndefined();
    const claims = await verifyAccessToken(body.access_token as string);
    expect(claims.aud).toEqual([MCP_RESOURCE, RESOURCE_ID]);
    expect(claims).toMatchObject({ iss: as.issuer, scope: 'web-search:read', sub: M2M.clientId, client_id: M2M.clientId });
  });

  test('a resource that is not allowed gets invalid_target; a wrong secret gets invalid_client', async () => {
    const foreign = await tokenRequest(
      { grant_type: 'client_credentials', scope: 'web-search:read', resource: 'https://api.example.com/mcp' },
      { Authorization: basic(M2M.clientId, M2M.clientSecret) },
    );
    expect(foreign.response.status).toBe(400);
    expect(foreign.body.error).toBe('invalid_target');

    const wrongSecret = await tokenRequest(
      { grant_type: 'client_credentials', scope: 'web-search:read', resource: MCP_RESOURCE },
      { Authorization: basic(M2M.clientId, 'not-the-secret') },
    );
    expect(wrongSecret.response.status).toBe(401);
    expect(wrongSecret.body.error).toBe('invalid_client');
  });

  test('the token endpoint answers browser pages on loopback (CORS), not foreign ones', async () => {
    const preflight = await fetch(metadata.token_endpoint, {
      method: 'OPTIONS',
      headers: { Origin: BROWSER_ORIGIN, 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(BROWSER_ORIGIN);

    const request = (origin: string) =>
      tokenRequest(
        { grant_type: 'client_credentials', scope: 'web-search:read', resource: MCP_RESOURCE },
        { Authorization: basic(M2M.clientId, M2M.clientSecret), Origin: origin },
      );
    const fromLoopback = await request(BROWSER_ORIGIN);
    expect(fromLoopback.response.status).toBe(200);
    expect(fromLoopback.response.headers.get('access-control-allow-origin')).toBe(BROWSER_ORIGIN);
    const fromElsewhere = await request('https://evil.example');
    expect(fromElsewhere.response.status).toBe(400);
    expect(fromElsewhere.response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('options', () => {
  test('standard redirects (collapse off) need the cookies a browser keeps', async () => {
    const standard = await startDevAuthorizationServer({ collapseAuthorizationRedirects: false, onServerError: (error) => serverErrors.push(error) });
    try {
      const standardMetadata = (await discoverAuthorizationServerMetadata(standard.authorizationServerUrl))!;
      const client = await registerClient(standard.authorizationServerUrl, {
        metadata: standardMetadata,
        clientMetadata: { redirect_uris: [callback.url], token_endpoint_auth_method: 'none' },
      });
      const { authorizationUrl, codeVerifier } = await startAuthorization(standard.authorizationServerUrl, {
        metadata: standardMetadata,
        clientInformation: client,
        redirectUrl: callback.url,
        scope: 'web-search:read',
        resource: new URL(MCP_RESOURCE),
      });

      const walk = async (keepCookies: boolean) => {
        const cookies = new Map<string, string>();
        const visited: string[] = [];
        let url = authorizationUrl;
        for (let hop = 0; hop < 6; hop += 1) {
          const response = await fetch(url, {
            redirect: 'manual',
            headers: keepCookies ? { Cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') } : {},
          });
          for (const setCookie of response.headers.getSetCookie()) {
            const [pair = ''] = setCookie.split(';');
            const at = pair.indexOf('=');
            cookies.set(pair.slice(0, at), pair.slice(at + 1));
          }
          visited.push(url.pathname);
          const location = response.headers.get('location');
          if (!location) return { visited, status: response.status };
          url = new URL(location, url);
          if (url.origin !== standard.issuer) return { visited, redirect: url };
        }
        return { visited };
      };

      const withCookies = await walk(true);
      expect(withCookies.visited[0]).toBe('/oauth/authorize');
      expect(withCookies.visited.some((path) => path.startsWith('/interaction/'))).toBe(true);
      const code = withCookies.redirect?.searchParams.get('code');
      expect(code).toEqual(expect.any(String));
      const tokens = await exchangeAuthorization(standard.authorizationServerUrl, {
        metadata: standardMetadata,
        clientInformation: client,
        authorizationCode: code!,
        codeVerifier,
        redirectUri: callback.url,
      });
      const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(standard.jwksUrl)), {
        issuer: standard.issuer,
        audience: MCP_RESOURCE,
      });
      expect(payload.aud).toEqual([MCP_RESOURCE, 'res_dev']);

      const withoutCookies = await walk(false);
      expect(withoutCookies.redirect).toBeUndefined();
      expect(withoutCookies.status).toBe(400);
    } finally {
      await standard.close();
    }
  });

  test('allowedResource narrows the resources; defaultResource serves clients that name none', async () => {
    const only = 'http://localhost:4000/web-search/mcp';
    const narrow = await startDevAuthorizationServer({
      resourceId: 'res_narrow',
      allowedResource: (resource) => resource === only,
      defaultResource: only,
      m2mClient: M2M,
      accessTokenTtlSeconds: 120,
      onServerError: (error) => serverErrors.push(error),
    });
    try {
      const token = (body: Record<string, string>) =>
        fetch(`${narrow.issuer}/oauth/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(M2M.clientId, M2M.clientSecret) },
          body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'web-search:read', ...body }),
        });
      const otherLoopback = await token({ resource: MCP_RESOURCE });
      expect(otherLoopback.status).toBe(400);
      expect(await otherLoopback.json()).toMatchObject({ error: 'invalid_target' });

      const unnamed = await token({});
      expect(unnamed.status).toBe(200);
      const { access_token: accessToken, expires_in: expiresIn } = (await unnamed.json()) as { access_token: string; expires_in: number };
      expect(expiresIn).toBe(120);
      const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(narrow.jwksUrl)), { issuer: narrow.issuer });
      expect(payload.aud).toEqual([only, 'res_narrow']);
    } finally {
      await narrow.close();
    }
  });

  test('anything but loopback is refused, before listening', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      await expect(startDevAuthorizationServer({ host })).rejects.toThrow(/host must be a loopback address/);
    }
    await expect(startDevAuthorizationServer({ publicHost: 'auth.example.com' })).rejects.toThrow(/publicHost must be a loopback host name/);
    await expect(startDevAuthorizationServer({ scopes: ['openid'] })).rejects.toThrow(/OpenID Connect scope/);
  });

  test('localhost as the public host name: listening on 127.0.0.1 and ::1, URLs in the name of localhost', async () => {
    const v6 = await startDevAuthorizationServer({ publicHost: 'localhost', onServerError: (error) => serverErrors.push(error) });
    try {
      expect(v6.issuer).toBe(`http://localhost:${v6.port}`);
      const [overV4, overV6] = await Promise.all(
        [`http://127.0.0.1:${v6.port}`, `http://[::1]:${v6.port}`].map(async (origin) => {
          const response = await fetch(`${origin}/.well-known/oauth-authorization-server/resources/res_dev`);
          return (await response.json()) as AuthorizationServerMetadata;
        }),
      );
      expect(overV6).toEqual(overV4);
      const v6Metadata = (await discoverAuthorizationServerMetadata(v6.authorizationServerUrl))!;
      expect(v6Metadata).toEqual(overV4);
      expect(v6Metadata).toMatchObject({ issuer: `${v6.issuer}/resources/res_dev`, jwks_uri: `${v6.issuer}/keys` });

      const client = await registerClient(v6.authorizationServerUrl, {
        metadata: v6Metadata,
        clientMetadata: { redirect_uris: [callback.url], token_endpoint_auth_method: 'none' },
      });
      const { authorizationUrl } = await startAuthorization(v6.authorizationServerUrl, {
        metadata: v6Metadata,
        clientInformation: client,
        redirectUrl: callback.url,
        scope: 'web-search:read',
        resource: new URL(MCP_RESOURCE),
      });
      const redirect = await authorize(authorizationUrl);
      expect(redirect.searchParams.get('code')).toEqual(expect.any(String));
      expect(redirect.searchParams.get('iss')).toBe(v6.authorizationServerUrl);
    } finally {
      await v6.close();
    }
  });
});

describe('afterwards', () => {
  test('nothing was printed and nothing failed inside the server', () => {
    expect(printed).toEqual([]);
    expect(serverErrors).toEqual([]);
  });
});
