/**
 * Nothing secret reaches a log. Representative flows run through the local
 * gateway (good calls, every kind of refusal, Tavily failing, registration,
 * discovery, the Tavily key read from SSM and failing to be) while every line
 * the functions write and every gateway access log entry is kept. Then no
 * access token, no 20-character piece of one, no Authorization value and no
 * Tavily key may appear in them. Logs identify callers by sub and client_id and
 * tokens by jti or a short hash: that is checked too, so that a logger writing
 * nowhere cannot pass for a discreet one.
 *
 * The assertions are about content, not format: the log shape may change.
 * Functions log at DEBUG here: a secret must not leak at any level.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { shortHash } from '../../lambda/authorizer/verify-access-token.js';
import type { FunctionName } from '../../lambda/shared/routes.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { startFakeSsm, type FakeSsm } from '../fixtures/fake-ssm.js';
import { startFakeTavily, tavilyError, type Behaviour, type FakeTavily } from '../fixtures/fake-tavily.js';
import { createSigningKey, startTokenIssuer, type TokenIssuer } from '../fixtures/token-issuer.js';
import { unusedLoopbackUrl } from '../unit/helpers/loopback-server.js';
import { base64url, postMcp, rawRequest, type RawHeaders, type RawResponse } from './support.js';

const SSM_PARAMETER = '/web-search-mcp/tavily-api-key';
/** Recognizable, and random per run so that no fixture or source file can contain it by accident. */
const TAVILY_KEY = `tvly-leakcanary-${randomBytes(12).toString('hex')}`;
/** Pieces of secrets this long or longer must not appear anywhere in the logs. */
const WINDOW = 20;

let issuer: TokenIssuer;
let tavily: FakeTavily;
let ssm: FakeSsm;
/** The Tavily key in the environment, as the local stack runs. */
let stack: LocalStack;
/** The Tavily key in SSM, as deployed. */
let ssmStack: LocalStack;
/** An authorization server that cannot be reached: the functions' upstream-failure paths. */
let unreachableStack: LocalStack;

const functionLines: Array<{ name: FunctionName; line: string }> = [];
const accessLines: string[] = [];
/** Every token and Authorization value the flows sent, and the Tavily key. */
const secrets = new Set<string>([TAVILY_KEY]);
/** Token ids the logs should carry for the tokens that were verified. */
const expectedTokenIds = new Set<string>();

beforeAll(async () => {
  issuer = await startTokenIssuer({ audience: () => stack.resourceIdentifier });
  tavily = await startFakeTavily(TAVILY_KEY);
  ssm = await startFakeSsm();
  const common = {
    port: 0,
    hosts: ['127.0.0.1'],
    publicHost: '127.0.0.1',
    authorizationServer: { environmentUrl: issuer.environmentUrl, resourceId: issuer.resourceId },
    tavilyApiBaseUrl: tavily.url,
    onLog: (name: FunctionName, line: string) => functionLines.push({ name, line }),
    onAccessLog: (entry: unknown) => accessLines.push(JSON.stringify(entry)),
  };
  stack = await startLocalStack({ ...common, tavilyApiKey: TAVILY_KEY, extraEnvironment: { LOG_LEVEL: 'DEBUG' } });
  // Tokens carry the first stack's audience; the second one is configured to accept the same.
  ssmStack = await startLocalStack({
    ...common,
    resourceIdentifier: stack.resourceIdentifier,
    tavilyApiKeyParameter: SSM_PARAMETER,
    extraEnvironment: { ...ssm.environment, LOG_LEVEL: 'DEBUG' },
  });
  unreachableStack = await startLocalStack({
    ...common,
    authorizationServer: { environmentUrl: await unusedLoopbackUrl(), resourceId: issuer.resourceId },
    tavilyApiKey: TAVILY_KEY,
    extraEnvironment: { LOG_LEVEL: 'DEBUG' },
  });
});

afterAll(async () => {
  await Promise.all([stack?.close(), ssmStack?.close(), unreachableStack?.close()]);
  await Promise.all([issuer?.close(), tavily?.close(), ssm?.close()]);
});

beforeEach(() => {
  tavily.reset();
  issuer.jwksBehaviour = 'ok';
});

/** Remember a token (and its Bearer header) as secret. */
function secret<T extends string>(token: T): T {
  secrets.add(token);
  secrets.add(`Bearer ${token}`);
  return token;
}

async function mint(options: Parameters<TokenIssuer['mint']>[0] = {}) {
  return secret(await issuer.mint(options));
}

async function send(target: LocalStack, headers: RawHeaders, options?: { query?: string }): Promise<RawResponse> {
  for (const value of Object.values(headers).flat()) secrets.add(value);
  return postMcp(target, headers, options);
}

async function withClient<T>(target: LocalStack, token: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ name: 'log-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(target.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

const search = (client: Client, query = 'log hygiene') => client.callTool({ name: 'web_search', arguments: { query } });

describe('the flows', () => {
  test('good calls: initialize, tools/list, every tool', async () => {
    const token = await mint();
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).jti as string;
    expectedTokenIds.add(jti);
    await withClient(stack, token, async (client) => {
      await client.listTools();
      expect((await search(client)).isError).toBeFalsy();
      expect((await client.callTool({ name: 'web_extract', arguments: { urls: ['https://example.com/a'] } })).isError).toBeFalsy();
      expect((await client.callTool({ name: 'web_crawl', arguments: { url: 'https://example.com' } })).isError).toBeFalsy();
      expect((await client.callTool({ name: 'web_map', arguments: { url: 'https://example.com' } })).isError).toBeFalsy();
    });
    // Machine clients: no sub, no jti; the token is known by its short hash.
    const m2m = await mint({ claims: { sub: undefined, client_id: undefined, azp: 'skc_m2m_client', jti: undefined } });
    expectedTokenIds.add(shortHash(m2m));
    expect((await send(stack, { Authorization: `Bearer ${m2m}` })).status).toBe(200);
  });

  test('every kind of refusal at the gateway and the authorizer', async () => {
    const stranger = await createSigningKey('snk_stranger');
    const refused: Array<[RawHeaders, number]> = [
      [{}, 401],
      [{ Authorization: `Bearer not-a-jwt-${randomBytes(16).toString('hex')}` }, 401],
      [{ Authorization: `Basic ${Buffer.from(`leak-canary-user:${randomBytes(16).toString('hex')}`).toString('base64')}` }, 401],
      [{ Authorization: `Bearer ${await mint({ key: stranger })}` }, 401],
      [{ Authorization: `Bearer ${await mint({ key: await createSigningKey('snk_primary') })}` }, 401],
      [{ Authorization: `Bearer ${await mint({ expiresInSeconds: -600 })}` }, 401],
      [{ Authorization: `Bearer ${await mint({ claims: { aud: ['https://other.example/mcp'] } })}` }, 401],
      [{ Authorization: `Bearer ${await mint({ claims: { iss: 'https://evil.example' } })}` }, 401],
      [{ Authorization: `Bearer ${await mint({ claims: { scope: 'openid profile' } })}` }, 403],
      [{ Authorization: `Bearer ${secret(`${base64url({ alg: 'none' })}.${base64url(issuer.defaultClaims())}.`)}` }, 401],
      [{ Authorization: [`Bearer ${await mint()}`, `Bearer ${await mint()}`] }, 401],
      [{ Authorization: `Bearer ${await mint({ claims: { padding: randomBytes(4500).toString('hex') } })}` }, 401],
      [{ Authorization: `Bearer ${await mint({ claims: { padding: randomBytes(40_000).toString('hex') } })}` }, 431],
    ];
    for (const [headers, status] of refused) expect((await send(stack, headers)).status).toBe(status);

    const inQuery = await mint();
    expect((await send(stack, {}, { query: `?access_token=${inQuery}` })).status).toBe(401);
  });

  test('signing keys unreachable: 503', async () => {
    issuer.jwksBehaviour = 'down';
    await stack.pools.authorizer.recycle();
    expect((await send(stack, { Authorization: `Bearer ${await mint()}` })).status).toBe(503);
    issuer.jwksBehaviour = 'ok';
    await stack.pools.authorizer.recycle();
  });

  test('MCP-level refusals with a good token', async () => {
    const token = await mint();
    const authorization = `Bearer ${token}`;
    const cases: Array<[RawHeaders, string, number]> = [
      [{ Accept: 'application/json' }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), 406],
      [{ 'MCP-Protocol-Version': '1999-01-01' }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), 400],
      [{ Origin: 'https://evil.example' }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), 403],
      [{}, '{"jsonrpc":', 400],
    ];
    for (const [headers, body, status] of cases) {
      const response = await rawRequest(stack.baseUrl, {
        method: 'POST',
        path: '/web-search/mcp',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: authorization, ...headers },
        body,
      });
      expect(response.status).toBe(status);
    }
    const get = await rawRequest(stack.baseUrl, { path: '/web-search/mcp', headers: { Authorization: authorization } });
    expect(get.status).toBe(405);
    await withClient(stack, token, async (client) => {
      expect((await client.callTool({ name: 'web_search', arguments: { query: 42 } })).isError).toBe(true);
      await expect(client.callTool({ name: 'no_such_tool', arguments: {} })).rejects.toThrow();
    });
  });

  test.each<[string, Behaviour]>([
    ['401 (key refused)', tavilyError(401)],
    ['429 (rate limited)', tavilyError(429)],
    ['432 (plan limit)', tavilyError(432)],
    ['500', tavilyError(500)],
    ['400 echoing the request headers back', { kind: 'status', status: 400, body: { detail: { error: `Bad request with Authorization: Bearer ${TAVILY_KEY}` } } }],
    ['200 with a body that is not JSON', { kind: 'raw', status: 200, text: `<html>${TAVILY_KEY}</html>` }],
  ])('Tavily answering %s', async (_why, behaviour) => {
    tavily.always('search', behaviour);
    await withClient(stack, await mint(), async (client) => {
      expect((await search(client)).isError).toBe(true);
    });
  });

  test('registration and discovery', async () => {
    const register = (body: unknown) =>
      rawRequest(stack.baseUrl, { method: 'POST', path: '/oauth/register', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${secret(`reg-${randomBytes(16).toString('hex')}`)}` }, body: JSON.stringify(body) });
    expect((await register({ client_name: 'Log test', redirect_uris: ['http://127.0.0.1:53682/callback'] })).status).toBe(201);
    expect((await register({ client_name: 'Log test', redirect_uris: ['javascript:alert(1)'] })).status).toBe(400);
    expect((await register({ client_name: 'x'.repeat(500), redirect_uris: ['https://app.example/cb'] })).status).toBe(400);
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/web-search/mcp', '/.well-known/oauth-authorization-server']) {
      expect((await rawRequest(stack.baseUrl, { path, headers: { Cookie: `session=${secret(`cookie-${randomBytes(16).toString('hex')}`)}` } })).status).toBe(200);
    }
  });

  test('the authorization server unreachable: metadata, registration and the authorizer fail over', async () => {
    const credentials = { Authorization: `Bearer ${await mint()}`, Cookie: `session=${secret(`cookie-${randomBytes(16).toString('hex')}`)}` };
    expect((await rawRequest(unreachableStack.baseUrl, { path: '/.well-known/oauth-authorization-server', headers: credentials })).status).toBe(502);
    const registration = await rawRequest(unreachableStack.baseUrl, {
      method: 'POST',
      path: '/oauth/register',
      headers: { ...credentials, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_name: 'Log test', redirect_uris: ['http://127.0.0.1:53682/callback'] }),
    });
    expect(registration.status).toBe(503);
    expect((await send(unreachableStack, credentials)).status).toBe(503);
  });

  test('the Tavily key from SSM: missing, not readable, then read and refused by Tavily', async () => {
    const token = await mint();
    await withClient(ssmStack, token, async (client) => {
      expect((await search(client)).isError).toBe(true); // ParameterNotFound
      ssm.parameters.set(SSM_PARAMETER, 'AccessDenied');
      expect((await search(client)).isError).toBe(true);
      ssm.parameters.set(SSM_PARAMETER, TAVILY_KEY);
      expect((await search(client)).isError).toBeFalsy();
      tavily.always('search', tavilyError(401));
      expect((await search(client)).isError).toBe(true);
    });
  });
});

describe('what the logs hold', () => {
  const corpus = () => [...functionLines.map(({ line }) => line), ...accessLines].join('\n');

  test('every function logged, and the gateway logged every request', () => {
    const byFunction = new Set(functionLines.map(({ name }) => name));
    expect([...byFunction].sort()).toEqual(['authorizer', 'mcp', 'metadata', 'register']);
    expect(accessLines.length).toBeGreaterThan(40);
  });

  test('no token, no piece of one, no Authorization value, no Tavily key', () => {
    const text = corpus();
    // Every 20-character piece of the logs, once: then each secret's pieces are looked up, not searched for.
    const pieces = new Set<string>();
    for (let i = 0; i + WINDOW <= text.length; i++) pieces.add(text.slice(i, i + WINDOW));
    const leaks: string[] = [];
    for (const value of secrets) {
      if (value.length < WINDOW) {
        if (value.length >= 12 && text.includes(value)) leaks.push(value);
        continue;
      }
      for (let i = 0; i + WINDOW <= value.length; i++) {
        const piece = value.slice(i, i + WINDOW);
        if (pieces.has(piece)) {
          leaks.push(`${piece}… (from a secret of ${value.length} characters)`);
          break;
        }
      }
    }
    expect(secrets.size).toBeGreaterThan(30);
    expect(leaks).toEqual([]);
    expect(text).not.toContain('tvly-leakcanary');
  });

  test('callers are identified by sub and client_id, tokens by jti or a short hash', () => {
    const text = corpus();
    expect(text).toContain('usr_1234567890');
    expect(text).toContain('skc_client_abc');
    expect(text).toContain('skc_m2m_client');
    for (const tokenId of expectedTokenIds) expect(text).toContain(tokenId);
  });
});
