/**
 * The MCP endpoint's one admission (lambda/mcp/admission.ts): each check's
 * answer, their order, what an admitted request carries, and, where admission
 * decides what the SDK would otherwise decide (Content-Type, body size, and the
 * 2025-era Accept and MCP-Protocol-Version rules), the SDK's own answer to the
 * same request, from a bare SDK server with nothing of ours in front of it.
 */
import { createMcpHandler, isJsonContentType as sdkIsJsonContentType, Server } from '@modelcontextprotocol/server';
import fc from 'fast-check';
import {
  BAD_METHOD_MESSAGE,
  createAdmission,
  EXPIRED_TOKEN_DESCRIPTION,
  FORBIDDEN_ORIGIN_MESSAGE,
  isJsonContentType,
  NO_CALLER_DESCRIPTION,
  NOT_ACCEPTABLE_MESSAGE,
  PARSE_ERROR_MESSAGE,
  PAYLOAD_TOO_LARGE_MESSAGE,
  refusalResult,
  UNSUPPORTED_MEDIA_TYPE_MESSAGE,
  unsupportedVersionMessage,
  type Admission,
  type AdmittedRequest,
  type Refusal,
} from '../../../lambda/mcp/admission.js';
import { LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS } from '../../../lambda/mcp/protocol-answers.generated.js';
import { MAX_REQUEST_BODY_BYTES } from '../../../lambda/mcp/protocol.js';
import { MALFORMED_REQUEST, toRequest } from '../../../lambda/shared/api-gateway.js';
import { createOriginPolicy } from '../../../lambda/shared/cors.js';
import { CLIENT_HEADERS, mcpEvent, type McpEventOptions } from './mcp-event.js';

const ALLOWED_ORIGIN = 'https://app.example.com';
const MODERN = MODERN_PROTOCOL_VERSIONS[0]!;
const NOW = Date.UTC(2026, 11, 3);
const admit = createAdmission({ originPolicy: createOriginPolicy([ALLOWED_ORIGIN]), now: () => NOW });
const future = Math.floor(NOW / 1000) + 600;
const event = (options: McpEventOptions) => mcpEvent({ ...options, caller: options.caller === null ? null : { exp: future, ...options.caller } });

function refusalOf(admission: Admission): Refusal {
  if (admission.admitted) throw new Error('expected a refusal');
  return admission.refusal;
}
function admittedOf(admission: Admission): AdmittedRequest {
  if (!admission.admitted) throw new Error(`refused: ${admission.refusal.status} ${admission.refusal.body}`);
  return admission.request;
}

const jsonRpcError = (code: number, message: string) => JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
const oauthError = (error: string, description: string) => JSON.stringify({ error, error_description: description });
const OURS = { 'content-type': 'application/json', 'cache-control': 'no-store', vary: 'Origin' };
const THE_SDKS = { 'content-type': 'application/json', vary: 'Origin' };

const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
const envelope = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} };

describe('each check, and its answer', () => {
  test.each<[string, McpEventOptions, Refusal]>([
    ['a header value with a line break', { body: ping, headers: [...CLIENT_HEADERS, ['X-Odd', 'a\r\nb']] }, { status: 400, headers: OURS, body: oauthError('invalid_request', MALFORMED_REQUEST.headers) }],
    ['a malformed Host', { body: ping, host: 'localhost:99999' }, { status: 400, headers: OURS, body: oauthError('invalid_request', MALFORMED_REQUEST.host) }],
    ['GET', { httpMethod: 'GET' }, { status: 405, headers: { ...OURS, allow: 'POST' }, body: jsonRpcError(-32000, BAD_METHOD_MESSAGE) }],
    ['a foreign Origin', { body: ping, headers: [...CLIENT_HEADERS, ['Origin', 'https://evil.example']] }, { status: 403, headers: OURS, body: jsonRpcError(-32000, FORBIDDEN_ORIGIN_MESSAGE) }],
    ['Origin: null', { body: ping, headers: [...CLIENT_HEADERS, ['Origin', 'null']] }, { status: 403, headers: OURS, body: jsonRpcError(-32000, FORBIDDEN_ORIGIN_MESSAGE) }],
    ['no authorizer context', { body: ping, caller: null }, { status: 401, headers: OURS, body: oauthError('invalid_token', NO_CALLER_DESCRIPTION) }],
    ['a token past its expiry and the clock tolerance', { body: ping, caller: { exp: Math.floor(NOW / 1000) - 11 } }, { status: 401, headers: OURS, body: oauthError('invalid_token', EXPIRED_TOKEN_DESCRIPTION) }],
    ['text/plain', { body: ping, headers: [['Content-Type', 'text/plain'], CLIENT_HEADERS[1]!] }, { status: 415, headers: OURS, body: jsonRpcError(-32000, UNSUPPORTED_MEDIA_TYPE_MESSAGE) }],
    ['a body one byte over the limit', { text: ' '.repeat(MAX_REQUEST_BODY_BYTES + 1) }, { status: 413, headers: OURS, body: jsonRpcError(-32000, PAYLOAD_TOO_LARGE_MESSAGE) }],
    ['a body that is not JSON', { text: '{"jsonrpc":' }, { status: 400, headers: OURS, body: jsonRpcError(-32700, PARSE_ERROR_MESSAGE) }],
    ['an empty body', { text: '' }, { status: 400, headers: OURS, body: jsonRpcError(-32700, PARSE_ERROR_MESSAGE) }],
    ['a 2025-era request without text/event-stream in Accept', { body: ping, headers: [['Content-Type', 'application/json'], ['Accept', 'application/json']] }, {
      status: 406,
      headers: THE_SDKS,
      body: jsonRpcError(-32000, NOT_ACCEPTABLE_MESSAGE),
      rpc: { method: 'ping', era: 'legacy', outcome: 'error', status: 406, errorCode: -32000, durationMs: 0 },
    }],
    ['a 2025-era request naming a version the SDK does not serve', { body: ping, headers: [...CLIENT_HEADERS, ['MCP-Protocol-Version', '1999-01-01']] }, {
      status: 400,
      headers: THE_SDKS,
      body: jsonRpcError(-32000, unsupportedVersionMessage('1999-01-01')),
      rpc: { method: 'ping', era: 'legacy', outcome: 'error', status: 400, errorCode: -32000, durationMs: 0 },
    }],
    ['an empty batch', { body: [] }, {
      status: 400,
      headers: OURS,
      body: jsonRpcError(-32600, 'Bad Request: empty JSON-RPC batch'),
      rpc: { method: 'batch', era: 'none', outcome: 'error', status: 400, errorCode: -32600, durationMs: 0 },
    }],
  ])('%s', (_case, options, expected) => {
    expect(refusalOf(admit(event(options)))).toEqual(expected);
  });

  test('the version refusal names the versions the 2025-era transport serves', () => {
    expect(unsupportedVersionMessage('x')).toBe(`Bad Request: Unsupported protocol version: x (supported versions: ${LEGACY_PROTOCOL_VERSIONS.join(', ')})`);
  });

  test('an allowed Origin gets its CORS headers on a refusal as on an answer', () => {
    const refusal = refusalOf(admit(event({ body: ping, caller: null, headers: [...CLIENT_HEADERS, ['Origin', ALLOWED_ORIGIN]] })));
    expect(refusal.headers).toMatchObject({ 'access-control-allow-origin': ALLOWED_ORIGIN, vary: 'Origin' });
    expect(refusalResult(refusal)).toEqual({
      statusCode: 401,
      multiValueHeaders: Object.fromEntries(Object.entries(refusal.headers).map(([name, value]) => [name, [value]])),
      body: refusal.body,
      isBase64Encoded: false,
    });
  });
});

test('the first check that fails answers', () => {
  const statusOf = (options: McpEventOptions) => refusalOf(admit(event(options))).status;
  const foreign = ['Origin', 'https://evil.example'] as const;
  // Each line fails every check from its own on; its status is its own check's.
  expect(statusOf({ host: '[:::]', httpMethod: 'GET', caller: null, headers: [['X-Odd', 'v'], foreign] })).toBe(400);
  expect(statusOf({ httpMethod: 'GET', caller: null, headers: [foreign] })).toBe(405);
  expect(statusOf({ caller: null, headers: [foreign] })).toBe(403);
  expect(statusOf({ caller: null, text: '{', headers: [['Content-Type', 'text/plain']] })).toBe(401);
  expect(statusOf({ text: ' '.repeat(MAX_REQUEST_BODY_BYTES + 1), headers: [['Content-Type', 'text/plain']] })).toBe(415);
  expect(statusOf({ text: '{'.repeat(MAX_REQUEST_BODY_BYTES + 1) })).toBe(413);
  expect(statusOf({ text: '{', headers: [['Content-Type', 'application/json']] })).toBe(400);
  expect(statusOf({ body: [ping, ping, ping, ping, ping, ping, ping, ping, ping, ping, ping], headers: [['Content-Type', 'application/json']] })).toBe(400);
  expect(statusOf({ body: ping, headers: [['Content-Type', 'application/json'], ['MCP-Protocol-Version', '1999-01-01']] })).toBe(406);
});

describe('an admitted request', () => {
  test('carries its URL, the headers as Headers would hold them, the caller, the parsed body and its era', () => {
    const request = admittedOf(
      admit(
        event({
          body: ping,
          host: ' MCP.Example.com ',
          headers: [...CLIENT_HEADERS, ['MCP-Protocol-Version', '2025-11-25'], ['X-Twice', ' a '], ['x-twice', 'b\t'], ['Origin', ALLOWED_ORIGIN]],
          caller: { sub: 'usr_9', scopes: ['web-search:read', 'web-search:crawl'] },
        }),
      ),
    );
    expect(request.url).toBe('https://mcp.example.com/web-search/mcp');
    expect(request.headers.get('x-twice')).toBe('a, b');
    expect(request.headers.get('accept')).toBe('application/json, text/event-stream');
    expect(request.caller).toMatchObject({ sub: 'usr_9', scopes: ['web-search:read', 'web-search:crawl'] });
    expect(request.body).toEqual(ping);
    expect(request.era).toBe('legacy');
    expect(request.responseHeaders).toMatchObject({ 'access-control-allow-origin': ALLOWED_ORIGIN });
    expect(request.receivedAt).toBe(NOW);
  });

  test('its body is the text a Request would decode: BOM dropped, lone surrogates replaced, base64 decoded', () => {
    expect(admittedOf(admit(event({ text: `\uFEFF${JSON.stringify(ping)}` }))).body).toEqual(ping);
    expect(admittedOf(admit(event({ text: '{"jsonrpc":"2.0","id":"a\uD800","method":"ping"}' }))).body).toEqual({ ...ping, id: 'a\uFFFD' });
    const base64 = Object.assign(event({ body: ping }), { body: Buffer.from(`\uFEFF${JSON.stringify(ping)}`).toString('base64'), isBase64Encoded: true });
    expect(admittedOf(admit(base64)).body).toEqual(ping);
  });

  test.each<[string, unknown, ReadonlyArray<readonly [string, string]>, string | undefined]>([
    ['a request without the envelope', ping, [], 'legacy'],
    ['initialize', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25' } }, [], 'legacy'],
    ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized' }, [], 'legacy'],
    ['a batch of plain messages', [ping, { jsonrpc: '2.0', method: 'notifications/initialized' }], [], 'legacy'],
    ['a request under the envelope', { ...ping, params: { _meta: envelope } }, [['MCP-Protocol-Version', MODERN]], 'modern'],
    ['a request under the envelope, whatever its version header says', { ...ping, params: { _meta: envelope } }, [['MCP-Protocol-Version', '2025-11-25']], 'modern'],
    ['initialize under the envelope (only a valid envelope makes it modern)', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { _meta: envelope } }, [], undefined],
    ['a request with a modern version header and no envelope', ping, [['MCP-Protocol-Version', MODERN]], undefined],
    ['a garbage version header (which sorts after 2026)', ping, [['MCP-Protocol-Version', 'garbage']], undefined],
    ['a progress token the schema refuses', { ...ping, params: { _meta: { progressToken: 1.5 } } }, [], undefined],
    ['a member JSON-RPC does not have', { ...ping, extra: 1 }, [], undefined],
    ['a fractional id', { ...ping, id: 1.5 }, [], undefined],
  ])('era of %s', (_case, body, headers, era) => {
    expect(admittedOf(admit(event({ body, headers: [...CLIENT_HEADERS, ...headers] }))).era).toBe(era);
  });

  test('an initialize is not held to a version header: the handshake negotiates', () => {
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    expect(admit(event({ body: initialize, headers: [...CLIENT_HEADERS, ['MCP-Protocol-Version', '1999-01-01']] })).admitted).toBe(true);
  });
});

describe('Content-Type: the SDK\'s rule', () => {
  const samples = [
    undefined,
    '',
    'application/json',
    'APPLICATION/JSON',
    'application/json; charset=utf-8',
    'application/json;charset="utf-8"',
    'application/json ; charset=utf-8',
    'application/json; charset',
    'application/json; a="b,c"',
    'application/json; a=b, text/plain',
    'application/json, text/plain',
    ' application/json',
    'application/json\u00a0',
    'application/jsonx',
    'application/json;',
    'application/json;;',
    'application/json; a="unterminated',
    'text/plain; x=application/json',
    'application/*',
  ];
  test.each(samples)('%p', (header) => {
    expect(isJsonContentType(header)).toBe(sdkIsJsonContentType(header ?? null));
  });

  test('fast-check: any header built from its parts is judged as the SDK judges it', () => {
    const part = fc.constantFrom('application/json', 'Application/JSON', 'text/plain', ';', ' ', ',', '"', '\\', '=', 'charset', 'utf-8', 'a', '\t', '\u00e9', '\u00a0', '/');
    fc.assert(
      fc.property(fc.array(part, { maxLength: 8 }).map((parts) => parts.join('')), (header) => {
        expect(isJsonContentType(header)).toBe(sdkIsJsonContentType(header));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('where admission decides before the SDK, it decides as the SDK does', () => {
  /** The SDK with nothing of ours in front: its handler, both eras, its own transport for 2025-era requests. */
  const bare = createMcpHandler(() => new Server({ name: 'bare', version: '0' }, { capabilities: { tools: {} } }), {
    maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
  });
  afterAll(() => bare.close());

  const bodies: unknown[] = [
    ping,
    { jsonrpc: '2.0', id: 'l', method: 'tools/list' },
    { jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: { ...envelope, 'io.modelcontextprotocol/clientInfo': { name: 'x', version: '1' } } } },
    [ping, { jsonrpc: '2.0', method: 'notifications/initialized' }],
  ];
  const accepts = [undefined, 'application/json, text/event-stream', 'application/json', 'text/event-stream', '*/*', 'APPLICATION/JSON, TEXT/EVENT-STREAM', 'application/jsonl, text/event-streams'];
  const contentTypes = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/json, text/plain', 'application/json; a="b,c"'];
  const versions = [undefined, ...LEGACY_PROTOCOL_VERSIONS, MODERN, '1999-01-01', '2025-11-25x', '', '2025-03-26'];

  /** The refusals admission takes over from the SDK (its other refusals are this server's own: Host, Origin, caller, batches). */
  const SDK_DECISIONS = new Set([406, 413, 415]);
  const isSdkDecision = (refusal: Refusal) => SDK_DECISIONS.has(refusal.status) || refusal.body.includes('Unsupported protocol version');

  async function sdkAnswer(options: McpEventOptions): Promise<{ status: number; body: string; contentType: string | null }> {
    const response = await bare.fetch(toRequest(event(options)));
    return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') };
  }

  test('Accept, Content-Type and MCP-Protocol-Version: the same refusals, with the same bodies; and none the SDK would make is let through', async () => {
    let refusals = 0;
    for (const body of bodies) {
      for (const accept of accepts) {
        for (const contentType of contentTypes) {
          for (const version of versions) {
            const headers: Array<readonly [string, string]> = [['Content-Type', contentType]];
            if (accept !== undefined) headers.push(['Accept', accept]);
            if (version !== undefined) headers.push(['MCP-Protocol-Version', version]);
            if (version !== undefined && !Array.isArray(body) && (body as { params?: object }).params && '_meta' in (body as { params: object }).params) {
              headers.push(['Mcp-Method', (body as { method: string }).method]);
            }
            const options = { body, headers };
            const admission = admit(event(options));
            const sdk = await sdkAnswer(options);
            const context = { body, headers };
            if (!admission.admitted && isSdkDecision(admission.refusal)) {
              refusals += 1;
              expect({ context, status: sdk.status, body: sdk.body }).toEqual({ context, status: admission.refusal.status, body: admission.refusal.body });
              if (admission.refusal.headers['cache-control'] === undefined) expect(sdk.contentType).toBe(admission.refusal.headers['content-type']);
            } else if (admission.admitted && admission.request.era === 'legacy') {
              // Admitted as 2025-era: the SDK's transport has nothing of these to refuse either.
              expect({ context, status: sdk.status }).not.toEqual({ context, status: 406 });
              expect({ context, status: sdk.status }).not.toEqual({ context, status: 415 });
              expect(sdk.body).not.toContain('Unsupported protocol version');
            }
          }
        }
      }
    }
    expect(refusals).toBeGreaterThan(500);
  }, 120_000);

  test('body size: the SDK\'s limit, counted in bytes whatever the encoding', async () => {
    const justOver = `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'é'.repeat((MAX_REQUEST_BODY_BYTES - 40) / 2)}"}}`;
    expect(Buffer.byteLength(justOver)).toBeGreaterThan(MAX_REQUEST_BODY_BYTES);
    expect(justOver.length).toBeLessThan(MAX_REQUEST_BODY_BYTES);
    const refusal = refusalOf(admit(event({ text: justOver })));
    const sdk = await sdkAnswer({ text: justOver });
    expect({ status: sdk.status, body: sdk.body }).toEqual({ status: refusal.status, body: refusal.body });
    const base64 = Object.assign(event({ text: justOver }), { body: Buffer.from(justOver).toString('base64'), isBase64Encoded: true });
    expect(refusalOf(admit(base64)).status).toBe(413);
  });
});
