/**
 * Browser-based MCP clients: CORS preflight on every route without a token,
 * Access-Control-Allow-Origin for allowed origins only, the headers a client
 * must read exposed, gateway responses with the same CORS headers, and a
 * foreign Origin refused by the MCP endpoint (MCP transport spec).
 */
import { routePaths, methodsAt } from '../../lambda/shared/routes.js';
import type { LocalStack } from '../../local/stack.js';
import type { FakeTavily } from '../fixtures/fake-tavily.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import type { TokenIssuer } from '../fixtures/token-issuer.js';

const ALLOWED = 'http://localhost:6274';
const FOREIGN = 'https://evil.example.com';
let running: TestStack;
let issuer: TokenIssuer;
let tavily: FakeTavily;
let stack: LocalStack;

beforeAll(async () => {
  running = await startTestStack();
  ({ issuer, tavily, stack } = running);
});

afterAll(() => running?.close());

beforeEach(() => {
  issuer.jwksBehaviour = 'ok';
  stack.gateway.clearAuthorizerCache();
});

const mcpPost = (headers: Record<string, string>) =>
  fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });

describe('preflight', () => {
  test.each(routePaths.map((path) => [path]))('OPTIONS %s from an allowed origin: granted without a token', async (path) => {
    const response = await fetch(`${stack.baseUrl}${path}`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': methodsAt(path)[0]!, 'Access-Control-Request-Headers': 'authorization, content-type, mcp-protocol-version, mcp-method, mcp-name' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-allow-methods')).toBe([...methodsAt(path), 'OPTIONS'].join(', '));
    const allowedHeaders = response.headers.get('access-control-allow-headers')!.toLowerCase();
    // MCP 2026-07-28 sends Mcp-Method on every request and Mcp-Name on tools/call.
    for (const header of ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id']) {
      expect(allowedHeaders.split(/,\s*/)).toContain(header);
    }
    expect(response.headers.get('vary')).toContain('Origin');
  });

  test('any loopback port is allowed by default; a look-alike host is not', async () => {
    for (const origin of ['http://127.0.0.1:3000', 'http://[::1]:8080', 'http://localhost']) {
      const response = await fetch(`${stack.baseUrl}/web-search/mcp`, { method: 'OPTIONS', headers: { Origin: origin } });
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    }
    for (const origin of [FOREIGN, 'http://localhost.evil.com:6274', 'http://127.0.0.1.nip.io']) {
      const response = await fetch(`${stack.baseUrl}/web-search/mcp`, { method: 'OPTIONS', headers: { Origin: origin } });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
  });
});

describe('responses carry CORS headers for allowed origins', () => {
  test('a function response (protected resource metadata)', async () => {
    const allowed = await fetch(stack.protectedResourceMetadataUrl, { headers: { Origin: ALLOWED } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const foreign = await fetch(stack.protectedResourceMetadataUrl, { headers: { Origin: FOREIGN } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('401 from the gateway: the challenge is readable from the browser', async () => {
    const response = await mcpPost({ Origin: ALLOWED });
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
    expect(response.headers.get('www-authenticate')).toContain('resource_metadata=');
  });

  test('403 insufficient_scope from the gateway', async () => {
    const response = await mcpPost({ Origin: ALLOWED, Authorization: `Bearer ${await issuer.mint({ claims: { scope: 'other' } })}` });
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  test('503 from the gateway when the signing keys are unreachable', async () => {
    const token = await issuer.mint();
    issuer.jwksBehaviour = 'down';
    // A fresh authorizer instance holds no keys yet.
    await stack.pools.authorizer.recycle();
    const response = await mcpPost({ Origin: ALLOWED, Authorization: `Bearer ${token}` });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });

  test('the MCP endpoint itself, with its headers exposed', async () => {
    const response = await mcpPost({ Origin: ALLOWED, Authorization: `Bearer ${await issuer.mint()}` });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(response.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, Retry-After');
  });
});

test('a foreign Origin is refused by the MCP endpoint with 403, even with a valid token', async () => {
  const response = await mcpPost({ Origin: FOREIGN, Authorization: `Bearer ${await issuer.mint()}` });
  expect(response.status).toBe(403);
  expect(response.headers.get('access-control-allow-origin')).toBeNull();
  expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
  expect(tavily.requests).toHaveLength(0);
});

test('no Origin at all (a non-browser client) is fine', async () => {
  const response = await mcpPost({ Authorization: `Bearer ${await issuer.mint()}` });
  expect(response.status).toBe(200);
  expect(response.headers.get('access-control-allow-origin')).toBeNull();
});
