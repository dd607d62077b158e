/**
 * Client ID metadata documents in the embedded authorization server: which
 * client ids are URLs to fetch, the bounds on the fetch, and the checks on the
 * document, each failure with the OAuth error a client would see.
 */
import {
  clientMetadataFromDocument,
  createClientIdMetadataDocumentResolver,
  isClientIdMetadataDocumentUrl,
} from '../../../local/client-id-metadata-document.js';
import { sendJson, startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.js';

const SCOPES = new Set(['web-search:read']);
let upstream: LoopbackServer;

beforeAll(async () => {
  upstream = await startLoopbackServer();
});
afterAll(async () => {
  await upstream.close();
});

const documentFor = (clientId: string, extra: Record<string, unknown> = {}) => ({
  client_id: clientId,
  client_name: 'Example',
  redirect_uris: ['http://127.0.0.1:9999/callback'],
  token_endpoint_auth_method: 'none',
  ...extra,
});

describe('which client ids are metadata document URLs', () => {
  test.each([
    ['https://client.example.com/oauth/metadata.json', true],
    ['https://client.example.com/metadata?v=1', true],
    ['http://127.0.0.1:8080/client.json', true],
    ['http://localhost:8080/client.json', true],
    ['http://[::1]:8080/client.json', true],
    ['http://client.example.com/client.json', false], // http off loopback
    ['https://client.example.com', false], // no path
    ['https://client.example.com/', false],
    ['https://client.example.com/a#frag', false],
    ['https://user:pass@client.example.com/a', false],
    ['https://client.example.com/a/../b', false],
    ['https://client.example.com/a/%2e%2e/b', false],
    ['https://client.example.com/a b', false],
    ['ftp://client.example.com/a', false],
    ['3f1c0d2e-dcr-issued-id', false],
  ])('%s → %s', (id, expected) => {
    expect(isClientIdMetadataDocumentUrl(id)).toBe(expected);
  });

  test('http loopback ids can be refused', () => {
    expect(isClientIdMetadataDocumentUrl('http://127.0.0.1:8080/client.json', { allowHttpLoopback: false })).toBe(false);
  });
});

describe('the document', () => {
  const id = 'https://client.example.com/client.json';

  test('a good document becomes a public authorization-code client', () => {
    expect(clientMetadataFromDocument(id, documentFor(id, { scope: 'web-search:read unknown:scope', grant_types: ['authorization_code', 'refresh_token', 'implicit'] }), SCOPES)).toEqual({
      client_id: id,
      client_name: 'Example',
      redirect_uris: ['http://127.0.0.1:9999/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'web-search:read',
    });
  });

  test.each([
    ['not an object', [], 'not a JSON object'],
    ['another client_id', documentFor('https://client.example.com/other.json'), 'client_id'],
    ['a secret', documentFor(id, { client_secret: 's3cret' }), 'client_secret'],
    ['a shared-secret auth method', documentFor(id, { token_endpoint_auth_method: 'client_secret_basic' }), 'shared secret'],
    ['private_key_jwt', documentFor(id, { token_endpoint_auth_method: 'private_key_jwt' }), '"none"'],
    ['no redirect_uris', documentFor(id, { redirect_uris: [] }), 'redirect_uris'],
    ['no authorization_code grant', documentFor(id, { grant_types: ['client_credentials'] }), 'authorization_code'],
  ])('refused: %s', (_label, document, message) => {
    expect(() => clientMetadataFromDocument(id, document, SCOPES)).toThrow(message);
  });
});

describe('the fetch', () => {
  const resolver = (options = {}) => createClientIdMetadataDocumentResolver(SCOPES, { timeoutMs: 300, maxBytes: 2048, ...options });

  test('fetched once, then cached; other ids answer undefined without a fetch', async () => {
    const id = `${upstream.url}/cached.json`;
    upstream.handler = (_request, res) => sendJson(res, 200, documentFor(id));
    const before = upstream.requests.length;
    const cimd = resolver();
    await expect(cimd.resolve(id)).resolves.toMatchObject({ client_id: id });
    await expect(cimd.resolve(id)).resolves.toMatchObject({ client_id: id });
    await expect(cimd.resolve('dcr-client-id')).resolves.toBeUndefined();
    expect(upstream.requests.length).toBe(before + 1);
    expect(upstream.requests.at(-1)!.headers.accept).toBe('application/json');
  });

  test('a document over the size bound is refused, declared or streamed', async () => {
    const id = `${upstream.url}/big.json`;
    upstream.handler = (_request, res) => sendJson(res, 200, documentFor(id, { padding: 'x'.repeat(4096) }));
    await expect(resolver().resolve(id)).rejects.toMatchObject({ error: 'invalid_client_metadata', message: expect.stringContaining('larger than 2048') });
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(`{"client_id":"${id}","padding":"`);
      res.end(`${'x'.repeat(4096)}"}`);
    };
    await expect(resolver().resolve(id)).rejects.toMatchObject({ error: 'invalid_client_metadata' });
  });

  test('a server that does not answer in time is invalid_client', async () => {
    const id = `${upstream.url}/slow.json`;
    upstream.handler = () => undefined; // never answers
    await expect(resolver().resolve(id)).rejects.toMatchObject({ error: 'invalid_client', message: expect.stringContaining('300 ms') });
  });

  test('redirects are not followed; other statuses and non-JSON are refused', async () => {
    const id = `${upstream.url}/moved.json`;
    upstream.handler = (_request, res) => {
      res.writeHead(302, { Location: `${upstream.url}/elsewhere.json` });
      res.end();
    };
    await expect(resolver().resolve(id)).rejects.toMatchObject({ error: 'invalid_client', message: expect.stringContaining('HTTP 302') });
    upstream.handler = (_request, res) => sendJson(res, 404, { error: 'not_found' });
    await expect(resolver().resolve(id)).rejects.toMatchObject({ error: 'invalid_client' });
    upstream.handler = (_request, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>');
    };
    await expect(resolver().resolve(id)).rejects.toMatchObject({ error: 'invalid_client_metadata', message: expect.stringContaining('not JSON') });
  });

  test('http loopback ids are not fetched when not allowed', async () => {
    const before = upstream.requests.length;
    await expect(resolver({ allowHttpLoopback: false }).resolve(`${upstream.url}/client.json`)).resolves.toBeUndefined();
    expect(upstream.requests.length).toBe(before);
  });
});
