/**
 * Client ID metadata documents in the embedded authorization server: which
 * client ids are URLs to fetch, the bounds on the fetch, and the checks on the
 * document, each failure with the OAuth error a client would see.
 */
import {
  clientMetadataFromDocument,
  createClientIdMetadataDocumentResolver,
  isClientIdMetadataDocumentUrl,
  isFetchableAddress,
  type ClientIdMetadataDocumentOptions,
  type ResolveHost,
} from '../../../local/client-id-metadata-document.js';
import { startClientMetadataDocumentServer, type ClientMetadataDocumentServer } from '../../fixtures/client-metadata-documents.js';
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

  test.each([
    ['plain http to another host', ['http://evil.example/cb'], 'redirect_uris[0] uses http on a host other than a loopback address'],
    ['a javascript: URI after a good one', ['http://127.0.0.1:9999/callback', 'javascript:alert(1)//'], 'redirect_uris[1] uses the javascript: scheme'],
    ['a fragment', ['https://client.example.com/cb#x'], 'redirect_uris[0] has a fragment'],
    ['eleven of them', Array.from({ length: 11 }, (_, i) => `https://client.example.com/cb${i}`), 'redirect_uris may hold at most 10'],
  ])('redirect URIs as dynamic registration refuses them: %s', (_label, redirectUris, message) => {
    let thrown: unknown;
    try {
      clientMetadataFromDocument(id, documentFor(id, { redirect_uris: redirectUris }), SCOPES);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ error: 'invalid_redirect_uri', message: expect.stringContaining(message) });
  });

  test('redirect URIs dynamic registration accepts pass: https, http on loopback, a private-use scheme', () => {
    const redirectUris = ['https://client.example.com/cb', 'http://localhost:8080/cb', 'com.example.app:/callback'];
    expect(clientMetadataFromDocument(id, documentFor(id, { redirect_uris: redirectUris }), SCOPES).redirect_uris).toEqual(redirectUris);
  });
});

describe('which addresses a document is fetched from', () => {
  test.each([
    '127.0.0.1',
    '127.45.6.7',
    '::1',
    '::ffff:127.0.0.1',
    '93.184.215.14',
    '8.8.8.8',
    '2606:4700:4700::1111',
  ])('%s: fetched (loopback, or globally reachable)', (address) => {
    expect(isFetchableAddress(address)).toBe(true);
  });

  test.each([
    ['0.0.0.0', 'this network (reaches every local interface)'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['100.100.100.200', 'Alibaba Cloud metadata'],
    ['169.254.169.254', 'AWS, GCP, Azure and OCI metadata'],
    ['169.254.1.1', 'link-local'],
    ['168.63.129.16', "Azure's host endpoint"],
    ['192.0.0.10', 'IETF protocol assignments'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::a00:1', 'IPv4-compatible'],
    ['fd00:ec2::254', 'AWS IPv6 metadata'],
    ['fc00::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:a00:1', 'IPv4-mapped private'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of the metadata address'],
    ['2002:a9fe:a9fe::1', '6to4 of the metadata address'],
    ['2001:db8::1', 'documentation'],
    ['metadata.google.internal', 'a name, not an address'],
  ])('%s (%s): never', (address) => {
    expect(isFetchableAddress(address)).toBe(false);
  });
});

describe('the address is checked after resolution, and connected to', () => {
  let documents: ClientMetadataDocumentServer;
  beforeAll(async () => {
    documents = await startClientMetadataDocumentServer();
  });
  afterAll(async () => {
    await documents?.close();
  });

  /** A resolver that answers from a table (never the system's), recording each name asked. */
  function tableResolver(answers: Record<string, readonly string[]>) {
    const asked: string[] = [];
    const resolveHost: ResolveHost = async (hostname) => {
      asked.push(hostname);
      const addresses = answers[hostname];
      if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    return { asked, resolveHost };
  }
  const resolverWith = (options: ClientIdMetadataDocumentOptions) =>
    createClientIdMetadataDocumentResolver(SCOPES, { timeoutMs: 1_000, trustedCertificates: [documents.certificate], ...options });

  test.each([
    ['resolving to the cloud metadata address', 'https://metadata.google.internal/computeMetadata/client.json', ['169.254.169.254']],
    ['resolving to a private address', 'https://intranet.example/client.json', ['10.0.0.1']],
    ['with one private address among public ones', 'https://mixed.example/client.json', ['93.184.215.14', '192.168.1.10']],
    ['with a loopback address and a private one', 'https://split.example/client.json', ['127.0.0.1', '10.0.0.1']],
    ['resolving to AWS IPv6 metadata', 'https://v6.example/client.json', ['fd00:ec2::254']],
    ['resolving to an IPv4-mapped metadata address', 'https://mapped.example/client.json', ['::ffff:169.254.169.254']],
  ])('a name %s: invalid_client, nothing fetched', async (_label, id, addresses) => {
    const { hostname } = new URL(id);
    const { asked, resolveHost } = tableResolver({ [hostname]: addresses });
    const before = documents.fetched.length;
    await expect(resolverWith({ resolveHost }).resolve(id)).rejects.toMatchObject({
      error: 'invalid_client',
      message: expect.stringContaining('which this server does not fetch from'),
    });
    expect(asked).toEqual([hostname]);
    expect(documents.fetched.length).toBe(before);
  });

  test.each([
    'https://169.254.169.254/latest/meta-data/client.json',
    'https://2852039166/client.json', // 169.254.169.254 as one number
    'https://0xa9.254.169.254/client.json',
    'https://10.0.0.1/client.json',
    'https://[fd00:ec2::254]/client.json',
    'https://[::ffff:a9fe:a9fe]/client.json',
    'https://0.0.0.0/client.json',
  ])('the address %s: invalid_client, without resolving or connecting', async (id) => {
    const { asked, resolveHost } = tableResolver({});
    await expect(resolverWith({ resolveHost }).resolve(id)).rejects.toMatchObject({
      error: 'invalid_client',
      message: expect.stringContaining('which this server does not fetch from'),
    });
    expect(asked).toEqual([]);
  });

  test('a name only the given resolver knows is fetched from the address it gave, resolved once per fetch', async () => {
    // cimd.test exists only in this resolver: a fetch that asked the system's resolver instead would fail.
    let answers = 0;
    const resolveHost: ResolveHost = async () => (++answers === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '169.254.169.254', family: 4 }]);
    const id = `https://cimd.test:${new URL(documents.origin).port}/pinned.json`;
    documents.serve('/pinned.json', documentFor(id));
    const cimd = resolverWith({ resolveHost, cacheMs: 0 });
    await expect(cimd.resolve(id)).resolves.toMatchObject({ client_id: id });
    expect(answers).toBe(1);
    expect(documents.fetched.at(-1)).toBe('/pinned.json');
    // A second fetch asks again, and a rebinding answer is refused, not connected to.
    const fetched = documents.fetched.length;
    await expect(cimd.resolve(id)).rejects.toMatchObject({ error: 'invalid_client', message: expect.stringContaining('does not fetch from') });
    expect(answers).toBe(2);
    expect(documents.fetched.length).toBe(fetched);
  });

  test('a name that does not resolve: invalid_client', async () => {
    const { resolveHost } = tableResolver({});
    await expect(resolverWith({ resolveHost }).resolve('https://nowhere.example/client.json')).rejects.toMatchObject({
      error: 'invalid_client',
      message: expect.stringContaining('could not be resolved'),
    });
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

  test('at most maxConcurrentFetches documents at once: another is refused at once (temporarily_unavailable); the same URL shares the fetch', async () => {
    const heldId = `${upstream.url}/held.json`;
    const otherId = `${upstream.url}/other.json`;
    let release!: () => void;
    let arrived!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const heldArrived = new Promise<void>((resolve) => (arrived = resolve));
    upstream.handler = async (request, res) => {
      if (request.path === '/held.json') {
        arrived();
        await held;
        sendJson(res, 200, documentFor(heldId));
      } else sendJson(res, 200, documentFor(otherId));
    };
    const cimd = resolver({ timeoutMs: 30_000, maxConcurrentFetches: 1 });
    const first = cimd.resolve(heldId);
    await heldArrived;
    const sameAgain = cimd.resolve(heldId);
    await expect(cimd.resolve(otherId)).rejects.toMatchObject({ error: 'temporarily_unavailable', message: expect.stringContaining('try again') });
    release();
    await expect(first).resolves.toMatchObject({ client_id: heldId });
    await expect(sameAgain).resolves.toMatchObject({ client_id: heldId });
    expect(upstream.requests.filter((request) => request.path === '/held.json')).toHaveLength(1);
    // Once the fetch is done, the next one goes ahead.
    await expect(cimd.resolve(otherId)).resolves.toMatchObject({ client_id: otherId });
  });

  test('http loopback ids are not fetched when not allowed', async () => {
    const before = upstream.requests.length;
    await expect(resolver({ allowHttpLoopback: false }).resolve(`${upstream.url}/client.json`)).resolves.toBeUndefined();
    expect(upstream.requests.length).toBe(before);
  });
});
