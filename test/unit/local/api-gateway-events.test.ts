import {
  authorizerContext,
  authorizerEvent,
  evaluatePolicy,
  LOCAL_STAGE,
  methodArn,
  proxyEvent,
  validProxyResult,
  type IncomingRequest,
} from '../../../local/api-gateway-events.js';

const ARN = 'arn:aws:execute-api:local:000000000000:local/local/POST/web-search/mcp';

const statement = (Effect: string, Resource: unknown, Action: unknown = 'execute-api:Invoke') => ({ Effect, Resource, Action });
const result = (...Statement: unknown[]) => ({ principalId: 'usr_1', policyDocument: { Version: '2012-10-17', Statement } });

describe('evaluatePolicy', () => {
  test('an Allow over the stage wildcard allows every route of the stage', () => {
    const allow = result(statement('Allow', 'arn:aws:execute-api:local:000000000000:local/local/*/*'));
    expect(evaluatePolicy(allow, ARN)).toBe('allow');
    expect(evaluatePolicy(allow, 'arn:aws:execute-api:local:000000000000:local/local/GET/.well-known/oauth-protected-resource')).toBe('allow');
  });

  test('an Allow naming one route does not allow another', () => {
    const narrow = result(statement('Allow', ARN));
    expect(evaluatePolicy(narrow, ARN)).toBe('allow');
    expect(evaluatePolicy(narrow, 'arn:aws:execute-api:local:000000000000:local/local/DELETE/web-search/mcp')).toBe('deny');
  });

  test('another stage or API is not matched', () => {
    const otherStage = result(statement('Allow', 'arn:aws:execute-api:local:000000000000:local/prod/*/*'));
    expect(evaluatePolicy(otherStage, ARN)).toBe('deny');
    const otherApi = result(statement('Allow', 'arn:aws:execute-api:local:000000000000:other/local/*/*'));
    expect(evaluatePolicy(otherApi, ARN)).toBe('deny');
  });

  test('`?` matches exactly one character; regex characters in the pattern are literal', () => {
    expect(evaluatePolicy(result(statement('Allow', 'arn:aws:execute-api:local:000000000000:local/local/POS?/web-search/mcp')), ARN)).toBe('allow');
    expect(evaluatePolicy(result(statement('Allow', 'arn:aws:execute-api:local:000000000000:local/local/PO?/web-search/mcp')), ARN)).toBe('deny');
    // A `.` in the pattern must not match any character.
    expect(evaluatePolicy(result(statement('Allow', 'arn:aws:execute-api:local:000000000000:local/local/POST/web.search/mcp')), ARN)).toBe('deny');
    expect(
      evaluatePolicy(result(statement('Allow', 'arn:aws:execute-api:local:000000000000:local/local/POST/web-search/mcp|.*')), ARN),
    ).toBe('deny');
  });

  test('an explicit Deny wins over an Allow, in either order', () => {
    const allowAll = statement('Allow', '*');
    const denyMcp = statement('Deny', 'arn:aws:execute-api:local:000000000000:local/local/*/web-search/mcp');
    expect(evaluatePolicy(result(allowAll, denyMcp), ARN)).toBe('deny');
    expect(evaluatePolicy(result(denyMcp, allowAll), ARN)).toBe('deny');
  });

  test('a Deny that does not match leaves the Allow in force', () => {
    const allowAll = statement('Allow', '*');
    const denyOther = statement('Deny', 'arn:aws:execute-api:local:000000000000:local/local/GET/*');
    expect(evaluatePolicy(result(denyOther, allowAll), ARN)).toBe('allow');
  });

  test('no statement matching is a deny; so is an empty statement list', () => {
    expect(evaluatePolicy(result(statement('Allow', 'arn:aws:execute-api:eu-west-1:1:api/prod/*/*')), ARN)).toBe('deny');
    expect(evaluatePolicy(result(), ARN)).toBe('deny');
  });

  test('actions: execute-api:Invoke, execute-api:* and * count, arrays too; others do not', () => {
    expect(evaluatePolicy(result(statement('Allow', '*', 'execute-api:*')), ARN)).toBe('allow');
    expect(evaluatePolicy(result(statement('Allow', '*', '*')), ARN)).toBe('allow');
    expect(evaluatePolicy(result(statement('Allow', '*', ['s3:GetObject', 'execute-api:Invoke'])), ARN)).toBe('allow');
    expect(evaluatePolicy(result(statement('Allow', '*', 's3:GetObject')), ARN)).toBe('deny');
    expect(evaluatePolicy(result(statement('Deny', '*', 's3:*'), statement('Allow', '*')), ARN)).toBe('allow');
  });

  test('resources may be a list', () => {
    expect(evaluatePolicy(result(statement('Allow', ['arn:aws:s3:::bucket', 'arn:aws:execute-api:local:000000000000:local/local/*'])), ARN)).toBe(
      'allow',
    );
  });

  test('an Effect other than Allow or Deny is ignored', () => {
    expect(evaluatePolicy(result(statement('allow', '*')), ARN)).toBe('deny');
  });

  test.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'Allow'],
    ['no principalId', { policyDocument: { Version: '2012-10-17', Statement: [statement('Allow', '*')] } }],
    ['a numeric principalId', { principalId: 1, policyDocument: { Version: '2012-10-17', Statement: [statement('Allow', '*')] } }],
    ['no policy document', { principalId: 'usr_1' }],
    ['Statement not a list', { principalId: 'usr_1', policyDocument: { Version: '2012-10-17', Statement: statement('Allow', '*') } }],
  ])('%s is invalid', (_why, answer) => {
    expect(evaluatePolicy(answer, ARN)).toBe('invalid');
  });
});

describe('authorizerContext', () => {
  test('the principal and every context value, as strings', () => {
    expect(
      authorizerContext({
        principalId: 'usr_1',
        policyDocument: { Version: '2012-10-17', Statement: [] },
        context: { sub: 'usr_1', exp: 1_900_000_000, admin: false, scopes: 'a b' },
      }),
    ).toEqual({ principalId: 'usr_1', sub: 'usr_1', exp: '1900000000', admin: 'false', scopes: 'a b' });
  });

  test('no context: only the principal', () => {
    expect(authorizerContext({ principalId: 'skc_1', policyDocument: { Version: '2012-10-17', Statement: [] } })).toEqual({
      principalId: 'skc_1',
    });
  });

  test.each([
    ['an object', { nested: { a: 1 } }],
    ['an array', { scopes: ['a', 'b'] }],
    ['null', { value: null }],
  ])('a context holding %s is refused', (_why, context) => {
    expect(authorizerContext({ principalId: 'usr_1', policyDocument: { Version: '2012-10-17', Statement: [] }, context })).toBeUndefined();
  });
});

describe('validProxyResult', () => {
  test.each([
    ['a full result', { statusCode: 200, headers: {}, body: 'ok' }],
    ['no body', { statusCode: 204 }],
    ['a null body', { statusCode: 204, body: null }],
    ['the lowest status', { statusCode: 100, body: '' }],
    ['the highest status', { statusCode: 599, body: '' }],
  ])('%s is accepted as is', (_why, value) => {
    expect(validProxyResult(value)).toBe(value);
  });

  test.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'ok'],
    ['no status', { body: 'ok' }],
    ['a status as text', { statusCode: '200', body: 'ok' }],
    ['a fractional status', { statusCode: 200.5, body: 'ok' }],
    ['a status below 100', { statusCode: 99, body: 'ok' }],
    ['a status above 599', { statusCode: 600, body: 'ok' }],
    ['a body that is an object', { statusCode: 200, body: { ok: true } }],
    ['a body that is a number', { statusCode: 200, body: 1 }],
  ])('%s is malformed (502)', (_why, value) => {
    expect(validProxyResult(value)).toBeUndefined();
  });
});

function incoming(overrides: Partial<IncomingRequest> = {}): IncomingRequest {
  return {
    method: 'POST',
    path: '/web-search/mcp',
    resource: '/web-search/mcp',
    rawHeaders: [
      ['Host', '127.0.0.1:10000'],
      ['Accept', 'application/json'],
      ['Accept', 'text/event-stream'],
      ['User-Agent', 'test/1'],
    ],
    query: new URLSearchParams(),
    body: Buffer.alloc(0),
    sourceIp: '127.0.0.1',
    requestId: 'req-1',
    host: '127.0.0.1:10000',
    ...overrides,
  };
}

describe('proxyEvent', () => {
  test('a UTF-8 body is passed as text', () => {
    const event = proxyEvent(incoming({ body: Buffer.from('{"q":"café ☕"}', 'utf8') }), undefined);
    expect(event.body).toBe('{"q":"café ☕"}');
    expect(event.isBase64Encoded).toBe(false);
  });

  test('bytes that are not UTF-8 are passed base64-encoded', () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00]);
    const event = proxyEvent(incoming({ body: bytes }), undefined);
    expect(event.body).toBe(bytes.toString('base64'));
    expect(event.isBase64Encoded).toBe(true);
  });

  test('no body is a null body', () => {
    const event = proxyEvent(incoming(), undefined);
    expect(event.body).toBeNull();
    expect(event.isBase64Encoded).toBe(false);
  });

  test('headers: the last value in `headers`, every value in `multiValueHeaders`', () => {
    const event = proxyEvent(incoming(), undefined);
    expect(event.headers).toEqual({ Host: '127.0.0.1:10000', Accept: 'text/event-stream', 'User-Agent': 'test/1' });
    expect(event.multiValueHeaders).toEqual({
      Host: ['127.0.0.1:10000'],
      Accept: ['application/json', 'text/event-stream'],
      'User-Agent': ['test/1'],
    });
  });

  test('query parameters: null when there are none, both maps otherwise', () => {
    expect(proxyEvent(incoming(), undefined)).toMatchObject({ queryStringParameters: null, multiValueQueryStringParameters: null });
    const event = proxyEvent(incoming({ query: new URLSearchParams('a=1&a=2&b=x') }), undefined);
    expect(event.queryStringParameters).toEqual({ a: '2', b: 'x' });
    expect(event.multiValueQueryStringParameters).toEqual({ a: ['1', '2'], b: ['x'] });
  });

  test('the request context carries the authorizer context, the stage and the request id', () => {
    const event = proxyEvent(incoming(), { principalId: 'usr_1', scopes: 'a' });
    expect(event.requestContext.authorizer).toEqual({ principalId: 'usr_1', scopes: 'a' });
    expect(event.requestContext.requestId).toBe('req-1');
    expect(event.requestContext.stage).toBe(LOCAL_STAGE);
    expect(event.requestContext.identity.sourceIp).toBe('127.0.0.1');
    expect(event.requestContext.identity.userAgent).toBe('test/1');
    expect(event.requestContext.domainName).toBe('127.0.0.1:10000');
    expect(proxyEvent(incoming(), undefined).requestContext.authorizer).toBeNull();
    expect(event).toMatchObject({ httpMethod: 'POST', path: '/web-search/mcp', resource: '/web-search/mcp', pathParameters: null, stageVariables: null });
  });
});

describe('authorizerEvent and methodArn', () => {
  test('methodArn names the local API, stage, method and path', () => {
    expect(methodArn({ method: 'POST', path: '/web-search/mcp' })).toBe(ARN);
  });

  test('the REQUEST authorizer event carries headers, query and the method ARN', () => {
    const event = authorizerEvent(incoming({ rawHeaders: [['Authorization', 'Bearer a.b.c']], query: new URLSearchParams('x=1') }));
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: ARN,
      httpMethod: 'POST',
      path: '/web-search/mcp',
      resource: '/web-search/mcp',
      headers: { Authorization: 'Bearer a.b.c' },
      multiValueHeaders: { Authorization: ['Bearer a.b.c'] },
      queryStringParameters: { x: '1' },
    });
  });
});
