/**
 * The client matrix, MCP TypeScript SDK v2 (`@modelcontextprotocol/client`
 * 2.4.0) against `npm run dev`'s stack on its embedded authorization server.
 * From the 401 onwards everything is the SDK's own OAuth: discovery with the
 * RFC 8414 issuer check, registration (DCR, or a client ID metadata document
 * served over https on loopback), PKCE, the RFC 9207 check of `iss` on the
 * authorization response, token exchange; then tools/list and a tools/call
 * answered by the fake Tavily. Machine clients use its ClientCredentialsProvider.
 * Only the HTTP surface is relied on, not the server's internals.
 */
import { Client, ClientCredentialsProvider, IssuerMismatchError, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { decodeJwt } from 'jose';
import { startDevStack, type DevStack } from '../../local/dev-stack.js';
import { startClientMetadataDocumentServer, type ClientMetadataDocumentServer } from '../fixtures/client-metadata-documents.js';
import { startFakeTavily, type FakeTavily } from '../fixtures/fake-tavily.js';
import { V2HeadlessOAuthClient } from './v2-headless-oauth-client.js';

const REDIRECT_URL = 'http://127.0.0.1:53683/callback';
const CLIENT_METADATA = {
  client_name: 'v2 matrix client',
  redirect_uris: [REDIRECT_URL],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
};

let tavily: FakeTavily;
let documents: ClientMetadataDocumentServer;
let dev: DevStack;
const accessLog: Array<{ method: string; path: string; status: number }> = [];

beforeAll(async () => {
  tavily = await startFakeTavily();
  documents = await startClientMetadataDocumentServer();
  dev = await startDevStack(
    { TAVILY_API_KEY: tavily.apiKey, TAVILY_API_BASE_URL: tavily.url },
    {
      port: 0,
      devAuthPort: 0,
      hosts: ['127.0.0.1'],
      publicHost: '127.0.0.1',
      onLog: () => undefined,
      onAccessLog: (entry) => accessLog.push(entry),
      clientIdMetadataDocuments: { trustedCertificates: [documents.certificate] },
    },
  );
});

afterAll(async () => {
  await dev?.close();
  await documents?.close();
  await tavily?.close();
});

const mcpUrl = () => new URL(dev.stack.mcpUrl);
const newClient = () => new Client({ name: 'v2-matrix', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });

/** The SDK's interactive flow: connect, get sent to authorize, hand back the whole callback, connect again. */
async function authorizeAndConnect(provider: V2HeadlessOAuthClient): Promise<Client> {
  const first = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
  await expect(newClient().connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.callback?.get('code')).toEqual(expect.any(String));
  // The callback as a browser would deliver it: the SDK checks `iss` (RFC 9207) before redeeming the code.
  await first.finishAuth(provider.callback!);
  const client = newClient();
  await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
  return client;
}

async function listAndSearch(client: Client, query: string) {
  // 'auto' mode probed with server/discover and found the modern era: no initialize fallback.
  expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  const { tools } = await client.listTools();
  expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['web_search', 'web_extract', 'web_crawl', 'web_map']));
  const before = tavily.requests.length;
  const result = await client.callTool({ name: 'web_search', arguments: { query, max_results: 2 } });
  expect(result.isError).toBeFalsy();
  expect((result.structuredContent as { results: unknown[] }).results).toHaveLength(2);
  expect(JSON.stringify(result.content)).toContain(query);
  expect(tavily.requests.length).toBe(before + 1);
  expect(tavily.requests.at(-1)!.headers.authorization).toBe(`Bearer ${tavily.apiKey}`);
}

async function advertisedMetadata() {
  const prm = await (await fetch(dev.stack.protectedResourceMetadataUrl)).json();
  const [issuer] = prm.authorization_servers as string[];
  const metadata = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
  return { prm, issuer: issuer!, metadata };
}

test('the advertised authorization server is self-consistent (RFC 8414 3.3, RFC 9207) and keeps offline_access out of the resource metadata', async () => {
  const { prm, issuer, metadata } = await advertisedMetadata();
  expect(metadata.issuer).toBe(issuer);
  expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
  expect(metadata.client_id_metadata_document_supported).toBe(true);
  expect(metadata.token_endpoint_auth_methods_supported).toContain('none');
  expect(prm.scopes_supported).not.toContain('offline_access');
  const challenge = await fetch(mcpUrl(), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  expect(challenge.status).toBe(401);
  expect(challenge.headers.get('www-authenticate')).not.toContain('offline_access');
});

test('authorization code + PKCE through DCR, with the RFC 9207 iss check; refresh token because it asked for offline_access', async () => {
  const provider = new V2HeadlessOAuthClient(REDIRECT_URL, CLIENT_METADATA);
  const client = await authorizeAndConnect(provider);
  try {
    const { issuer } = await advertisedMetadata();
    expect(provider.callback!.get('iss')).toBe(issuer);
    const authorization = provider.authorizationUrls[0]!;
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('resource')).toBe(dev.stack.mcpUrl);
    // The SDK adds offline_access because the AS metadata lists it and the client may refresh.
    expect(authorization.searchParams.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['web-search:read', 'offline_access']));
    expect(provider.clientInformation()?.client_id).not.toMatch(/^https?:/);
    expect(provider.tokens()?.refresh_token).toEqual(expect.any(String));
    const claims = decodeJwt(provider.tokens()!.access_token);
    expect(claims.aud).toEqual([dev.stack.mcpUrl, 'res_dev']);
    expect(claims.iss).toBe(dev.devAuthorizationServer!.url);
    await listAndSearch(client, 'v2 client through dcr');
  } finally {
    await client.close();
  }
});

test('the SDK really checks iss: a callback naming another issuer is refused before the code is redeemed', async () => {
  const provider = new V2HeadlessOAuthClient(REDIRECT_URL, CLIENT_METADATA);
  const transport = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
  await expect(newClient().connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  const forged = new URLSearchParams(provider.callback!);
  forged.set('iss', dev.devAuthorizationServer!.url); // the environment root: what this server used to send
  await expect(transport.finishAuth(forged)).rejects.toBeInstanceOf(IssuerMismatchError);
  expect(provider.tokens()).toBeUndefined();
  // The genuine callback still works: the code was not spent on the forged one.
  await transport.finishAuth(provider.callback!);
  expect(provider.tokens()?.access_token).toEqual(expect.any(String));
});

test('authorization code + PKCE with a client ID metadata document served over https on loopback', async () => {
  const clientId = documents.serve('/clients/v2-matrix.json', {
    client_id: `${documents.origin}/clients/v2-matrix.json`,
    client_name: 'v2 matrix client (CIMD)',
    redirect_uris: [REDIRECT_URL],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  });
  const provider = new V2HeadlessOAuthClient(REDIRECT_URL, CLIENT_METADATA, clientId);
  const registrations = accessLog.filter((entry) => entry.path.endsWith('/register')).length;
  const client = await authorizeAndConnect(provider);
  try {
    expect(provider.clientInformation()?.client_id).toBe(clientId);
    expect(provider.authorizationUrls[0]!.searchParams.get('client_id')).toBe(clientId);
    expect(documents.fetched).toContain('/clients/v2-matrix.json');
    expect(accessLog.filter((entry) => entry.path.endsWith('/register')).length).toBe(registrations);
    expect(decodeJwt(provider.tokens()!.access_token).client_id).toBe(clientId);
    await listAndSearch(client, 'v2 client through cimd');
  } finally {
    await client.close();
  }
});

test('a metadata document whose redirect_uris do not include the redirect is refused', async () => {
  const clientId = documents.serve('/clients/elsewhere.json', {
    client_id: `${documents.origin}/clients/elsewhere.json`,
    redirect_uris: ['http://127.0.0.1:1/somewhere-else'],
    token_endpoint_auth_method: 'none',
  });
  const provider = new V2HeadlessOAuthClient(REDIRECT_URL, CLIENT_METADATA, clientId);
  await expect(newClient().connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }))).rejects.toThrow(
    /without a redirect|redirect_uri/,
  );
  expect(provider.tokens()).toBeUndefined();
});

test('client credentials with the SDK v2 ClientCredentialsProvider', async () => {
  const { clientId, clientSecret, authorizationServerUrl } = dev.devAuthorizationServer!;
  const provider = new ClientCredentialsProvider({ clientId, clientSecret, scope: 'web-search:read', expectedIssuer: authorizationServerUrl });
  const client = newClient();
  await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
  try {
    const claims = decodeJwt(provider.tokens()!.access_token);
    expect(claims.client_id).toBe(clientId);
    expect(provider.tokens()!.refresh_token).toBeUndefined();
    await listAndSearch(client, 'v2 machine client');
  } finally {
    await client.close();
  }
});
