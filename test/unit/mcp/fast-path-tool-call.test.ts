/**
 * tools/call on the fast path (fast-path.ts, running tool-runtime.ts) against
 * the SDK path (sdk-path.ts), on the same API Gateway events behind the one
 * admission, as index.ts runs them, with a loopback fake Tavily. Each path has
 * an instance of its own (its own runtime, and usage store when the guard is
 * on), sent the same requests in the same order.
 *
 * Wherever the fast path answers, its answer must be the SDK path's: the same
 * status, headers, byte-equal body, and the same log lines and metrics (their
 * durations aside). A plain call of each short tool, in both eras, must be
 * answered by the fast path, so that this cannot pass by declining everything.
 */
import fc from 'fast-check';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { authorizerContext, proxyEvent } from '../../../local/api-gateway-events.js';
import { createAdmission, refusalResult } from '../../../lambda/mcp/admission.js';
import { createFastPath } from '../../../lambda/mcp/fast-path.js';
import { MODERN_PROTOCOL_VERSIONS } from '../../../lambda/mcp/protocol-answers.generated.js';
import { createSdkHandler } from '../../../lambda/mcp/sdk-path.js';
import { parseMcpSettings } from '../../../lambda/mcp/settings.js';
import { createToolRuntime, runPlainToolCall } from '../../../lambda/mcp/tool-runtime.js';
import { callerContext } from '../../../lambda/shared/caller.js';
import { createOriginPolicy } from '../../../lambda/shared/cors.js';
import type { Observability } from '../../../lambda/shared/observability.js';
import { formatToolScopes, defaultToolScopes } from '../../../lambda/shared/settings.js';
import { startFakeTavily, tavilyError, type Behaviour, type Endpoint, type FakeTavily } from '../../fixtures/fake-tavily.js';
import { memoryUsageStore } from '../quota/memory-usage-store.js';

const MODERN = MODERN_PROTOCOL_VERSIONS[0]!;
const READ = 'web-search:read';
const CRAWL = 'web-search:crawl';
const toolScopes = { ...defaultToolScopes(), web_crawl: [READ, CRAWL] };
const ORIGIN = 'https://app.example';

let tavily: FakeTavily;
beforeAll(async () => {
  tavily = await startFakeTavily('tvly-differential');
});
afterAll(() => tavily.close());
afterEach(() => tavily.reset());

/** Durations differ from run to run; everything else in a log line or metric must not. */
const DURATIONS = new Set(['durationMs', 'tavilyMs', 'loadMs']);
const steady = (attributes: unknown) =>
  attributes && typeof attributes === 'object' ? Object.fromEntries(Object.entries(attributes).filter(([key]) => !DURATIONS.has(key))) : attributes;

/** One instance of the function: its settings, runtime, both paths, and everything it logged and measured. */
function instance(environment: Record<string, string>, options: { store?: boolean } = {}) {
  const settings = parseMcpSettings({
    ALLOWED_ORIGINS: ORIGIN,
    TOOL_SCOPES: formatToolScopes(toolScopes),
    TAVILY_API_BASE_URL: tavily.url,
    TAVILY_API_KEY: 'tvly-differential',
    CACHE_TTL_SECONDS: '0',
    ...environment,
  });
  const lines: unknown[] = [];
  const log = (level: string) => (message: string, attributes?: unknown) => lines.push([level, message, steady(attributes)]);
  const observability = {
    logger: { info: log('info'), warn: log('warn'), error: log('error'), debug: () => {} },
    count: (name: string, dimensions?: unknown) => lines.push(['count', name, dimensions]),
    measure: (name: string, unit: string) => lines.push(['measure', name, unit]),
    invocation: (_requestId: string, _context: unknown, work: () => Promise<unknown>) => work(),
  } as unknown as Observability;
  const runtime = createToolRuntime(settings, observability, options.store ? { usageStore: memoryUsageStore() } : {});
  return {
    lines,
    admit: createAdmission({ originPolicy: createOriginPolicy(settings.allowedOrigins) }),
    fastAnswer: createFastPath({ toolScopes: settings.toolScopes }),
    runtime,
    sdk: createSdkHandler(settings, observability, undefined, runtime),
    observability,
  };
}
type Instance = ReturnType<typeof instance>;

const invocation = { requestId: 'req-1', remainingTimeMs: () => 20_000 };

interface Shape {
  readonly body: unknown;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly scopes?: readonly string[];
}

function eventFor(shape: Shape): APIGatewayProxyEvent {
  const caller = { sub: 'usr_1', clientId: 'client_1', scopes: shape.scopes ?? [READ], exp: Math.floor(Date.now() / 1000) + 600, tokenId: 'tok_1' };
  const text = JSON.stringify(shape.body);
  const event = proxyEvent(
    {
      method: 'POST',
      path: '/web-search/mcp',
      resource: '/web-search/mcp',
      rawHeaders: [['Host', 'mcp.example.com'], ...shape.headers],
      query: new URLSearchParams(),
      body: Buffer.from(text),
      sourceIp: '127.0.0.1',
      requestId: 'req-1',
      host: 'mcp.example.com',
    },
    authorizerContext({ principalId: caller.sub, context: callerContext(caller) }),
  );
  return Object.assign(event, { body: text });
}

/** A cached result says when it was stored, to the millisecond: the one value two instances cannot share. */
const withoutStoredAt = (body: string) => body.replace(/"stored_at":"[^"]*"/g, '"stored_at":"(time)"');

const comparable = (result: APIGatewayProxyResult) => ({
  statusCode: result.statusCode,
  headers: result.headers ?? {},
  multiValueHeaders: result.multiValueHeaders ?? {},
  body: withoutStoredAt(result.body),
  isBase64Encoded: result.isBase64Encoded ?? false,
});

/** As index.ts serves it: admission, the fast path (with its tool call), else the SDK path. */
async function viaIndex(at: Instance, event: APIGatewayProxyEvent): Promise<{ result: APIGatewayProxyResult; by: 'fast' | 'sdk' | 'refused' }> {
  const admission = at.admit(event);
  if (!admission.admitted) return { result: refusalResult(admission.refusal), by: 'refused' };
  const judged = at.fastAnswer(admission.request);
  if (judged && 'call' in judged) {
    const result = await runPlainToolCall(at.runtime, judged.call, admission.request, invocation.remainingTimeMs);
    if (result) {
      const fast = judged.answer(result);
      at.observability.logger.info('JSON-RPC', { ...fast.rpc });
      return { result: fast.result, by: 'fast' };
    }
  } else if (judged) {
    at.observability.logger.info('JSON-RPC', { ...judged.rpc });
    return { result: judged.result, by: 'fast' };
  }
  return { result: await at.sdk(admission.request, invocation), by: 'sdk' };
}

/** The SDK path alone, as index.ts ran it before the fast path took tool calls. */
async function viaSdk(at: Instance, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const admission = at.admit(event);
  if (!admission.admitted) return refusalResult(admission.refusal);
  return at.sdk(admission.request, invocation);
}

/**
 * Each shape, in order, to a fresh pair of instances (fast and SDK), each with
 * the same Tavily behaviour queued first: equal answers and equal log lines and
 * metrics. Resolves to who answered each on the fast side.
 */
async function compareAll(
  shapes: readonly (Shape & { readonly tavily?: readonly [Endpoint, ...Behaviour[]] })[],
  environment: Record<string, string> = {},
  options: { store?: boolean } = {},
): Promise<string[]> {
  const fast = instance(environment, options);
  const sdk = instance(environment, options);
  const answeredBy: string[] = [];
  for (const shape of shapes) {
    const event = eventFor(shape);
    if (shape.tavily) tavily.enqueue(...shape.tavily);
    fast.lines.length = 0;
    const viaFast = await viaIndex(fast, structuredClone(event));
    tavily.reset();
    if (shape.tavily) tavily.enqueue(...shape.tavily);
    sdk.lines.length = 0;
    const viaSdkPath = await viaSdk(sdk, structuredClone(event));
    tavily.reset();
    expect({ shape, answer: comparable(viaFast.result) }).toEqual({ shape, answer: comparable(viaSdkPath) });
    expect({ shape, lines: fast.lines }).toEqual({ shape, lines: sdk.lines });
    answeredBy.push(viaFast.by);
  }
  return answeredBy;
}

const legacyHeaders: Shape['headers'] = [
  ['Content-Type', 'application/json'],
  ['Accept', 'application/json, text/event-stream'],
  ['MCP-Protocol-Version', '2025-11-25'],
];
const modernHeaders = (name: string, ...more: Array<readonly [string, string]>): Shape['headers'] => [
  ['Content-Type', 'application/json'],
  ['Accept', 'application/json, text/event-stream'],
  ['MCP-Protocol-Version', MODERN],
  ['Mcp-Method', 'tools/call'],
  ['Mcp-Name', name],
  ...more,
];
const envelope = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'differential', version: '1.0.0' },
};

/** The same call in both eras. */
function call(name: string, args: unknown, more: Partial<Shape> & { id?: unknown; params?: Record<string, unknown> } = {}): Shape[] {
  const params = { name, ...(args === undefined ? {} : { arguments: args }), ...more.params };
  const id = more.id ?? 7;
  return [
    { body: { jsonrpc: '2.0', id, method: 'tools/call', params }, headers: legacyHeaders, ...(more.scopes ? { scopes: more.scopes } : {}) },
    {
      body: { jsonrpc: '2.0', id, method: 'tools/call', params: { ...params, _meta: envelope } },
      headers: modernHeaders(name),
      ...(more.scopes ? { scopes: more.scopes } : {}),
    },
  ];
}

const SUCCESSES: Shape[] = [
  ...call('web_search', { query: 'lambda cold starts' }),
  ...call('web_search', { query: 'news today', topic: 'news', max_results: 3, include_answer: true }, { id: 'search-\u00e9' }),
  ...call('web_extract', { urls: ['https://example.com/a', 'https://example.com/fail'] }),
  ...call('web_crawl', { url: 'https://docs.example.com' }, { scopes: [READ, CRAWL] }),
  ...call('web_map', { url: 'https://docs.example.com' }),
];

test('a plain call of each short tool, in both eras, is answered by the fast path, exactly as the SDK path answers it', async () => {
  const answeredBy = await compareAll(SUCCESSES);
  expect(answeredBy).toEqual(SUCCESSES.map(() => 'fast'));
  // Each reached Tavily, and the answers carry its results.
  expect(JSON.parse(comparable((await viaIndex(instance({}), eventFor(SUCCESSES[0]!))).result).body).result.structuredContent.results.length).toBeGreaterThan(0);
}, 60_000);

test('error results (invalid arguments, a missing scope, Tavily failing) and a result cut to the budget are the same on both paths', async () => {
  const shapes: Array<Shape & { tavily?: readonly [Endpoint, ...Behaviour[]] }> = [
    ...call('web_search', { query: '' }),
    ...call('web_search', { query: 'x', max_results: 'many' }),
    ...call('web_search', { query: 'x', unknown_member: 1 }),
    ...call('web_search', undefined),
    ...call('web_search', {}),
    ...call('web_crawl', { url: 'https://docs.example.com' }),
    ...call('web_search', { query: 'x' }, { scopes: [] }),
    ...call('web_search', { query: 'x' }, { scopes: ['other:scope'] }),
    ...call('web_search', { query: 'x' }).map((shape) => ({ ...shape, tavily: ['search', tavilyError(401)] as const })),
    ...call('web_search', { query: 'x' }).map((shape) => ({ ...shape, tavily: ['search', tavilyError(432)] as const })),
    ...call('web_extract', { urls: ['https://example.com/a'] }).map((shape) => ({ ...shape, tavily: ['extract', tavilyError(500), tavilyError(500), tavilyError(500)] as const })),
    ...call('web_map', { url: 'https://docs.example.com' }).map((shape) => ({ ...shape, tavily: ['map', { kind: 'raw', status: 200, text: 'not json' }] as const })),
  ];
  const answeredBy = await compareAll(shapes);
  expect(answeredBy).toEqual(shapes.map(() => 'fast'));
  // A result cut to a small budget, as both paths cut it.
  const large = call('web_extract', { urls: ['https://example.com/a'] }).map((shape) => ({ ...shape, tavily: ['extract', { kind: 'huge', bytes: 200_000 }] as const }));
  expect(await compareAll(large, { TOOL_OUTPUT_BUDGET_CHARS: '10000' })).toEqual(['fast', 'fast']);
}, 60_000);

test('with the usage guard on: a cache miss then a hit, then the daily quota refusing, the same on both paths', async () => {
  const shapes = [
    ...call('web_search', { query: 'cached' }),
    ...call('web_search', { query: 'cached' }),
    ...call('web_search', { query: 'other' }),
    ...call('web_search', { query: 'refused' }),
  ];
  const answeredBy = await compareAll(shapes, { CACHE_TTL_SECONDS: '300', QUOTA_CREDITS_PER_DAY: '2' }, { store: true });
  expect(answeredBy).toEqual(shapes.map(() => 'fast'));
  const bodies: string[] = [];
  const at = instance({ CACHE_TTL_SECONDS: '300', QUOTA_CREDITS_PER_DAY: '2' }, { store: true });
  for (const shape of shapes.filter((_, index) => index % 2 === 0)) bodies.push((await viaIndex(at, eventFor(shape))).result.body);
  // The guard did decide: the last call is refused, with a result that says so.
  expect(JSON.parse(bodies.at(-1)!).result.isError).toBe(true);
  expect(tavily.requests.filter((each) => each.endpoint === 'search')).toHaveLength(2);
}, 60_000);

test('what is not a plain call of a short tool is left to the SDK path, and answered as before', async () => {
  const legacy = (params: unknown, id: unknown = 7) => ({ body: { jsonrpc: '2.0', id, method: 'tools/call', ...(params === undefined ? {} : { params }) }, headers: legacyHeaders });
  const modern = (params: Record<string, unknown>, headers = modernHeaders('web_search')) => ({ body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { ...params, _meta: envelope } }, headers });
  const declined: Shape[] = [
    legacy(undefined),
    legacy({}),
    legacy({ name: 'nope', arguments: {} }),
    legacy({ name: 'toString', arguments: {} }),
    legacy({ name: 'web_search', arguments: 'x' }),
    legacy({ name: 'web_search', arguments: ['x'] }),
    legacy({ name: 'web_search', arguments: null }),
    legacy({ name: 7 }),
    legacy({ name: 'web_search', arguments: { query: 'x' }, extra: 1 }),
    legacy({ name: 'web_search', arguments: { query: 'x' }, _meta: { progressToken: 1 } }),
    legacy({ name: 'web_search', arguments: { query: 'x' }, task: { ttl: 1000 } }),
    legacy({ name: 'web_search', arguments: { query: 'x' } }, 1.5),
    legacy({ name: 'web_research', arguments: { input: 'x' } }),
    legacy({ name: 'web_research_result', arguments: { research_id: 'x' } }),
    { body: { jsonrpc: '2.0', method: 'tools/call', params: { name: 'web_search', arguments: { query: 'x' } } }, headers: legacyHeaders },
    { body: [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'web_search', arguments: { query: 'x' } } }], headers: [...legacyHeaders.slice(0, 2), ['MCP-Protocol-Version', '2025-03-26']] },
    modern({ name: 'web_search', arguments: { query: 'x' } }, modernHeaders('web_map')),
    modern({ name: 'web_search', arguments: { query: 'x' } }, modernHeaders('web_search').filter(([name]) => name !== 'Mcp-Name')),
    modern({ name: 'web_search', arguments: { query: 'x' } }, modernHeaders('=?base64?d2ViX3NlYXJjaA==?=')),
    modern({ name: 'web_search', arguments: { query: 'x' }, task: { ttl: 1000 } }),
    modern({ name: 'web_search', arguments: { query: 'x' }, extra: 1 }),
    modern({ name: 'nope', arguments: {} }, modernHeaders('nope')),
    modern({ name: 'web_research', arguments: { input: 'x' } }, modernHeaders('web_research')),
    {
      body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'web_search', arguments: { query: 'x' }, _meta: { ...envelope, 'io.modelcontextprotocol/clientCapabilities': { tasks: {} } } } },
      headers: modernHeaders('web_search'),
    },
    {
      body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'web_search', arguments: { query: 'x' }, _meta: { ...envelope, progressToken: 'p' } } },
      headers: modernHeaders('web_search'),
    },
  ];
  const answeredBy = await compareAll(declined);
  expect(declined.filter((_, index) => answeredBy[index] === 'fast')).toEqual([]);
  // And the same requests in their plain form are the fast path's.
  const plain = [legacy({ name: 'web_search', arguments: { query: 'x' } }), modern({ name: 'web_search', arguments: { query: 'x' } })];
  expect(await compareAll(plain)).toEqual(['fast', 'fast']);
}, 60_000);

test('random tool calls (names, arguments, ids and members an attacker might send): both paths answer alike, whoever answers', async () => {
  const name = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('web_search', 'web_extract', 'web_crawl', 'web_map', 'web_research', 'web_research_result') },
    fc.constantFrom('', 'Web_Search', 'web_search ', ' web_search', 'web_search\u0000', '__proto__', 'constructor', 'toString', 'web_s\u0435arch'),
    fc.string({ maxLength: 12 }),
  );
  const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null));
  const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 3 }));
  const args = fc.oneof(
    fc.constant(undefined),
    value,
    fc.record({ query: fc.oneof(fc.string({ maxLength: 40 }), scalar) }, { requiredKeys: [] }),
    fc.record({ urls: fc.oneof(fc.array(fc.webUrl(), { maxLength: 2 }), value) }, { requiredKeys: [] }),
    fc.record({ url: fc.oneof(fc.webUrl(), value), limit: fc.oneof(fc.integer({ min: -5, max: 500 }), value) }, { requiredKeys: [] }),
    fc.dictionary(fc.constantFrom('query', 'max_results', 'topic', 'search_depth', '__proto__', 'constructor', 'extra'), value, { maxKeys: 4 }),
  );
  const id = fc.oneof({ weight: 4, arbitrary: fc.integer() }, fc.string({ maxLength: 10 }), fc.constant(null), fc.constant({}), fc.boolean());
  // Mostly none: a plain call is what the fast path answers, and what must then match.
  const extra = fc.option(fc.dictionary(fc.constantFrom('task', 'extra', '_meta', 'arguments_'), value, { minKeys: 1, maxKeys: 2 }), { nil: undefined, freq: 4 });
  const shapes = fc.sample(fc.tuple(name, args, id, extra), { numRuns: Number(process.env.FUZZ_RUNS ?? 40), seed: Number(process.env.FUZZ_SEED ?? 23) }).flatMap(([n, a, i, more]) =>
    call(n, a, { id: i as never, ...(more ? { params: more } : {}) }),
  );
  const answeredBy = await compareAll(shapes);
  // Not everything declined: the property would hold trivially if the fast path answered nothing.
  expect(answeredBy.filter((by) => by === 'fast').length).toBeGreaterThan(0);
  expect(answeredBy.filter((by) => by === 'sdk').length).toBeGreaterThan(0);
}, 600_000);
