/**
 * The metadata and register functions call the authorization server on behalf
 * of anyone on the internet. They must not be open relays: nothing a client
 * sends (headers, path, query, body) may change where they connect or what
 * headers go upstream; nothing upstream sends besides the document itself may
 * come back (cookies, hop-by-hop headers, internal error details); and bodies
 * are capped both ways. Proven through the local gateway against a loopback
 * authorization server that records every request, next to a loopback decoy
 * that every steering attempt names and that must never be contacted.
 */
import type { ServerResponse } from 'node:http';
import { REGISTRATION_LIMITS } from '../../lambda/register/registration-proxy.js';
import { AS_METADATA_DEFAULTS } from '../../lambda/shared/authorization-server-metadata.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { sendJson, startLoopbackServer, type LoopbackServer, type RecordedRequest } from '../unit/helpers/loopback-server.js';
import { json, rawRequest, type RawHeaders, type RawResponse } from './support.js';

const RESOURCE_ID = 'res_proxy';
const AS_METADATA_PATH = `/resources/${RESOURCE_ID}/.well-known/oauth-authorization-server`;
const REGISTRATION_PATH = `/resources/${RESOURCE_ID}/register`;
/** Set on everything the upstream answers, so that any of it reaching the client is easy to spot. */
const UPSTREAM_MARKER = 'upstream-internal-7f3a';
/** Sent by the client in every header it should not be able to pass upstream. */
const CLIENT_MARKER = 'client-secret-91c2';

/** Headers a well-behaved fetch sends on its own; anything else upstream would have come from the client. */
const FETCH_OWN_HEADERS = new Set([
  'host',
  'connection',
  'content-type',
  'content-length',
  'accept',
  'accept-language',
  'accept-encoding',
  'sec-fetch-mode',
  'user-agent',
]);

/** Response headers that are the gateway's, the function's own, or CORS by our policy. */
const OUR_RESPONSE_HEADERS = new Set([
  'content-type',
  'content-length',
  'cache-control',
  'pragma',
  'vary',
  'warning',
  'retry-after',
  'x-amzn-requestid',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'access-control-allow-origin',
  'access-control-expose-headers',
]);

/** Hop-by-hop and other headers an upstream answer carries that must stop at the function. */
const UPSTREAM_HEADERS = {
  'Set-Cookie': [`session=${UPSTREAM_MARKER}; HttpOnly; Path=/`, `csrf=${UPSTREAM_MARKER}`],
  'Keep-Alive': 'timeout=99, max=7',
  'Proxy-Authenticate': `Basic realm="${UPSTREAM_MARKER}"`,
  'Proxy-Connection': 'keep-alive',
  Trailer: 'X-Checksum',
  Upgrade: 'h2c',
  'X-Upstream-Marker': UPSTREAM_MARKER,
  'Strict-Transport-Security': 'max-age=1',
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Credentials': 'true',
  'WWW-Authenticate': `Bearer realm="${UPSTREAM_MARKER}"`,
  Server: UPSTREAM_MARKER,
};

type MetadataBehaviour = 'ok' | 'failing' | 'huge' | 'not_json';
type RegistrationBehaviour = 'created' | 'refused' | 'failing' | 'huge' | 'not_json';

let authorizationServer: LoopbackServer;
let decoy: LoopbackServer;
let stack: LocalStack;
let metadataBehaviour: MetadataBehaviour = 'ok';
let registrationBehaviour: RegistrationBehaviour = 'created';

function answer(res: ServerResponse, status: number, body: unknown) {
  sendJson(res, status, body, UPSTREAM_HEADERS);
}

function asMetadata() {
  const base = authorizationServer.url;
  return {
    issuer: `${base}/resources/${RESOURCE_ID}`,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    registration_endpoint: `${base}${REGISTRATION_PATH}`,
    jwks_uri: `${base}/keys`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
  };
}

function serveAuthorizationServer(request: RecordedRequest, res: ServerResponse): void {
  if (request.path === AS_METADATA_PATH) {
    switch (metadataBehaviour) {
      case 'ok':
        return answer(res, 200, asMetadata());
      case 'failing':
        return answer(res, 500, { error: 'internal', detail: `database down at 10.0.0.7 (${UPSTREAM_MARKER})` });
      case 'huge':
        return answer(res, 200, { ...asMetadata(), padding: UPSTREAM_MARKER.repeat(AS_METADATA_DEFAULTS.maxResponseBytes / UPSTREAM_MARKER.length + 1) });
      case 'not_json':
        res.writeHead(200, { 'Content-Type': 'text/html', 'X-Upstream-Marker': UPSTREAM_MARKER });
        res.end(`<html>${UPSTREAM_MARKER}</html>`);
        return;
    }
  }
  if (request.path === REGISTRATION_PATH && request.method === 'POST') {
    switch (registrationBehaviour) {
      case 'created':
        return answer(res, 201, { ...JSON.parse(request.body), client_id: 'skc_registered', client_id_issued_at: 1_900_000_000 });
      case 'refused':
        return answer(res, 400, {
          error: 'invalid_client_metadata',
          error_description: 'logo_uri is not allowed',
          trace_id: UPSTREAM_MARKER,
          stack: `Error: refused\n    at register (/srv/app/${UPSTREAM_MARKER}.js:1:1)`,
        });
      case 'failing':
        return answer(res, 500, { error: 'server_error', error_description: `pool exhausted at 10.0.0.7 (${UPSTREAM_MARKER})` });
      case 'huge':
        return answer(res, 201, { client_id: 'skc_big', padding: UPSTREAM_MARKER.repeat(REGISTRATION_LIMITS.maxResponseBytes / UPSTREAM_MARKER.length + 1) });
      case 'not_json':
        res.writeHead(201, { 'Content-Type': 'text/plain', 'Set-Cookie': `s=${UPSTREAM_MARKER}` });
        res.end(`created ${UPSTREAM_MARKER}`);
        return;
    }
  }
  answer(res, 404, { error: 'not_found' });
}

beforeAll(async () => {
  authorizationServer = await startLoopbackServer(serveAuthorizationServer);
  decoy = await startLoopbackServer((_request, res) => sendJson(res, 200, { registration_endpoint: 'http://127.0.0.1:9/steered' }));
  stack = await startLocalStack({
    port: 0,
    hosts: ['127.0.0.1'],
    publicHost: '127.0.0.1',
    authorizationServer: { environmentUrl: authorizationServer.url, resourceId: RESOURCE_ID },
    onLog: () => undefined,
  });
});

afterAll(async () => {
  await stack?.close();
  await Promise.all([authorizationServer?.close(), decoy?.close()]);
});

beforeEach(async () => {
  metadataBehaviour = 'ok';
  registrationBehaviour = 'created';
  // Fresh instances: each request below makes the functions fetch the metadata anew, under its own headers.
  await Promise.all([stack.pools.metadata.recycle(), stack.pools.register.recycle()]);
  authorizationServer.requests.length = 0;
});

afterEach(() => {
  expect(decoy.requests).toEqual([]);
});

const decoyHost = () => new URL(decoy.url).host;
const goodMetadata = () => ({ client_name: 'Proxy test', redirect_uris: ['http://127.0.0.1:53682/callback'] });

function register(body: unknown, { headers = {}, path = '/oauth/register' }: { headers?: RawHeaders; path?: string } = {}) {
  return rawRequest(stack.baseUrl, {
    method: 'POST',
    path,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function getMetadata({ headers = {}, path = '/.well-known/oauth-authorization-server' }: { headers?: RawHeaders; path?: string } = {}) {
  return rawRequest(stack.baseUrl, { path, headers });
}

/** Every request the authorization server received: where it went and which headers it carried. */
function expectOnlyFixedUpstreamCalls(allowedPaths: readonly string[]) {
  const upstreamHost = new URL(authorizationServer.url).host;
  for (const request of authorizationServer.requests) {
    expect(allowedPaths).toContain(request.path);
    expect(request.headers.host).toBe(upstreamHost);
    expect(Object.keys(request.headers).filter((name) => !FETCH_OWN_HEADERS.has(name))).toEqual([]);
    expect(JSON.stringify(request.headers)).not.toContain(CLIENT_MARKER);
    expect(request.headers.cookie).toBeUndefined();
    expect(request.headers.authorization).toBeUndefined();
  }
}

/** Nothing of the upstream's own headers in what the client gets. */
function expectNoUpstreamHeaders(response: RawResponse) {
  expect(Object.keys(response.headers).filter((name) => !OUR_RESPONSE_HEADERS.has(name))).toEqual([]);
  expect(response.headers['set-cookie']).toBeUndefined();
  expect(response.headers['keep-alive']).not.toBe(UPSTREAM_HEADERS['Keep-Alive']);
  expect(JSON.stringify(response.headers)).not.toContain(UPSTREAM_MARKER);
  expect(response.headers['access-control-allow-origin']).toBeUndefined();
}

/** What each steering attempt adds to an otherwise ordinary request. */
interface SteeringAttempt {
  readonly name: string;
  readonly headers?: () => RawHeaders;
  /** The request target, relative to the route's path. */
  readonly target?: (routePath: string) => string;
  /** Fields added to the registration body. */
  readonly fields?: () => Record<string, unknown>;
}

const steeringAttempts: SteeringAttempt[] = [
  { name: 'Host: the decoy', headers: () => ({ Host: decoyHost() }) },
  { name: 'X-Forwarded-Host: the decoy', headers: () => ({ 'X-Forwarded-Host': decoyHost(), 'X-Forwarded-Proto': 'http', 'X-Forwarded-Port': new URL(decoy.url).port }) },
  { name: 'Forwarded: host=the decoy', headers: () => ({ Forwarded: `for=203.0.113.9;host=${decoyHost()};proto=http` }) },
  { name: 'X-Original-URL: a decoy URL', headers: () => ({ 'X-Original-URL': `${decoy.url}/steered` }) },
  { name: 'X-Rewrite-URL: a decoy URL', headers: () => ({ 'X-Rewrite-URL': `${decoy.url}/steered` }) },
  { name: 'X-Host and X-HTTP-Host-Override: the decoy', headers: () => ({ 'X-Host': decoyHost(), 'X-HTTP-Host-Override': decoyHost(), 'X-Forwarded-Server': decoyHost() }) },
  { name: 'a query naming the decoy', target: (path) => `${path}?registration_endpoint=${encodeURIComponent(decoy.url)}&url=${encodeURIComponent(decoy.url)}&target=${decoyHost()}` },
  { name: 'a scheme-relative request target through the decoy', target: (path) => `//${decoyHost()}${path}` },
  { name: 'an absolute-form request target on the decoy', target: (path) => `${decoy.url}${path}` },
  { name: 'a fragment naming the decoy', target: (path) => `${path}#@${decoyHost()}` },
  {
    name: 'body fields naming the decoy',
    // URI fields the authorization server would fetch (jwks_uri, sector_identifier_uri, request_uris...)
    // are refused outright by the registration policy (test/security/registration-policy.test.ts).
    fields: () => ({ registration_endpoint: `${decoy.url}/register`, software_id: `${decoy.url}/software` }),
  },
];

describe('nothing a client sends steers where the functions connect', () => {
  test.each(steeringAttempts.map((attempt) => [attempt.name, attempt] as const))('%s', async (_name, attempt) => {
    const headers = { ...attempt.headers?.(), Cookie: `session=${CLIENT_MARKER}`, Authorization: `Bearer ${CLIENT_MARKER}` };

    const metadata = await getMetadata({ headers, path: attempt.target?.('/.well-known/oauth-authorization-server') });
    expect(metadata.status).toBe(200);
    // The discovery document is not poisoned either: it names this API, not whatever Host said.
    expect(json(metadata)).toMatchObject({ issuer: asMetadata().issuer, registration_endpoint: `${stack.baseUrl}/oauth/register` });

    const prm = await rawRequest(stack.baseUrl, { path: attempt.target?.('/.well-known/oauth-protected-resource') ?? '/.well-known/oauth-protected-resource', headers });
    expect(prm.status).toBe(200);
    expect(json(prm)).toMatchObject({ resource: stack.resourceIdentifier });

    const registration = await register({ ...goodMetadata(), ...attempt.fields?.() }, { headers, path: attempt.target?.('/oauth/register') });
    expect(registration.status).toBe(201);
    expect(json(registration)).toMatchObject({ client_id: 'skc_registered' });

    expectOnlyFixedUpstreamCalls([AS_METADATA_PATH, REGISTRATION_PATH]);
    // Both fresh instances fetched the metadata, and the registration went where it names.
    expect(authorizationServer.requests.map((request) => `${request.method} ${request.path}`).sort()).toEqual(
      [`GET ${AS_METADATA_PATH}`, `GET ${AS_METADATA_PATH}`, `POST ${REGISTRATION_PATH}`].sort(),
    );
  });
});

describe('only fixed headers go upstream', () => {
  const clientHeaders: RawHeaders = {
    Cookie: `session=${CLIENT_MARKER}`,
    Authorization: `Bearer ${CLIENT_MARKER}`,
    'X-Forwarded-For': '203.0.113.9',
    'X-Forwarded-Host': `${CLIENT_MARKER}.example`,
    'X-Forwarded-Proto': 'http',
    'X-Real-IP': '203.0.113.9',
    'X-Amz-Security-Token': CLIENT_MARKER,
    'X-Api-Key': CLIENT_MARKER,
    'Proxy-Authorization': `Basic ${CLIENT_MARKER}`,
    'User-Agent': `evil-client/${CLIENT_MARKER}`,
    Origin: 'http://localhost:6274',
    Referer: `https://${CLIENT_MARKER}.example/`,
    'X-Custom': CLIENT_MARKER,
  };

  test('the metadata fetch and the registration carry none of the client\'s headers', async () => {
    expect((await getMetadata({ headers: clientHeaders })).status).toBe(200);
    expect((await register(goodMetadata(), { headers: clientHeaders })).status).toBe(201);
    expect(authorizationServer.requests.length).toBeGreaterThanOrEqual(2);
    expectOnlyFixedUpstreamCalls([AS_METADATA_PATH, REGISTRATION_PATH]);
    const registration = authorizationServer.requests.find((request) => request.path === REGISTRATION_PATH)!;
    expect(registration.headers['content-type']).toBe('application/json');
    expect(registration.headers.accept).toBe('application/json');
    expect(registration.headers['user-agent']).not.toContain(CLIENT_MARKER);
    // The body is the parsed metadata re-serialized: the fields sent, and `none` for a client that named no method.
    expect(JSON.parse(registration.body)).toEqual({ token_endpoint_auth_method: 'none', ...goodMetadata() });
  });
});

describe("nothing of the upstream's headers comes back", () => {
  test('the proxied authorization server metadata', async () => {
    const response = await getMetadata();
    expect(response.status).toBe(200);
    expectNoUpstreamHeaders(response);
  });

  test.each<[RegistrationBehaviour, number]>([
    ['created', 201],
    ['refused', 400],
    ['failing', 502],
    ['not_json', 502],
  ])('a registration answered %s', async (behaviour, status) => {
    registrationBehaviour = behaviour;
    const response = await register(goodMetadata());
    expect(response.status).toBe(status);
    expectNoUpstreamHeaders(response);
  });
});

describe('upstream errors come back in RFC 7591 / RFC 6749 form, without upstream internals', () => {
  function expectOAuthError(response: RawResponse, status: number, error: string) {
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json');
    const body = json(response);
    expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
    expect(body.error).toBe(error);
    expect(typeof body.error_description).toBe('string');
    expect(response.body).not.toContain(UPSTREAM_MARKER);
    expect(response.body).not.toContain('10.0.0.7');
  }

  test('a registration refused upstream: its error and description only', async () => {
    registrationBehaviour = 'refused';
    const response = await register(goodMetadata());
    expectOAuthError(response, 400, 'invalid_client_metadata');
    expect(json(response).error_description).toBe('logo_uri is not allowed');
  });

  test.each<[RegistrationBehaviour, string]>([
    ['failing', 'a 500 with internal details'],
    ['not_json', 'an answer that is not JSON'],
  ])('the registration endpoint answering %s: 502 server_error', async (behaviour) => {
    registrationBehaviour = behaviour;
    expectOAuthError(await register(goodMetadata()), 502, 'server_error');
  });

  test.each<[MetadataBehaviour, string]>([
    ['failing', 'failing with internal details'],
    ['not_json', 'not JSON'],
  ])('authorization server metadata %s: the metadata route 502, registration 503 with Retry-After', async (behaviour) => {
    metadataBehaviour = behaviour;
    const metadata = await getMetadata();
    expectOAuthError(metadata, 502, 'temporarily_unavailable');
    expect(metadata.headers['retry-after']).toBe('5');
    expectNoUpstreamHeaders(metadata);

    const registration = await register(goodMetadata());
    expectOAuthError(registration, 503, 'temporarily_unavailable');
    expect(registration.headers['retry-after']).toBe('5');
    expect(authorizationServer.requests.filter((request) => request.path === REGISTRATION_PATH)).toEqual([]);
  });
});

describe('bodies are capped both ways', () => {
  test(`a registration over ${REGISTRATION_LIMITS.maxRequestBytes} bytes: 413, nothing sent upstream`, async () => {
    const oversized = { ...goodMetadata(), software_statement: 'x'.repeat(REGISTRATION_LIMITS.maxRequestBytes) };
    const response = await register(oversized);
    expect(response.status).toBe(413);
    expect(json(response)).toMatchObject({ error: 'invalid_client_metadata' });
    expect(authorizationServer.requests).toEqual([]);
  });

  test(`a registration answer over ${REGISTRATION_LIMITS.maxResponseBytes} bytes: 502, none of it relayed`, async () => {
    registrationBehaviour = 'huge';
    const response = await register(goodMetadata());
    expect(response.status).toBe(502);
    expect(json(response)).toMatchObject({ error: 'server_error' });
    expect(response.body).not.toContain(UPSTREAM_MARKER);
  });

  test(`authorization server metadata over ${AS_METADATA_DEFAULTS.maxResponseBytes} bytes: 502, none of it relayed`, async () => {
    metadataBehaviour = 'huge';
    const response = await getMetadata();
    expect(response.status).toBe(502);
    expect(json(response)).toMatchObject({ error: 'temporarily_unavailable' });
    expect(response.body).not.toContain(UPSTREAM_MARKER);
  });

  test('a refused registration never reaches upstream, not even for the metadata', async () => {
    const response = await register({ ...goodMetadata(), redirect_uris: [`${decoy.url.replace('http:', 'javascript:')}`] });
    expect(response.status).toBe(400);
    expect(json(response)).toMatchObject({ error: 'invalid_redirect_uri' });
    expect(authorizationServer.requests).toEqual([]);
  });
});
