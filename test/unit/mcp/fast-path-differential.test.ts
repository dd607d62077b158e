/**
 * The fast path (lambda/mcp/fast-path.ts) against the SDK path (sdk-path.ts,
 * the MCP SDK v2 server behind the MCP endpoint), on the same API Gateway
 * events, each behind the one admission (admission.ts) as index.ts runs them:
 * every request shape in both eras (valid, malformed, each header out of line,
 * malformed Hosts, each version, each scope set, odd bodies and hostile headers).
 *
 * Wherever the fast path answers, its answer must be the SDK path's: the same
 * status, the same headers, byte-equal bodies, the same log line (its duration
 * aside). Where it declines, the SDK path answers as it always has. A refused
 * request gets the same answer on both. And the requests a client actually
 * opens with must be answered by the fast path, so that it cannot pass this
 * test by declining everything.
 *
 * When the SDK is upgraded (and `npm run generate` has taken its answers again),
 * this test says whether the fast path still answers as the SDK does.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { authorizerContext, proxyEvent } from '../../../local/api-gateway-events.js';
import { createAdmission, refusalResult } from '../../../lambda/mcp/admission.js';
import { createFastPath } from '../../../lambda/mcp/fast-path.js';
import { LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS } from '../../../lambda/mcp/protocol-answers.generated.js';
import type { RpcReport } from '../../../lambda/mcp/protocol.js';
import { createSdkHandler } from '../../../lambda/mcp/sdk-path.js';
import { parseMcpSettings } from '../../../lambda/mcp/settings.js';
import { createToolRuntime, runPlainToolCall } from '../../../lambda/mcp/tool-runtime.js';
import { MALFORMED_REQUEST } from '../../../lambda/shared/api-gateway.js';
import { callerContext } from '../../../lambda/shared/caller.js';
import { createOriginPolicy } from '../../../lambda/shared/cors.js';
import type { Observability } from '../../../lambda/shared/observability.js';
import { formatToolScopes, defaultToolScopes } from '../../../lambda/shared/settings.js';

const ALLOWED_ORIGIN = 'https://app.example';
const MODERN = MODERN_PROTOCOL_VERSIONS[0]!;
const READ = 'web-search:read';
const CRAWL = 'web-search:crawl';
// web_crawl needs a second scope, so that the listing depends on the caller.
const toolScopes = { ...defaultToolScopes(), web_crawl: [READ, CRAWL] };
const settings = parseMcpSettings({
  ALLOWED_ORIGINS: ALLOWED_ORIGIN,
  TOOL_SCOPES: formatToolScopes(toolScopes),
  // Nothing here may reach Tavily: no request of this test calls a tool successfully.
  TAVILY_API_BASE_URL: 'http://127.0.0.1:9',
  TAVILY_API_KEY: 'tvly-differential-test',
  CACHE_TTL_SECONDS: '0',
});
const admit = createAdmission({ originPolicy: createOriginPolicy(settings.allowedOrigins) });
const fastAnswer = createFastPath({ toolScopes: settings.toolScopes });

/** The SDK path's log lines ('JSON-RPC' reports), captured instead of written. */
const sdkReports: RpcReport[] = [];
const quietObservability = {
  logger: {
    info: (message: string, attributes: RpcReport) => {
      if (message === 'JSON-RPC') sdkReports.push(attributes);
    },
    warn: () => {},
    error: () => {},
  },
  count: () => {},
  measure: () => {},
  invocation: (_requestId: string, _context: unknown, work: () => Promise<unknown>) => work(),
} as unknown as Observability;
const sdkHandler = createSdkHandler(settings, quietObservability);
// The fast path's own instance: a tool call it runs must not share a key cache or guard with the SDK path's.
const fastRuntime = createToolRuntime(settings, quietObservability);
const invocation = { requestId: 'req-1', remainingTimeMs: () => 20_000 };

const SCOPE_SETS: readonly (readonly string[])[] = [[READ], [READ, CRAWL], [CRAWL, READ, 'other:scope'], []];

interface Shape {
  readonly body: unknown;
  /** Raw body text, instead of JSON.stringify(body). */
  readonly text?: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly scopes?: readonly string[];
  readonly expiresIn?: number;
  readonly noAuthorizer?: boolean;
  readonly base64?: boolean;
  readonly httpMethod?: string;
  /** Only `headers` in the event (no multiValueHeaders), as some proxies and tests send it. */
  readonly singleValueHeaders?: boolean;
  /** The Host header (null: none, so the request context's domain name stands in). */
  readonly host?: string | null;
}

function eventFor(shape: Shape): APIGatewayProxyEvent {
  const caller = {
    sub: 'usr_1',
    clientId: 'client_1',
    scopes: shape.scopes ?? [READ],
    exp: Math.floor(Date.now() / 1000) + (shape.expiresIn ?? 600),
    tokenId: 'tok_1',
  };
  const text = shape.text ?? JSON.stringify(shape.body);
  const event = proxyEvent(
    {
      method: shape.httpMethod ?? 'POST',
      path: '/web-search/mcp',
      resource: '/web-search/mcp',
      rawHeaders: [...(shape.host === null ? [] : [['Host', shape.host ?? 'mcp.example.com'] as const]), ...shape.headers],
      query: new URLSearchParams(),
      body: Buffer.from(text),
      sourceIp: '127.0.0.1',
      requestId: 'req-1',
      host: 'mcp.example.com',
    },
    shape.noAuthorizer ? undefined : authorizerContext({ principalId: caller.sub, context: callerContext(caller) }),
  );
  if (shape.base64) Object.assign(event, { body: Buffer.from(text).toString('base64'), isBase64Encoded: true });
  else Object.assign(event, { body: text });
  if (shape.singleValueHeaders) Object.assign(event, { multiValueHeaders: undefined });
  return event;
}

const comparable = (result: APIGatewayProxyResult) => ({
  statusCode: result.statusCode,
  headers: result.headers ?? {},
  multiValueHeaders: result.multiValueHeaders ?? {},
  body: result.body,
  isBase64Encoded: result.isBase64Encoded ?? false,
});

interface PathAnswer {
  readonly result: APIGatewayProxyResult;
  /** The log line, its duration aside. */
  readonly report: Omit<RpcReport, 'durationMs'> | undefined;
}

const withoutDuration = (report: RpcReport | undefined) => {
  if (!report) return undefined;
  const { durationMs: _durationMs, ...rest } = report;
  return rest;
};

/** The fast path as index.ts runs it: admission's refusal, the fast answer, or undefined (then the SDK path serves). */
async function viaFastPath(event: APIGatewayProxyEvent): Promise<(PathAnswer & { readonly refused: boolean }) | undefined> {
  const admission = admit(event);
  if (!admission.admitted) return { result: refusalResult(admission.refusal), report: withoutDuration(admission.refusal.rpc), refused: true };
  const judged = fastAnswer(admission.request);
  // Tool calls are compared with a fake Tavily in fast-path-tool-call.test.ts; here one is run as index.ts would (Tavily unreachable).
  const answer = judged && 'call' in judged ? await runPlainToolCall(fastRuntime, judged.call, admission.request, invocation.remainingTimeMs).then((result) => result && judged.answer(result)) : judged;
  return answer && { result: answer.result, report: withoutDuration(answer.rpc), refused: false };
}

/** The SDK path as index.ts runs it: admission's refusal, or the SDK's answer to what it admits. */
async function viaSdkPath(event: APIGatewayProxyEvent): Promise<PathAnswer> {
  const admission = admit(event);
  if (!admission.admitted) return { result: refusalResult(admission.refusal), report: withoutDuration(admission.refusal.rpc) };
  sdkReports.length = 0;
  const result = await sdkHandler(admission.request, invocation);
  // One line per message: a batch's several are never compared, since the fast path answers no batch.
  return { result, report: sdkReports.length === 1 ? withoutDuration(sdkReports[0]) : undefined };
}

/** Both paths on one event: equal wherever the fast path answers. Resolves to who answered. */
async function compare(shape: Shape): Promise<'fast' | 'refused' | 'sdk'> {
  const event = eventFor(shape);
  const fast = await viaFastPath(structuredClone(event));
  const sdk = await viaSdkPath(structuredClone(event));
  if (!fast) return 'sdk';
  expect({ shape, answer: comparable(fast.result) }).toEqual({ shape, answer: comparable(sdk.result) });
  expect({ shape, report: fast.report }).toEqual({ shape, report: sdk.report });
  if (!fast.refused) expect(fast.report).toBeDefined();
  return fast.refused ? 'refused' : 'fast';
}

const ACCEPT: readonly [string, string] = ['Accept', 'application/json, text/event-stream'];
const JSON_TYPE: readonly [string, string] = ['Content-Type', 'application/json'];
const legacyHeaders = (version?: string, ...more: Array<readonly [string, string]>) => [
  JSON_TYPE,
  ACCEPT,
  ...(version === undefined ? [] : [['MCP-Protocol-Version', version] as const]),
  ...more,
];
const modernHeaders = (method: string, ...more: Array<readonly [string, string]>) => [
  JSON_TYPE,
  ACCEPT,
  ['MCP-Protocol-Version', MODERN] as const,
  ['Mcp-Method', method] as const,
  ...more,
];
const envelope = (more: Record<string, unknown> = {}) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'differential', version: '1.0.0' },
  ...more,
});
const initialize = (params: Record<string, unknown> = {}, id: unknown = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'differential', version: '1.0.0' }, ...params },
});
const request = (method: string, params?: unknown, id: unknown = 2) => ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
const modernRequest = (method: string, meta: Record<string, unknown> = {}, id: unknown = 3) => request(method, { _meta: envelope(meta) }, id);

/** What clients open with: each must be answered by the fast path, and as the SDK answers it. */
function openingRequests(): Shape[] {
  const shapes: Shape[] = [];
  for (const scopes of SCOPE_SETS) {
    for (const origin of [[], [['Origin', ALLOWED_ORIGIN] as const]]) {
      for (const version of LEGACY_PROTOCOL_VERSIONS) {
        shapes.push({ body: initialize({ protocolVersion: version }), headers: legacyHeaders(undefined, ...origin), scopes });
        shapes.push({ body: request('tools/list', undefined, 'list-1'), headers: legacyHeaders(version, ...origin), scopes });
        shapes.push({ body: request('ping', {}, 9), headers: legacyHeaders(version, ...origin), scopes });
      }
      shapes.push({ body: { jsonrpc: '2.0', method: 'notifications/initialized' }, headers: legacyHeaders('2025-11-25', ...origin), scopes });
      shapes.push({ body: request('tools/list', {}, 0), headers: legacyHeaders(undefined, ...origin), scopes });
      shapes.push({ body: modernRequest('server/discover', {}, 'd-1'), headers: modernHeaders('server/discover', ...origin), scopes });
      shapes.push({ body: modernRequest('tools/list', {}, 4), headers: modernHeaders('tools/list', ...origin), scopes });
    }
  }
  // Real clients' capabilities and identities.
  const capabilities = [
    { roots: { listChanged: true }, sampling: {}, elicitation: { form: {}, url: {} } },
    { elicitation: {} },
    { sampling: { context: {}, tools: {} }, experimental: { 'x-feature': {} }, extensions: { 'io.example/ext': { on: true } } },
  ];
  for (const caps of capabilities) {
    shapes.push({ body: initialize({ capabilities: caps, clientInfo: { name: 'claude-code', title: 'Claude Code', version: '2.1.0' } }), headers: legacyHeaders() });
    shapes.push({
      body: modernRequest('tools/list', { 'io.modelcontextprotocol/clientCapabilities': caps }),
      headers: modernHeaders('tools/list'),
    });
  }
  return shapes;
}

test('every request a client opens with is answered by the fast path, exactly as the SDK answers it', async () => {
  const shapes = openingRequests();
  const missed: Shape[] = [];
  for (const shape of shapes) if ((await compare(shape)) !== 'fast') missed.push(shape);
  expect(missed).toEqual([]);
  expect(shapes.length).toBeGreaterThan(150);
});

/** Every way a request can differ from a plain success, each on an otherwise valid request. */
function variants(): Shape[] {
  const shapes: Shape[] = [];
  const legacyBodies = [
    initialize(),
    request('tools/list'),
    request('ping'),
    { jsonrpc: '2.0', method: 'notifications/initialized' },
  ];
  const modernBodies = [modernRequest('server/discover'), modernRequest('tools/list')];
  const methodOf = (body: unknown) => (body as { method: string }).method;

  // Header variants.
  const versionHeaders = [undefined, ...LEGACY_PROTOCOL_VERSIONS, MODERN, '2099-01-01', 'garbage', ' 2025-11-25 ', '2025-11-25, 2025-06-18', ''];
  const acceptHeaders = [undefined, 'application/json', 'text/event-stream', '*/*', 'text/event-stream, application/json', 'application/json,text/event-stream'];
  const contentTypes = [undefined, 'application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8', 'text/plain', 'application/json, text/plain', 'application/jsonx'];
  const origins = [ALLOWED_ORIGIN, 'https://evil.example', 'null', `${ALLOWED_ORIGIN}/`];
  for (const body of legacyBodies) {
    for (const version of versionHeaders) shapes.push({ body, headers: [JSON_TYPE, ACCEPT, ...(version === undefined ? [] : [['MCP-Protocol-Version', version] as const])] });
    for (const accept of acceptHeaders) shapes.push({ body, headers: [JSON_TYPE, ...(accept === undefined ? [] : [['Accept', accept] as const])] });
    for (const type of contentTypes) shapes.push({ body, headers: [ACCEPT, ...(type === undefined ? [] : [['Content-Type', type] as const])] });
    for (const origin of origins) shapes.push({ body, headers: legacyHeaders(undefined, ['Origin', origin]) });
    shapes.push({ body, headers: legacyHeaders(undefined, ['Origin', ALLOWED_ORIGIN], ['origin', ALLOWED_ORIGIN]) });
    shapes.push({ body, headers: legacyHeaders(undefined, ['Mcp-Method', methodOf(body)]) });
    shapes.push({ body, headers: legacyHeaders(undefined, ['Mcp-Method', 'tools/call']) });
    shapes.push({ body, headers: legacyHeaders('2025-11-25', ['Mcp-Name', 'web_search']) });
    shapes.push({ body, headers: legacyHeaders('2025-11-25', ['X-Odd', 'caf\u00e9']) });
    shapes.push({ body, headers: legacyHeaders('2025-11-25', ['X-Odd', 'euro \u20ac']) });
    shapes.push({ body, headers: legacyHeaders('2025-11-25', ['X-Odd', 'line\nbreak']) });
    shapes.push({ body, headers: legacyHeaders('2025-11-25', ['Bad Name', 'x']) });
    shapes.push({ body, headers: [...legacyHeaders('2025-11-25'), ['accept', 'application/json']] });
    shapes.push({ body, headers: legacyHeaders('2025-11-25'), singleValueHeaders: true });
    shapes.push({ body, headers: [['Content-Type', ' application/json '], ['Accept', '  application/json, text/event-stream\t']] });
  }
  for (const body of modernBodies) {
    const method = methodOf(body);
    const standard = (version: string | undefined, name: string | undefined, ...more: Array<readonly [string, string]>) => [
      JSON_TYPE,
      ACCEPT,
      ...(version === undefined ? [] : [['MCP-Protocol-Version', version] as const]),
      ...(name === undefined ? [] : [['Mcp-Method', name] as const]),
      ...more,
    ];
    for (const version of [undefined, '2025-11-25', ` ${MODERN}\t`, '2099-01-01', `${MODERN}, ${MODERN}`]) shapes.push({ body, headers: standard(version, method) });
    for (const name of [undefined, 'tools/call', ` ${method} `, method.toUpperCase()]) shapes.push({ body, headers: standard(MODERN, name) });
    shapes.push({ body, headers: standard(MODERN, method, ['Mcp-Name', 'web_search']) });
    shapes.push({ body, headers: standard(MODERN, method, ['Mcp-Method', method]) });
    for (const accept of [undefined, 'application/json', '*/*']) {
      shapes.push({ body, headers: [JSON_TYPE, ...(accept ? [['Accept', accept] as const] : []), ['MCP-Protocol-Version', MODERN], ['Mcp-Method', method]] });
    }
    for (const type of contentTypes) {
      shapes.push({ body, headers: [ACCEPT, ...(type === undefined ? [] : [['Content-Type', type] as const]), ['MCP-Protocol-Version', MODERN], ['Mcp-Method', method]] });
    }
    for (const origin of origins) shapes.push({ body, headers: standard(MODERN, method, ['Origin', origin]) });
    shapes.push({ body, headers: standard(MODERN, method), singleValueHeaders: true });
  }

  // Body variants: ids, envelopes, members, JSON text.
  const ids: unknown[] = [0, -7, 2 ** 53 + 2, 'id-\u00e9', '', '\u{1F600}', 1.5, null, true, { nested: 1 }, [1]];
  for (const id of ids) {
    shapes.push({ body: initialize({}, id), headers: legacyHeaders() });
    shapes.push({ body: request('tools/list', undefined, id), headers: legacyHeaders('2025-11-25') });
    shapes.push({ body: modernRequest('server/discover', {}, id), headers: modernHeaders('server/discover') });
  }
  shapes.push({ body: { jsonrpc: '2.0', method: 'tools/list' }, headers: legacyHeaders('2025-11-25') }); // a notification named tools/list
  shapes.push({ body: { jsonrpc: '2.0', method: 'ping' }, headers: legacyHeaders('2025-11-25') });
  shapes.push({ body: { jsonrpc: '2.0', id: 5, method: 'notifications/initialized' }, headers: legacyHeaders('2025-11-25') });
  shapes.push({ body: { jsonrpc: '2.0', method: 'notifications/initialized', params: { _meta: {} } }, headers: legacyHeaders('2025-11-25') });
  shapes.push({ body: { jsonrpc: '2.0', method: 'notifications/initialized', params: { extra: 1 } }, headers: legacyHeaders('2025-11-25') });
  shapes.push({ body: { jsonrpc: '2.0', method: 'notifications/initialized', params: { _meta: envelope() } }, headers: modernHeaders('notifications/initialized') });
  for (const body of [...legacyBodies, ...modernBodies]) {
    const headers = (body as { params?: { _meta?: unknown } }).params?._meta ? modernHeaders(methodOf(body)) : legacyHeaders('2025-11-25');
    shapes.push({ body: { ...(body as object), extra: true }, headers });
    shapes.push({ body: { ...(body as object), jsonrpc: '1.0' }, headers });
    shapes.push({ body: { ...(body as object), jsonrpc: undefined }, headers });
    shapes.push({ body: { ...(body as object), params: [] }, headers });
    shapes.push({ body: { ...(body as object), params: null }, headers });
    shapes.push({ body: [body], headers });
    shapes.push({ body, text: `\uFEFF${JSON.stringify(body)}`, headers });
    shapes.push({ body, text: JSON.stringify(body, null, 2), headers });
    shapes.push({ body, text: JSON.stringify(body).replace('"method"', '"meth\\u006fd"'), headers });
    shapes.push({ body, text: `${JSON.stringify(body)} x`, headers });
    shapes.push({ body, text: '', headers });
    shapes.push({ body, headers, base64: true });
    shapes.push({ body, headers, httpMethod: 'GET' });
    shapes.push({ body, headers, expiresIn: -60 });
    shapes.push({ body, headers, noAuthorizer: true });
  }
  shapes.push({ body: request('tools/list', undefined, 'lone-\uD800'), text: '{"jsonrpc":"2.0","id":"lone-\uD800","method":"tools/list"}', headers: legacyHeaders('2025-11-25') });
  shapes.push({ body: request('tools/list', { cursor: 'abc' }), headers: legacyHeaders('2025-11-25') });
  shapes.push({ body: request('tools/list', { _meta: { progressToken: 1 } }), headers: legacyHeaders('2025-11-25') });
  shapes.push({ body: request('ping', { _meta: { progressToken: 'p' } }), headers: legacyHeaders('2025-11-25') });
  shapes.push({ body: request('tools/list', { _meta: envelope(), cursor: 'abc' }), headers: modernHeaders('tools/list') });
  shapes.push({ body: request('tools/list', { _meta: envelope(), extra: 1 }), headers: modernHeaders('tools/list') });

  // initialize's params.
  for (const protocolVersion of [MODERN, '2099-01-01', '', 20251125, undefined]) shapes.push({ body: initialize({ protocolVersion }), headers: legacyHeaders() });
  shapes.push({ body: initialize(), headers: legacyHeaders(MODERN) });
  shapes.push({ body: initialize(), headers: legacyHeaders('garbage') });
  shapes.push({ body: initialize({ extra: 1 }), headers: legacyHeaders() });
  shapes.push({ body: initialize({ _meta: envelope() }), headers: modernHeaders('initialize') });
  shapes.push({ body: initialize({ _meta: { progressToken: 1 } }), headers: legacyHeaders() });
  const capabilities: unknown[] = [
    undefined,
    null,
    [],
    'all',
    { roots: { listChanged: 'yes' } },
    { roots: true },
    { sampling: [] },
    { sampling: { context: true } },
    { elicitation: { form: { applyDefaults: 1 } } },
    { elicitation: { form: { applyDefaults: true }, url: {} } },
    { elicitation: 'on' },
    { tasks: {} },
    { tasks: { list: {} } },
    { experimental: { flag: true } },
    { experimental: [] },
    { extensions: { 'io.example/ext': [] } },
    { somethingNew: 5 },
  ];
  for (const caps of capabilities) {
    shapes.push({ body: initialize({ capabilities: caps }), headers: legacyHeaders() });
    shapes.push({ body: modernRequest('tools/list', { 'io.modelcontextprotocol/clientCapabilities': caps }), headers: modernHeaders('tools/list') });
  }
  const clientInfos: unknown[] = [
    undefined,
    { name: 'x' },
    { version: '1' },
    { name: 1, version: '1' },
    { name: 'x', version: '1', title: 7 },
    { name: 'x', version: '1', icons: [] },
    { name: 'x', version: '1', icons: [{ src: 'https://example.com/i.png' }] },
    { name: 'x', version: '1', websiteUrl: 'https://example.com', description: 'd' },
    { name: 'x', version: '1', vendor: 'y' },
    'x',
  ];
  for (const info of clientInfos) {
    shapes.push({ body: initialize({ clientInfo: info }), headers: legacyHeaders() });
    shapes.push({ body: modernRequest('server/discover', { 'io.modelcontextprotocol/clientInfo': info }), headers: modernHeaders('server/discover') });
  }
  // The modern envelope.
  for (const version of ['2025-11-25', '2099-01-01', 20260728, '']) {
    shapes.push({ body: modernRequest('tools/list', { 'io.modelcontextprotocol/protocolVersion': version }), headers: modernHeaders('tools/list') });
  }
  shapes.push({ body: request('tools/list', { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } }), headers: modernHeaders('tools/list') });
  shapes.push({ body: modernRequest('tools/list', { 'io.modelcontextprotocol/logLevel': 'debug' }), headers: modernHeaders('tools/list') });
  shapes.push({ body: modernRequest('tools/list', { progressToken: 'p' }), headers: modernHeaders('tools/list') });
  shapes.push({ body: request('tools/list', {}), headers: modernHeaders('tools/list') });
  shapes.push({ body: request('tools/list'), headers: modernHeaders('tools/list') });

  // Methods the fast path leaves to the SDK, in both eras.
  for (const method of ['tools/call', 'resources/list', 'prompts/list', 'logging/setLevel', 'subscriptions/listen', 'made/up', 'initialize', 'ping', 'server/discover']) {
    shapes.push({ body: request(method, { name: 'nope', arguments: 'x' }), headers: legacyHeaders('2025-11-25') });
    shapes.push({ body: modernRequest(method), headers: modernHeaders(method) });
    shapes.push({ body: request(method), headers: legacyHeaders('2025-11-25') });
  }
  return shapes;
}

test('wherever a request differs from a plain success, the fast path answers as the SDK does, or leaves it to the SDK', async () => {
  const shapes = variants();
  let answered = 0;
  for (const scopes of [[READ], [READ, CRAWL]]) {
    for (const shape of shapes) if ((await compare({ scopes, ...shape })) === 'fast') answered += 1;
  }
  // Some of the variants are plain successes in another form (other ids, extra capabilities, trimmed headers):
  // the fast path takes those, so the comparison above covered real answers, not only refusals.
  expect(answered).toBeGreaterThan(150);
  expect(shapes.length).toBeGreaterThan(400);
}, 120_000);

test('fast-check: random requests built from the parts above never get a fast answer that differs from the SDK', async () => {
  const header = (name: string, values: readonly string[]) =>
    fc.option(fc.constantFrom(...values).map((value) => [name, value] as const), { nil: undefined });
  const value = fc.oneof(fc.constantFrom<unknown>(undefined, null, {}, [], '', 0, true, 'x'), fc.jsonValue({ maxDepth: 2 }));
  const shape = fc.record({
    modern: fc.boolean(),
    method: fc.constantFrom('initialize', 'ping', 'tools/list', 'server/discover', 'notifications/initialized', 'tools/call'),
    id: fc.option(fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.double()), { nil: undefined }),
    capabilities: fc.oneof(fc.constant({}), fc.dictionary(fc.constantFrom('roots', 'sampling', 'elicitation', 'experimental', 'tasks', 'other'), value, { maxKeys: 3 })),
    clientInfo: fc.oneof(fc.constant({ name: 'n', version: '1' }), fc.dictionary(fc.constantFrom('name', 'version', 'title', 'icons'), value, { maxKeys: 3 })),
    version: fc.constantFrom(...LEGACY_PROTOCOL_VERSIONS, MODERN, 'bad'),
    extraParam: fc.option(fc.tuple(fc.constantFrom('cursor', '_meta', 'name', 'x'), value), { nil: undefined }),
    versionHeader: header('MCP-Protocol-Version', [...LEGACY_PROTOCOL_VERSIONS, MODERN, 'bad', '']),
    methodHeader: header('Mcp-Method', ['initialize', 'ping', 'tools/list', 'server/discover', 'notifications/initialized', 'x']),
    nameHeader: header('Mcp-Name', ['web_search', '']),
    accept: header('Accept', ['application/json, text/event-stream', 'application/json', '*/*']),
    contentType: header('Content-Type', ['application/json', 'application/json; charset=utf-8', 'text/plain']),
    origin: header('Origin', [ALLOWED_ORIGIN, 'https://evil.example']),
    scopes: fc.constantFrom(...SCOPE_SETS),
  });
  await fc.assert(
    fc.asyncProperty(shape, async (s) => {
      const params: Record<string, unknown> =
        s.method === 'initialize' && !s.modern ? { protocolVersion: s.version, capabilities: s.capabilities, clientInfo: s.clientInfo } : {};
      if (s.modern) {
        params._meta = {
          'io.modelcontextprotocol/protocolVersion': s.version,
          'io.modelcontextprotocol/clientCapabilities': s.capabilities,
          'io.modelcontextprotocol/clientInfo': s.clientInfo,
        };
      }
      if (s.extraParam) params[s.extraParam[0]] = s.extraParam[1];
      const body = { jsonrpc: '2.0', ...(s.id === undefined ? {} : { id: s.id }), method: s.method, params };
      const headers = [s.versionHeader, s.methodHeader, s.nameHeader, s.accept, s.contentType, s.origin].filter((each) => each !== undefined);
      await compare({ body, headers, scopes: s.scopes });
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 400) },
  );
}, 120_000);

/** Every method shape, in both eras, with the headers a client of its era sends. */
function methodShapes(): Shape[] {
  const legacyBodies: unknown[] = [
    initialize(),
    request('tools/list'),
    request('ping'),
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    request('tools/call', { name: 'web_search', arguments: 'not an object' }),
    request('made/up'),
    [request('tools/list', undefined, 1), request('ping', undefined, 2)],
  ];
  const shapes: Shape[] = legacyBodies.map((body) => ({ body, headers: legacyHeaders(Array.isArray(body) ? '2025-03-26' : '2025-11-25') }));
  for (const method of ['server/discover', 'tools/list', 'made/up']) shapes.push({ body: modernRequest(method), headers: modernHeaders(method) });
  shapes.push({
    body: request('tools/call', { name: 'web_search', arguments: 'not an object', _meta: envelope() }),
    headers: modernHeaders('tools/call', ['Mcp-Name', 'web_search']),
  });
  return shapes;
}

const methodOf = (body: unknown) => (Array.isArray(body) ? 'batch' : (body as { method: string }).method);

/** `headers` with every `name` header (any case) replaced by `values` (none: removed). */
function replaced(headers: Shape['headers'], name: string, values: readonly string[] | undefined): Shape['headers'] {
  const kept = headers.filter(([each]) => each.toLowerCase() !== name.toLowerCase());
  return [...kept, ...(values ?? []).map((value) => [name, value] as const)];
}

/** Malformed, duplicated, over-long, oddly spaced and non-ASCII values of each header that matters here. */
function headerVariants(method: string): Array<readonly [string, readonly string[] | undefined]> {
  return [
    ['Content-Type', ['application/json', 'application/json']],
    ['Content-Type', ['application/json; charset=utf-8; profile="x"']],
    ['Content-Type', ['application/json;charset="utf-8"']],
    ['Content-Type', ['application/json ; charset=utf-8']],
    ['Content-Type', ['application/json; charset']],
    ['Content-Type', ['application/json; a="b,c"']],
    ['Content-Type', ['application/json; a=b, text/plain']],
    ['Content-Type', ['Application/Json; Charset=UTF-8']],
    ['Content-Type', ['\tapplication/json\t']],
    ['Content-Type', ['application/json\u00a0']],
    ['Content-Type', ['']],
    ['Accept', ['application/json', 'text/event-stream']],
    ['Accept', ['application/json;q=0.9, text/event-stream;q=0.8']],
    ['Accept', ['APPLICATION/JSON, TEXT/EVENT-STREAM']],
    ['Accept', ['application/*, text/*']],
    ['Accept', ['application/jsonl, text/event-streams']],
    ['Accept', [`application/json, text/event-stream, ${'x/y, '.repeat(2000)}z/z`]],
    ['Accept', ['']],
    ['Accept', undefined],
    ['MCP-Protocol-Version', ['2025-11-25', '2025-11-25']],
    ['MCP-Protocol-Version', [MODERN, MODERN]],
    ['MCP-Protocol-Version', [` \t${MODERN} `]],
    ['MCP-Protocol-Version', [' \t2025-11-25 ']],
    ['MCP-Protocol-Version', ['2025-11-25x']],
    ['MCP-Protocol-Version', [`${MODERN}garbage`]],
    ['MCP-Protocol-Version', ['1999-01-01']],
    ['MCP-Protocol-Version', ['9999-99-99']],
    ['MCP-Protocol-Version', ['2025-11-25\u00e9']],
    ['MCP-Protocol-Version', [',']],
    ['MCP-Protocol-Version', ['null']],
    ['MCP-Protocol-Version', ['x'.repeat(8000)]],
    ['MCP-Protocol-Version', ['']],
    ['MCP-Protocol-Version', undefined],
    ['Mcp-Method', [method, method]],
    ['Mcp-Method', [`\t${method}`]],
    ['Mcp-Method', [`${method}\u00a0`]],
    ['Mcp-Method', ['x'.repeat(5000)]],
    ['Mcp-Method', undefined],
    ['Mcp-Name', ['=?base64?!!!?=']],
    ['Mcp-Name', ['web_search', 'web_map']],
    ['Origin', ['null']],
    ['Origin', ['']],
    ['Origin', [ALLOWED_ORIGIN, ALLOWED_ORIGIN]],
    ['Origin', ['https://\u00e4pp.example']],
    ['Origin', [ALLOWED_ORIGIN.toUpperCase()]],
    ['X-Odd', ['\u20ac']],
    ['X-Odd', ['a\u0001b\u007f']],
    ['X-Odd', ['a'.repeat(100_000)]],
    ['X Odd', ['x']],
    ['Cookie', ['a=1', 'b=2']],
  ];
}

test('malformed, duplicated, over-long and non-ASCII headers on every method shape: the same answer on both paths', async () => {
  const answeredBy = { fast: 0, refused: 0, sdk: 0 };
  let shapes = 0;
  for (const base of methodShapes()) {
    for (const [name, values] of headerVariants(methodOf(base.body))) {
      answeredBy[await compare({ ...base, headers: replaced(base.headers, name, values) })] += 1;
      shapes += 1;
    }
  }
  expect(shapes).toBeGreaterThan(500);
  // Each of the three answers some of them: admission refuses, the fast path answers, the SDK path answers.
  expect(answeredBy.fast).toBeGreaterThan(50);
  expect(answeredBy.refused).toBeGreaterThan(50);
  expect(answeredBy.sdk).toBeGreaterThan(50);
}, 120_000);

const MALFORMED_HOSTS = [
  'localhost:99999',
  'localhost:65536',
  '[:::]',
  '[1.2.3.4]:1',
  '',
  'exa mple.com',
  'example.com/path',
  'example.com?x=1',
  'user@example.com',
  'example.com:',
  'example.com:1:2',
  '[::1',
  '::1',
  '999.1.1.1',
  '1.2.3.4.5',
  'ex\u00e4mple.com',
  'a_b.example',
  `${'a'.repeat(250)}.com`,
];

test('a malformed Host gets the same 400 on every method and both paths, whatever else the request holds', async () => {
  const expected = {
    statusCode: 400,
    headers: {},
    multiValueHeaders: { 'content-type': ['application/json'], 'cache-control': ['no-store'], vary: ['Origin'] },
    body: JSON.stringify({ error: 'invalid_request', error_description: MALFORMED_REQUEST.host }),
    isBase64Encoded: false,
  };
  const hostile: Array<Partial<Shape>> = [{}, { httpMethod: 'GET' }, { httpMethod: 'DELETE' }, { noAuthorizer: true }, { expiresIn: -60 }, { text: '{' }];
  let checked = 0;
  for (const host of MALFORMED_HOSTS) {
    for (const base of methodShapes()) {
      for (const more of hostile) {
        const event = eventFor({ ...base, ...more, host });
        const fast = await viaFastPath(structuredClone(event));
        const sdk = await viaSdkPath(structuredClone(event));
        expect({ host, answer: fast && comparable(fast.result) }).toEqual({ host, answer: expected });
        expect({ host, answer: comparable(sdk.result) }).toEqual({ host, answer: expected });
        checked += 1;
      }
    }
  }
  // Two Host headers are one malformed Host (RFC 9110), even when they agree.
  for (const base of methodShapes()) {
    const fast = await viaFastPath(eventFor({ ...base, headers: [...base.headers, ['Host', 'mcp.example.com']] }));
    expect(fast && comparable(fast.result)).toEqual(expected);
  }
  expect(checked).toBeGreaterThan(1000);
}, 120_000);

test('well-formed Hosts, or none: both paths answer alike, and the fast path still answers what clients open with', async () => {
  const hosts = ['mcp.example.com:443', 'MCP.EXAMPLE.COM', '[::1]:8080', '127.0.0.1', 'localhost:65535', ' mcp.example.com\t', 'mcp.example.com.', null];
  for (const host of hosts) {
    for (const base of methodShapes()) await compare({ ...base, host });
    expect(await compare({ body: request('tools/list'), headers: legacyHeaders('2025-11-25'), host })).toBe('fast');
    expect(await compare({ body: modernRequest('server/discover'), headers: modernHeaders('server/discover'), host })).toBe('fast');
  }
}, 120_000);
