/**
 * Issue 12, case 1: scopes that could be re-split. A scope token is NQCHAR
 * (RFC 6749 section 3.3); a token whose scope element holds a space or anything
 * else outside that set is refused at the authorizer with the gateway's 401 and
 * its challenge, and the scopes travel to the MCP function in a form that
 * cannot be split into more scopes than the token carried.
 */
import { callerContext, callerFromContext } from '../../lambda/shared/caller.js';
import { defaultToolScopes } from '../../lambda/shared/settings.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import { bearer, json, rawRequest, REQUIRED_SCOPE, unauthorizedChallenge, type RawResponse } from './support.js';

const CRAWL_SCOPE = 'web-search:crawl';
let test_: TestStack;

beforeAll(async () => {
  test_ = await startTestStack({
    stack: { toolScopes: { ...defaultToolScopes(), web_crawl: [CRAWL_SCOPE], web_map: [CRAWL_SCOPE] } },
  });
});

afterAll(async () => {
  await test_?.close();
});

beforeEach(() => test_.stack.gateway.clearAuthorizerCache());

function rpc(token: string, method: string, params: Record<string, unknown> = {}): Promise<RawResponse> {
  return rawRequest(test_.stack.baseUrl, {
    method: 'POST',
    path: '/web-search/mcp',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
      ...bearer(token),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
}

const mintWith = (claims: Record<string, unknown>) => test_.issuer.mint({ claims });

function expectRefused(response: RawResponse) {
  expect(response.status).toBe(401);
  expect(response.headers['www-authenticate']).toBe(unauthorizedChallenge(test_.stack));
  expect(json(response)).toMatchObject({ error: 'invalid_token' });
}

describe('a scope element that is not one NQCHAR token is a refused token', () => {
  test.each([
    ['a space inside a `scopes` element (the reported attack)', { scope: undefined, scopes: [REQUIRED_SCOPE, `x ${CRAWL_SCOPE}`] }],
    ['a space-only `scopes` element', { scope: undefined, scopes: [REQUIRED_SCOPE, ' '] }],
    ['a tab inside a `scopes` element', { scope: undefined, scopes: [REQUIRED_SCOPE, `x\t${CRAWL_SCOPE}`] }],
    ['a newline inside a `scopes` element', { scope: undefined, scopes: [REQUIRED_SCOPE, `x\n${CRAWL_SCOPE}`] }],
    ['a double quote in a `scopes` element', { scope: undefined, scopes: [REQUIRED_SCOPE, 'a"b'] }],
    ['a backslash in a `scopes` element', { scope: undefined, scopes: [REQUIRED_SCOPE, 'a\\b'] }],
    ['a non-ASCII character in a `scopes` element', { scope: undefined, scopes: [REQUIRED_SCOPE, 'web-search:cr\u00e2wl'] }],
    ['a zero-width space in a `scopes` element', { scope: undefined, scopes: [REQUIRED_SCOPE, `x\u200b${CRAWL_SCOPE}`] }],
    ['a tab in the `scope` string', { scope: `${REQUIRED_SCOPE}\t${CRAWL_SCOPE}` }],
    ['a no-break space in the `scope` string', { scope: `${REQUIRED_SCOPE}\u00a0${CRAWL_SCOPE}` }],
    ['a control character in the `scope` string', { scope: `${REQUIRED_SCOPE} a\u0001b` }],
    ['a good `scope` string beside a bad `scopes` array', { scope: REQUIRED_SCOPE, scopes: [`x ${CRAWL_SCOPE}`] }],
  ])('%s: 401 with the challenge', async (_case, claims) => {
    expectRefused(await rpc(await mintWith(claims), 'tools/list'));
  });

  test('tools/list and web_crawl never unlock the smuggled scope', async () => {
    const token = await mintWith({ scope: undefined, scopes: [REQUIRED_SCOPE, `x ${CRAWL_SCOPE}`] });
    expectRefused(await rpc(token, 'tools/list'));
    expectRefused(await rpc(token, 'tools/call', { name: 'web_crawl', arguments: { url: 'https://example.com' } }));
    expect(test_.tavily.requests.filter((request) => request.endpoint === 'crawl')).toEqual([]);
  });

  test('a genuine token with the same scopes, well formed, still works (the tests above can fail)', async () => {
    const read = await mintWith({ scope: undefined, scopes: [REQUIRED_SCOPE] });
    const listed = await rpc(read, 'tools/list');
    expect(listed.status).toBe(200);
    const names = (json(listed).result as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name);
    expect(names).toContain('web_search');
    expect(names).not.toContain('web_crawl');

    const crawl = await mintWith({ scope: `${REQUIRED_SCOPE} ${CRAWL_SCOPE}` });
    const both = await rpc(crawl, 'tools/list');
    expect((json(both).result as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name)).toContain('web_crawl');
  });
});

describe('the authorizer context carries scopes in a form that cannot be re-split', () => {
  const caller = { sub: 'usr_1', clientId: 'skc_1', scopes: [REQUIRED_SCOPE], exp: 1_900_000_000, tokenId: 'tkn_1' };

  test('the context value is a JSON array, and reads back exactly', () => {
    const context = callerContext(caller);
    expect(JSON.parse(String(context.scopes))).toEqual([REQUIRED_SCOPE]);
    expect(callerFromContext(context)).toEqual(caller);
  });

  test.each([
    ['the old space-separated form', `${REQUIRED_SCOPE} ${CRAWL_SCOPE}`],
    ['a JSON array holding a space-separated element', JSON.stringify([`${REQUIRED_SCOPE} ${CRAWL_SCOPE}`])],
    ['a JSON array holding a non-string', JSON.stringify([REQUIRED_SCOPE, 1])],
    ['a JSON object', JSON.stringify({ 0: REQUIRED_SCOPE })],
    ['a JSON string', JSON.stringify(REQUIRED_SCOPE)],
    ['not JSON at all', '[web-search:read'],
  ])('%s gives no caller (the MCP function answers 401)', (_case, scopes) => {
    expect(callerFromContext({ ...callerContext(caller), scopes })).toBeUndefined();
  });
});
