import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import fc from 'fast-check';
import {
  BadRequestError,
  MALFORMED_REQUEST,
  originUrl,
  proxyHandler,
  readRequestHead,
  toProxyResult,
  toRequest,
  type Invocation,
  type RequestCore,
  type RequestHead,
} from '../../../lambda/shared/api-gateway.js';
import { createOriginPolicy } from '../../../lambda/shared/cors.js';
import { WebSearchMcpError } from '../../../lambda/shared/errors.js';
import type { InvocationObserver } from '../../../lambda/shared/api-gateway.js';

function event(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    resource: '/web-search/mcp',
    path: '/web-search/mcp',
    httpMethod: 'POST',
    headers: { Host: 'mcp.example.com' },
    multiValueHeaders: { Host: ['mcp.example.com'] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      requestId: 'req-123',
      domainName: 'abc.execute-api.eu-west-1.amazonaws.com',
      authorizer: null,
    } as unknown as APIGatewayProxyEvent['requestContext'],
    body: null,
    isBase64Encoded: false,
    ...overrides,
  };
}

/** Both header maps, as API Gateway fills them: the last value in `headers`, every value in `multiValueHeaders`. */
function headerMaps(pairs: readonly (readonly [string, string])[]): Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'> {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of pairs) {
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  return { headers, multiValueHeaders };
}

function badRequestMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toBeInstanceOf(WebSearchMcpError);
    expect(error).toMatchObject({ name: 'BadRequestError', code: 'ERR_BAD_REQUEST' });
    return (error as Error).message;
  }
  throw new Error('expected a BadRequestError');
}

describe('toRequest', () => {
  test('builds an https URL from the Host header and the path', () => {
    const request = toRequest(event());
    expect(request.url).toBe('https://mcp.example.com/web-search/mcp');
    expect(request.method).toBe('POST');
  });

  test('uses http only when X-Forwarded-Proto says http (the local gateway)', () => {
    const request = toRequest(event(headerMaps([['host', 'localhost:10000'], ['X-Forwarded-Proto', 'http']])));
    expect(request.url).toBe('http://localhost:10000/web-search/mcp');
    expect(toRequest(event(headerMaps([['host', 'a.example'], ['x-forwarded-proto', 'ftp']]))).url).toBe(
      'https://a.example/web-search/mcp',
    );
  });

  test('falls back to the domain name of the request context, then localhost', () => {
    expect(toRequest(event({ headers: {}, multiValueHeaders: {} })).url).toBe(
      'https://abc.execute-api.eu-west-1.amazonaws.com/web-search/mcp',
    );
    expect(
      toRequest(event({ headers: {}, multiValueHeaders: {}, requestContext: {} as APIGatewayProxyEvent['requestContext'] })).url,
    ).toBe('https://localhost/web-search/mcp');
  });

  test('a path with `?` or `#` stays a path: no query or fragment is smuggled in', () => {
    const url = new URL(toRequest(event({ path: '/a b?x=1#f' })).url);
    expect(url.pathname).toBe('/a%20b%3Fx=1%23f');
    expect(url.search).toBe('');
    expect(url.hash).toBe('');
  });

  test('multi-value query parameters are all kept, in order', () => {
    const request = toRequest(
      event({
        queryStringParameters: { a: '2', b: 'x y' },
        multiValueQueryStringParameters: { a: ['1', '2'], b: ['x y'] },
      }),
    );
    const url = new URL(request.url);
    expect(url.searchParams.getAll('a')).toEqual(['1', '2']);
    expect(url.searchParams.getAll('b')).toEqual(['x y']);
    expect(url.search).toBe('?a=1&a=2&b=x+y');
  });

  test('single-value query parameters are used when there are no multi-value ones', () => {
    const url = new URL(toRequest(event({ queryStringParameters: { q: 'web search' } })).url);
    expect(url.searchParams.getAll('q')).toEqual(['web search']);
  });

  test('multi-value headers are all kept and win over the single-value map', () => {
    const request = toRequest(
      event({
        headers: { Host: 'mcp.example.com', Accept: 'text/event-stream', 'X-Only-Single': 'dropped' },
        multiValueHeaders: { Host: ['mcp.example.com'], Accept: ['application/json', 'text/event-stream'] },
      }),
    );
    expect(request.headers.get('accept')).toBe('application/json, text/event-stream');
    expect(request.headers.get('x-only-single')).toBeNull();
  });

  test('single-value headers are used when there are no multi-value ones', () => {
    const request = toRequest(event({ headers: { Host: 'h.example', Authorization: 'Bearer abc' }, multiValueHeaders: undefined as never }));
    expect(request.headers.get('authorization')).toBe('Bearer abc');
    expect(request.url).toBe('https://h.example/web-search/mcp');
  });

  test('a text body is passed as UTF-8', async () => {
    const request = toRequest(event({ body: '{"q":"café ☕"}' }));
    expect(await request.text()).toBe('{"q":"café ☕"}');
  });

  test('a base64 body is decoded to its bytes', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 0xfe, 0xff]);
    const request = toRequest(event({ body: Buffer.from(bytes).toString('base64'), isBase64Encoded: true }));
    expect(new Uint8Array(await request.arrayBuffer())).toEqual(bytes);
  });

  test('a body on GET or HEAD is ignored rather than failing', async () => {
    const get = toRequest(event({ httpMethod: 'GET', body: 'ignored' }));
    expect(get.method).toBe('GET');
    expect(get.body).toBeNull();
    expect(toRequest(event({ httpMethod: 'head', body: 'ignored' })).method).toBe('HEAD');
  });

  test('the method is upper-cased; no body at all gives a null body', () => {
    const request = toRequest(event({ httpMethod: 'delete', body: null }));
    expect(request.method).toBe('DELETE');
    expect(request.body).toBeNull();
  });

  test.each([
    ['a newline in a value', { 'X-Injected': ['a\r\nSet-Cookie: x=1'] }],
    ['a NUL in a value', { 'X-Nul': ['a\u0000b'] }],
    ['a space in a name', { 'X Bad': ['v'] }],
    ['an empty name', { '': ['v'] }],
  ])('a header with %s is a BadRequestError', (_why, multiValueHeaders) => {
    expect(badRequestMessage(() => toRequest(event({ multiValueHeaders })))).toBe(
      'A request header has a name or value that is not allowed.',
    );
  });

  test.each([
    'exa mple.com',
    'evil.com?x=1',
    'user@evil.com',
    'evil.com/path',
    'evil.com#frag',
    // Only look like hosts: a port past 65535, IPv6 addresses that are not, an IPv4 address out of range.
    'localhost:99999',
    'localhost:65536',
    '[:::]',
    '[1.2.3.4]:1',
    '999.1.1.1',
    'example.com:',
    '',
    `${'a'.repeat(250)}.com`,
  ])('a Host that is not a plain host (%p) is a BadRequestError', (host) => {
    expect(badRequestMessage(() => toRequest(event(headerMaps([['host', host]]))))).toBe(MALFORMED_REQUEST.host);
  });

  test('two Host headers are a malformed Host (RFC 9110), even when they agree', () => {
    expect(badRequestMessage(() => toRequest(event(headerMaps([['host', 'a.example'], ['Host', 'a.example']]))))).toBe(MALFORMED_REQUEST.host);
  });

  test.each(['example.com', 'example.com:8443', '127.0.0.1:10000', '[::1]:10000', 'localhost:65535'])('a plain host (%s) is kept', (host) => {
    expect(new URL(toRequest(event(headerMaps([['host', host]]))).url).host).toBe(host);
  });

  test('a Host is read as Headers reads it: trimmed', () => {
    expect(toRequest(event(headerMaps([['host', ' a.example\t']]))).url).toBe('https://a.example/web-search/mcp');
  });

  test.each(['TRACE', 'CONNECT', 'G T'])('method %s cannot be represented: BadRequestError', (httpMethod) => {
    expect(badRequestMessage(() => toRequest(event({ httpMethod })))).toBe(
      'The request cannot be represented (method or body not allowed).',
    );
  });
});

describe('the one Host rule and the header rules (readRequestHead)', () => {
  test('originUrl: the origin a URL can hold, or nothing', () => {
    expect(originUrl('https', 'mcp.example.com')?.href).toBe('https://mcp.example.com/');
    expect(originUrl('http', '[::1]:10000')?.host).toBe('[::1]:10000');
    for (const host of ['localhost:99999', '[:::]', '[1.2.3.4]:1', 'a/b', 'a b', '']) expect(originUrl('https', host)).toBeUndefined();
  });

  test('a method that is not a string is malformed; a missing one is GET', () => {
    expect(readRequestHead(event({ httpMethod: 5 as never }))).toEqual({ malformed: MALFORMED_REQUEST.method });
    expect(readRequestHead(event({ httpMethod: undefined as never }))).toMatchObject({ method: 'GET' });
  });

  test('headers that are not lists of strings are malformed, not a crash', () => {
    expect(readRequestHead(event({ multiValueHeaders: { Accept: 'text/html' } as never }))).toEqual({ malformed: MALFORMED_REQUEST.headers });
    expect(readRequestHead(event({ multiValueHeaders: { Accept: [5] } as never }))).toEqual({ malformed: MALFORMED_REQUEST.headers });
    expect(readRequestHead(event({ multiValueHeaders: 'x' as never }))).toEqual({ malformed: MALFORMED_REQUEST.headers });
  });

  test('fast-check: the headers are exactly what Headers holds, and malformed exactly where Headers throws', () => {
    const name = fc.oneof(fc.constantFrom('Accept', 'accept', 'X-A', 'x-a', 'Cookie', 'cookie', 'Host', 'Set-Cookie', 'Bad Name', '', 'x:y', 'é'), fc.string({ maxLength: 6 }));
    const value = fc.oneof(
      fc.constantFrom('a', ' a ', '\ta\t', 'a\r\nb', '\na', 'a\n', 'a\u0000b', 'a\u0001b', 'a\u007fb', 'caf\u00e9', '\u20ac', '\u00a0a\u00a0', '\u000ba\u000c', '', ' '),
      fc.string({ maxLength: 8, unit: 'binary' }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 6 }), (pairs) => {
        const withHost: Array<[string, string]> = [['Host', 'mcp.example.com'], ...pairs.filter(([each]) => each.toLowerCase() !== 'host')];
        let expected: Map<string, string> | undefined = new Map();
        try {
          const headers = new Headers();
          for (const [each, text] of withHost) headers.append(each, text);
          headers.forEach((text, each) => expected!.set(each, each === 'set-cookie' ? headers.get('set-cookie')! : text));
        } catch {
          expected = undefined;
        }
        const head = readRequestHead(event(headerMaps(withHost)));
        if (expected === undefined) expect(head).toEqual({ malformed: MALFORMED_REQUEST.headers });
        else expect(new Map([...(head as RequestHead).headers].sort())).toEqual(new Map([...expected].sort()));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('toProxyResult', () => {
  test('status, lower-case headers as lists, and a text body', async () => {
    const result = await toProxyResult(
      new Response('{"ok":true}', { status: 201, headers: { 'Content-Type': 'application/json', 'X-Custom': 'a' } }),
    );
    expect(result).toEqual({
      statusCode: 201,
      multiValueHeaders: { 'content-type': ['application/json'], 'x-custom': ['a'] },
      body: '{"ok":true}',
      isBase64Encoded: false,
    });
  });

  test('each Set-Cookie stays whole and separate, even with commas in its date', async () => {
    const response = new Response('x', { headers: { 'Content-Type': 'text/plain' } });
    response.headers.append('Set-Cookie', 'a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly');
    response.headers.append('Set-Cookie', 'b=2');
    const result = await toProxyResult(response);
    expect(result.multiValueHeaders!['set-cookie']).toEqual(['a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly', 'b=2']);
    expect(result.headers).toBeUndefined();
  });

  test('a binary body is base64 with isBase64Encoded', async () => {
    const bytes = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0xff]);
    const result = await toProxyResult(new Response(bytes, { headers: { 'Content-Type': 'image/png' } }));
    expect(result.isBase64Encoded).toBe(true);
    expect(result.body).toBe(Buffer.from(bytes).toString('base64'));
  });

  test('a body without a content type is treated as binary', async () => {
    const result = await toProxyResult(new Response(Uint8Array.from([1, 2, 3])));
    expect(result).toMatchObject({ body: 'AQID', isBase64Encoded: true });
  });

  test.each(['application/json; charset=utf-8', 'application/problem+json', 'text/event-stream', 'application/xml', 'application/javascript'])(
    '%s is text',
    async (contentType) => {
      const result = await toProxyResult(new Response('é', { headers: { 'Content-Type': contentType } }));
      expect(result).toMatchObject({ body: 'é', isBase64Encoded: false });
    },
  );

  test('an empty body is empty text whatever the type', async () => {
    const result = await toProxyResult(new Response(null, { status: 204, headers: { 'Content-Type': 'application/octet-stream' } }));
    expect(result).toMatchObject({ statusCode: 204, body: '', isBase64Encoded: false });
  });

  test('extra headers override the response, except Vary which accumulates', async () => {
    const response = new Response('x', {
      headers: { 'Content-Type': 'text/plain', Vary: 'Accept', 'Access-Control-Allow-Origin': 'https://core.example' },
    });
    const result = await toProxyResult(response, {
      Vary: 'Origin',
      'Access-Control-Allow-Origin': 'https://policy.example',
      'X-New': '1',
    });
    expect(result.multiValueHeaders).toEqual({
      'content-type': ['text/plain'],
      vary: ['Accept', 'Origin'],
      'access-control-allow-origin': ['https://policy.example'],
      'x-new': ['1'],
    });
  });
});

interface LogLine {
  level: string;
  message: string;
  attributes?: Record<string, unknown>;
}

/** An observer that records the log lines and the invocation scopes opened. */
function recordingLogger(): InvocationObserver & { lines: LogLine[]; contexts: Record<string, unknown>[] } {
  const lines: LogLine[] = [];
  const contexts: Record<string, unknown>[] = [];
  return {
    lines,
    contexts,
    logger: { error: (message, attributes) => lines.push({ level: 'ERROR', message, attributes }) },
    invocation: (requestId, _context, work) => {
      contexts.push({ requestId });
      return work();
    },
  };
}

const lambdaContext = (remaining = 12_345, awsRequestId = 'aws-req') =>
  ({ awsRequestId, getRemainingTimeInMillis: () => remaining }) as unknown as Context;

describe('proxyHandler', () => {
  const originPolicy = createOriginPolicy(['https://app.example.com']);

  test('the core sees the request and the invocation; its response is relayed', async () => {
    const seen: { request?: Request; invocation?: Invocation } = {};
    const core: RequestCore = async (request, invocation) => {
      seen.request = request;
      seen.invocation = invocation;
      return new Response('{"hello":"world"}', { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
    const logger = recordingLogger();
    const handler = proxyHandler(core, { observability: logger, originPolicy });
    const result = await handler(
      event({
        body: '{"a":1}',
        requestContext: { requestId: 'req-9', authorizer: { sub: 'usr_1', exp: '123' } } as unknown as APIGatewayProxyEvent['requestContext'],
      }),
      lambdaContext(),
    );
    expect(result).toEqual({
      statusCode: 200,
      multiValueHeaders: { 'content-type': ['application/json'], vary: ['Origin'] },
      body: '{"hello":"world"}',
      isBase64Encoded: false,
    });
    expect(await seen.request!.text()).toBe('{"a":1}');
    expect(seen.invocation!.requestId).toBe('req-9');
    expect(seen.invocation!.authorizer).toEqual({ sub: 'usr_1', exp: '123' });
    expect(seen.invocation!.remainingTimeMs()).toBe(12_345);
    expect(logger.contexts).toEqual([{ requestId: 'req-9' }]);
    expect(logger.lines).toEqual([]);
  });

  test('without a request id in the event, the Lambda request id is used; without a context, 30 s remain', async () => {
    let invocation: Invocation | undefined;
    const handler = proxyHandler(
      async (_request, inv) => {
        invocation = inv;
        return new Response(null, { status: 204 });
      },
      { observability: recordingLogger(), originPolicy },
    );
    await handler(event({ requestContext: {} as APIGatewayProxyEvent['requestContext'] }), lambdaContext(1, 'aws-42'));
    expect(invocation!.requestId).toBe('aws-42');
    expect(invocation!.authorizer).toBeUndefined();
    await handler(event({ requestContext: {} as APIGatewayProxyEvent['requestContext'] }), undefined as unknown as Context);
    expect(invocation!.requestId).toBe('unknown');
    expect(invocation!.remainingTimeMs()).toBe(30_000);
  });

  test('an allowed Origin gets CORS headers on the response', async () => {
    const handler = proxyHandler(async () => new Response('ok', { headers: { 'Content-Type': 'text/plain' } }), {
      observability: recordingLogger(),
      originPolicy,
    });
    const result = await handler(
      event(headerMaps([['Host', 'mcp.example.com'], ['origin', 'https://app.example.com']])),
      lambdaContext(),
    );
    expect(result.multiValueHeaders).toEqual({
      'content-type': ['text/plain'],
      'access-control-allow-origin': ['https://app.example.com'],
      'access-control-expose-headers': ['WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, Retry-After'],
      vary: ['Origin'],
    });
  });

  test('a refused Origin gets no CORS grant, only Vary', async () => {
    const handler = proxyHandler(async () => new Response('ok', { headers: { 'Content-Type': 'text/plain' } }), {
      observability: recordingLogger(),
      originPolicy,
    });
    const result = await handler(event(headerMaps([['Origin', 'https://app.example.com.evil.com']])), lambdaContext());
    expect(result.multiValueHeaders).toEqual({ 'content-type': ['text/plain'], vary: ['Origin'] });
  });

  test('a core that throws gives a JSON 500 that leaks neither the message nor a stack', async () => {
    const logger = recordingLogger();
    const handler = proxyHandler(
      async () => {
        throw new TypeError('db password is hunter2');
      },
      { observability: logger, originPolicy },
    );
    const result = await handler(event(), lambdaContext());
    expect(result.statusCode).toBe(500);
    expect(result.multiValueHeaders).toEqual({
      'content-type': ['application/json'],
      'cache-control': ['no-store'],
      vary: ['Origin'],
    });
    expect(JSON.parse(result.body)).toEqual({ error: 'server_error', error_description: 'Internal error. Request id: req-123' });
    expect(result.body).not.toContain('hunter2');
    expect(result.body).not.toContain('TypeError');
    expect(result.body).not.toMatch(/\bat\b.*\(/);
    // The log (never the client) gets the error and its stack, for the operator.
    expect(logger.lines).toEqual([
      {
        level: 'ERROR',
        message: 'Unhandled error',
        attributes: { errorName: 'TypeError', errorMessage: 'db password is hunter2', stack: expect.stringContaining('TypeError: db password') },
      },
    ]);
  });

  test('a thrown non-Error is logged by type and still answered with a 500', async () => {
    const logger = recordingLogger();
    const handler = proxyHandler(
      async () => {
        throw 'plain string';
      },
      { observability: logger, originPolicy },
    );
    const result = await handler(event(), lambdaContext());
    expect(result.statusCode).toBe(500);
    expect(logger.lines[0]!.attributes).toEqual({ errorName: 'string', errorMessage: 'plain string', stack: undefined });
  });

  test('a BadRequestError becomes a 400 invalid_request, from the adapter or from the core, without an error log', async () => {
    const logger = recordingLogger();
    let called = false;
    const handler = proxyHandler(
      async () => {
        called = true;
        throw new BadRequestError('The body is odd.');
      },
      { observability: logger, originPolicy },
    );
    const fromAdapter = await handler(event({ multiValueHeaders: { 'X-Bad': ['a\nb'] } }), lambdaContext());
    expect(called).toBe(false);
    expect(fromAdapter.statusCode).toBe(400);
    expect(JSON.parse(fromAdapter.body)).toEqual({
      error: 'invalid_request',
      error_description: 'A request header has a name or value that is not allowed.',
    });
    const fromCore = await handler(event(), lambdaContext());
    expect(called).toBe(true);
    expect(fromCore.statusCode).toBe(400);
    expect(JSON.parse(fromCore.body)).toEqual({ error: 'invalid_request', error_description: 'The body is odd.' });
    expect(logger.lines).toEqual([]);
  });

  test('CORS headers are added to error responses too', async () => {
    const handler = proxyHandler(
      async () => {
        throw new Error('boom');
      },
      { observability: recordingLogger(), originPolicy },
    );
    const result = await handler(event(headerMaps([['origin', 'https://app.example.com']])), lambdaContext());
    expect(result.statusCode).toBe(500);
    expect(result.multiValueHeaders!['access-control-allow-origin']).toEqual(['https://app.example.com']);
  });
});

describe('responses built by our helpers', () => {
  test('their text is handed on as built, without reading the body stream', async () => {
    const { textResponse, jsonResponse } = await import('../../../lambda/shared/http.js');
    const built = textResponse('{"a":1}', { status: 201, headers: { 'Content-Type': 'application/json' } });
    const result = await toProxyResult(built);
    expect(result).toMatchObject({ statusCode: 201, body: '{"a":1}', isBase64Encoded: false });
    expect(built.bodyUsed).toBe(false);
    expect((await toProxyResult(jsonResponse(400, { error: 'x' }))).body).toBe('{"error":"x"}');
  });

  test('once its body has been read, the body is what counts', async () => {
    const { textResponse } = await import('../../../lambda/shared/http.js');
    const built = textResponse('first', { status: 200, headers: { 'Content-Type': 'text/plain' } });
    await built.text();
    await expect(toProxyResult(built)).rejects.toThrow(); // a consumed body cannot be read twice; nothing stale is sent
  });
});
