/**
 * The local gateway's API Gateway behaviour, with scripted functions in place
 * of the bundles: what reaches the authorizer and when, how its answers and
 * their caching turn into responses, and what happens to integration answers.
 */
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { LocalGateway } from '../../../local/gateway.js';
import type { FunctionPool, InvocationOutcome } from '../../../local/lambda-runtime.js';
import type { IncomingRequest } from '../../../local/api-gateway-events.js';

type Script = (event: any) => InvocationOutcome;

function scripted(script: Script) {
  const events: any[] = [];
  return {
    events,
    pool: { invoke: async (event: unknown) => (events.push(event), script(event)) } as unknown as FunctionPool,
  };
}

const allowAll = (context: Record<string, string | number> = { sub: 'usr_1', scopes: 'web-search:read', exp: 9_999_999_999 }): APIGatewayAuthorizerResult => ({
  principalId: 'usr_1',
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:local:000000000000:local/local/*/*' }] },
  context,
});

function gatewayWith(authorizer: Script, mcp: Script = () => ({ ok: true, result: { statusCode: 200, body: '{}' } }), ttl = 300) {
  const authorizerPool = scripted(authorizer);
  const mcpPool = scripted(mcp);
  const gateway = new LocalGateway({
    pools: { authorizer: authorizerPool.pool, mcp: mcpPool.pool, metadata: mcpPool.pool, register: mcpPool.pool },
    protectedResourceMetadataUrl: 'http://localhost:1/.well-known/oauth-protected-resource/web-search/mcp',
    requiredScopes: ['web-search:read'],
    allowedOrigins: [],
    authorizerCacheTtlSeconds: ttl,
    mocks: { protectedResource: { environmentUrl: 'http://localhost:2', resourceId: 'res_1', resourceIdentifier: 'http://localhost:1/web-search/mcp', scopesSupported: ['web-search:read'] } },
  });
  return { gateway, authorizer: authorizerPool, mcp: mcpPool };
}

function request(headers: Array<[string, string]>, method = 'POST', path = '/web-search/mcp'): IncomingRequest {
  return { method, path, resource: path, rawHeaders: headers, query: new URLSearchParams(), body: Buffer.from('{}'), sourceIp: '127.0.0.1', requestId: 'req-1', host: 'localhost:1' };
}

const bearer = (token: string): Array<[string, string]> => [['Authorization', `Bearer ${token}`]];

test('no Authorization header: 401 with the challenge, the authorizer never invoked', async () => {
  const { gateway, authorizer } = gatewayWith(() => ({ ok: true, result: allowAll() }));
  const { outcome } = await gateway.handle(request([]));
  expect(outcome.status).toBe(401);
  expect(outcome.headers['WWW-Authenticate']).toContain('resource_metadata=');
  expect(authorizer.events).toHaveLength(0);
});

test('an Allow reaches the integration with the context as strings; the event carries the method ARN', async () => {
  const { gateway, authorizer, mcp } = gatewayWith(() => ({ ok: true, result: allowAll() }));
  const { outcome } = await gateway.handle(request(bearer('t1')));
  expect(outcome.status).toBe(200);
  expect(authorizer.events[0].methodArn).toBe('arn:aws:execute-api:local:000000000000:local/local/POST/web-search/mcp');
  expect(mcp.events[0].requestContext.authorizer).toEqual({ principalId: 'usr_1', sub: 'usr_1', scopes: 'web-search:read', exp: '9999999999' });
});

test.each([
  ['thrown "Unauthorized"', { ok: false, kind: 'error', message: 'Unauthorized' } as InvocationOutcome, 401],
  ['any other error', { ok: false, kind: 'error', message: 'keys unreachable' } as InvocationOutcome, 503],
  ['a failed init', { ok: false, kind: 'init_error', message: 'bad config' } as InvocationOutcome, 503],
  ['a Deny', { ok: true, result: { ...allowAll(), policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: '*' }] } } } as InvocationOutcome, 403],
  ['a policy that is not one', { ok: true, result: { hello: 'world' } } as InvocationOutcome, 500],
  ['a context with a nested value', { ok: true, result: allowAll({ nested: { a: 1 } as unknown as string }) } as InvocationOutcome, 500],
])('the authorizer answering %s: %s', async (_case, answer, status) => {
  const { gateway, mcp } = gatewayWith(() => answer);
  const { outcome } = await gateway.handle(request(bearer('t')));
  expect(outcome.status).toBe(status);
  expect(mcp.events).toHaveLength(0);
  if (status === 503) expect(outcome.headers['Retry-After']).toBe('5');
});

test('decisions are cached per Authorization value for the TTL, across routes', async () => {
  const { gateway, authorizer } = gatewayWith(() => ({ ok: true, result: allowAll() }));
  await gateway.handle(request(bearer('same')));
  await gateway.handle(request(bearer('same')));
  await gateway.handle(request(bearer('other')));
  expect(authorizer.events).toHaveLength(2);
  const uncached = gatewayWith(() => ({ ok: true, result: allowAll() }), undefined, 0);
  await uncached.gateway.handle(request(bearer('same')));
  await uncached.gateway.handle(request(bearer('same')));
  expect(uncached.authorizer.events).toHaveLength(2);
});

test('a cached Allow naming only one route denies the others: why the real authorizer allows the whole stage', async () => {
  const narrow: APIGatewayAuthorizerResult = {
    ...allowAll(),
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:local:000000000000:local/local/GET/web-search/mcp' }],
    },
  };
  const { gateway } = gatewayWith(() => ({ ok: true, result: narrow }));
  expect((await gateway.handle(request(bearer('t')))).outcome.status).toBe(403);
});

test('WWW-Authenticate (and the other headers API Gateway keeps for itself) from an integration are renamed', async () => {
  const { gateway } = gatewayWith(
    () => ({ ok: true, result: allowAll() }),
    () => ({
      ok: true,
      result: { statusCode: 401, multiValueHeaders: { 'WWW-Authenticate': ['Bearer realm="x"'], Server: ['lambda'], 'Content-Type': ['application/json'] }, body: '{}' },
    }),
  );
  const { outcome } = await gateway.handle(request(bearer('t')));
  expect(outcome.headers['x-amzn-Remapped-WWW-Authenticate']).toBe('Bearer realm="x"');
  expect(outcome.headers['x-amzn-Remapped-Server']).toBe('lambda');
  expect(outcome.headers['WWW-Authenticate']).toBeUndefined();
  expect(outcome.headers['Content-Type']).toBe('application/json');
});

test.each([
  ['a malformed proxy result', { ok: true, result: { statusCode: 'two hundred' } } as InvocationOutcome, 502],
  ['a function error', { ok: false, kind: 'error', message: 'boom' } as InvocationOutcome, 502],
  // Its 28 s timeout fires before API Gateway's 29 s: Lambda reports the error, API Gateway answers 502.
  ['a function timing out', { ok: false, kind: 'timeout', message: 'Task timed out' } as InvocationOutcome, 502],
])('the integration answering %s: %s with a JSON body', async (_case, answer, status) => {
  const { gateway } = gatewayWith(() => ({ ok: true, result: allowAll() }), () => answer);
  const { outcome } = await gateway.handle(request(bearer('t')));
  expect(outcome.status).toBe(status);
  expect(Object.keys(JSON.parse(String(outcome.body)))).toEqual(['error', 'error_description']);
});

test('an unknown route or method: 404 from the gateway', async () => {
  const { gateway } = gatewayWith(() => ({ ok: true, result: allowAll() }));
  expect((await gateway.handle(request([], 'GET', '/nope'))).outcome.status).toBe(404);
  expect((await gateway.handle(request([], 'PUT', '/oauth/register'))).outcome.status).toBe(404);
});

test("an answer over Lambda's 6 MB response limit becomes API Gateway's 502; one just under it passes", async () => {
  const answer = (bodyBytes: number) => () => ({ ok: true as const, result: { statusCode: 200, body: 'x'.repeat(bodyBytes) } });
  const over = gatewayWith(() => ({ ok: true, result: allowAll() }), answer(6 * 1024 * 1024));
  const refused = await over.gateway.handle(request(bearer('t1')));
  expect(refused.outcome.status).toBe(502);
  expect(JSON.parse(String(refused.outcome.body))).toMatchObject({ error_description: 'Internal server error' });
  expect(refused.error).toBe('Lambda response payload over 6 MB');

  const under = gatewayWith(() => ({ ok: true, result: allowAll() }), answer(6 * 1024 * 1024 - 100));
  expect((await under.gateway.handle(request(bearer('t1')))).outcome.status).toBe(200);
});
