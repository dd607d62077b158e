/**
 * Hostile input everywhere, with fast-check and a fixed seed: random methods,
 * paths, headers (invalid ones included), query strings and bodies (binary,
 * huge, deeply nested, JSON-RPC-shaped garbage, wrong types) thrown at the
 * exported handler of every function, in this process, with their settings
 * from the environment and their upstreams (issuer, Tavily) on loopback; then
 * at the adapter and the cores underneath.
 *
 * What must hold for every input:
 * - no handler throws, except the authorizer, which may only throw exactly
 *   `Error('Unauthorized')` or its unavailable error;
 * - a proxy result is well formed (integer status 100-599, string body, string
 *   headers), and a status of 400 or more carries a JSON body with an `error`;
 * - events shaped as API Gateway sends them never end in a 5xx (the
 *   upstreams are healthy: a 5xx could only be this code failing);
 * - no response holds a stack trace, a file path, an access token or the
 *   Tavily key, and no log line a token or the key (recognizable ones are
 *   seeded into the inputs; stack traces in logs are the operator's);
 * - the authorizer allows only the genuine tokens, denies only the genuine
 *   token without the scope, and builds its policy for the stage only.
 *
 * `npm test` runs about 3,500 cases. FUZZ_RUNS scales them (FUZZ_RUNS=50000
 * runs fifteen times as many); FUZZ_SEED replays another seed; FUZZ_DEBUG=1
 * prints how the cases were answered.
 */
import { randomBytes } from 'node:crypto';
import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent, APIGatewayProxyResult, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import fc from 'fast-check';
import { registrationRefusal, REGISTRATION_POLICY } from '../../lambda/register/registration-policy.js';
import { BadRequestError, toProxyResult, toRequest } from '../../lambda/shared/api-gateway.js';
import { AuthorizerUnavailableError } from '../../lambda/authorizer/policy.js';
import { createSigningKeySource } from '../../lambda/authorizer/signing-keys.js';
import { createAccessTokenVerifier } from '../../lambda/authorizer/verify-access-token.js';
import { startFakeTavily, type FakeTavily } from '../fixtures/fake-tavily.js';
import { createSigningKey, startTokenIssuer, type TokenIssuer } from '../fixtures/token-issuer.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_127);
/** Cases in all across the properties below; `npm test` keeps it near 3,500. */
const TOTAL_RUNS = Number(process.env.FUZZ_RUNS ?? 3_500);
const runsFor = (share: number) => Math.max(10, Math.round(TOTAL_RUNS * share));
/** Generous: a loaded 2-core machine, and FUZZ_RUNS far above the default. */
const timeoutFor = (runs: number) => 60_000 + runs * 40;

const RESOURCE_IDENTIFIER = 'https://mcp.fuzz.example/web-search/mcp';
const REQUIRED_SCOPE = 'web-search:read';
const TAVILY_KEY = `tvly-fuzzcanary-${randomBytes(12).toString('hex')}`;
const VALID_METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/POST/web-search/mcp';

let issuer: TokenIssuer;
let tavily: FakeTavily;

type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
type AuthorizerHandler = (event: APIGatewayRequestAuthorizerEvent, context?: Context) => Promise<APIGatewayAuthorizerResult>;
let handlers: { metadata: ProxyHandler; register: ProxyHandler; mcp: ProxyHandler; authorizer: AuthorizerHandler };

/** Tokens the authorizer must allow, must deny (no scope), or must refuse. */
const tokens = { good: [] as string[], noScope: '', refused: [] as string[] };
/** Everything that must never come back out: tokens, Authorization values, the Tavily key. */
let secrets: string[] = [];

/** Log lines the functions wrote, and those that broke the rules (with the rule). */
let logLines = 0;
const logViolations: string[] = [];
const originalWrites = { stdout: process.stdout.write, stderr: process.stderr.write };

const STACK_FRAME = /^\s*at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/m;
const FILE_PATH = /(\/work\/|\/home\/|\/var\/task|\/opt\/|node_modules|file:\/\/|[\w-]+\.(ts|js|mjs|cjs):\d+)/;

/** A token or key in the text. */
function secretIn(text: string): string | undefined {
  for (const value of secrets) if (text.includes(value)) return `a secret (${value.slice(0, 12)}…)`;
  return undefined;
}

/** What a client must never be shown: a secret, a stack frame, a file path. */
function leaksIn(text: string): string | undefined {
  if (STACK_FRAME.test(text)) return 'a stack frame';
  const path = FILE_PATH.exec(text);
  if (path) return `a file path (${path[0]})`;
  return secretIn(text);
}

function captureLogs(stream: NodeJS.WriteStream) {
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    logLines += 1;
    // Logs are the operator's: stack traces belong there (for unhandled errors), secrets never.
    const leak = secretIn(text);
    if (leak) logViolations.push(`${leak}: ${text.slice(0, 300)}`);
    const callback = rest.find((value): value is () => void => typeof value === 'function');
    callback?.();
    return true;
  }) as typeof stream.write;
}

beforeAll(async () => {
  issuer = await startTokenIssuer({ audience: () => RESOURCE_IDENTIFIER });
  tavily = await startFakeTavily(TAVILY_KEY);
  const hour = { expiresInSeconds: 3_600 };
  tokens.good = [await issuer.mint(hour), await issuer.mint({ ...hour, claims: { scope: undefined, scopes: [REQUIRED_SCOPE], iss: `${issuer.environmentUrl}/resources/${issuer.resourceId}` } })];
  tokens.noScope = await issuer.mint({ ...hour, claims: { scope: 'openid profile' } });
  tokens.refused = [
    await issuer.mint({ expiresInSeconds: -600 }),
    await issuer.mint({ ...hour, claims: { aud: ['https://other.example/mcp'] } }),
    await issuer.mint({ ...hour, key: await createSigningKey('snk_primary') }),
    await issuer.mint({ ...hour, key: await createSigningKey('snk_stranger') }),
  ];
  const all = [...tokens.good, tokens.noScope, ...tokens.refused];
  // The payload carries the claims: a piece of a token is as bad as all of it.
  secrets = [TAVILY_KEY, ...all, ...all.map((token) => token.split('.')[1]!), ...all.map((token) => token.split('.')[2]!)];

  // Each function reads its settings at import: set them first, for all four at once.
  Object.assign(process.env, {
    SCALEKIT_ENVIRONMENT_URL: issuer.environmentUrl,
    SCALEKIT_RESOURCE_ID: issuer.resourceId,
    RESOURCE_IDENTIFIER,
    REQUIRED_SCOPES: REQUIRED_SCOPE,
    ALLOWED_ORIGINS: 'http://localhost:*,https://app.example.com',
    API_BASE_URL: 'https://mcp.fuzz.example',
    TAVILY_API_BASE_URL: tavily.url,
    TAVILY_API_KEY: TAVILY_KEY,
    LOG_LEVEL: 'DEBUG',
  });
  captureLogs(process.stdout);
  captureLogs(process.stderr);
  // One at a time: Jest's ESM loader fails on concurrent imports sharing a dependency.
  const metadata = await import('../../lambda/metadata/index.js');
  const register = await import('../../lambda/register/index.js');
  const mcp = await import('../../lambda/mcp/index.js');
  const authorizer = await import('../../lambda/authorizer/index.js');
  handlers = { metadata: metadata.handler, register: register.handler, mcp: mcp.handler, authorizer: authorizer.handler };
  for (const [name, handler] of Object.entries(handlers)) handlerNames.set(handler, name);
}, 60_000);

afterAll(async () => {
  process.stdout.write = originalWrites.stdout;
  process.stderr.write = originalWrites.stderr;
  await Promise.all([issuer?.close(), tavily?.close()]);
});

// ---------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------

/** Mostly what a client would plausibly send, sometimes anything: enough of each to get past the first checks. */
const mostly = <T>(plausible: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>, weight = 4) =>
  fc.oneof({ weight, arbitrary: plausible }, { weight: 1, arbitrary: hostile });

/** Text no well-behaved client sends: control characters, unpaired surrogates, Unicode beyond Latin-1, great lengths. */
const anyText = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\r\n', 'a\r\nX-Injected: 1', '\u0000', '\u00ff\u0100', '\ud800', 'null', '{}', '[]', '%00', '../..') },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((length) => 'x'.repeat(length)) },
);

/** A header value any HTTP client could send (printable ASCII). */
const headerText = fc.string({ maxLength: 60 });
const headerNameText = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,24}$/);

const PATHS = {
  metadata: ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/web-search/mcp', '/.well-known/oauth-authorization-server'],
  register: ['/oauth/register'],
  mcp: ['/web-search/mcp'],
} as const;
type ProxyFunction = keyof typeof PATHS;
const ROUTE_METHOD: Record<ProxyFunction, string> = { metadata: 'GET', register: 'POST', mcp: 'POST' };

const pathArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...Object.values(PATHS).flat(), '/') },
  { weight: 1, arbitrary: fc.webPath() },
  { weight: 1, arbitrary: anyText },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...Object.values(PATHS).flat()), fc.constantFrom('/..', '/../../etc/passwd', '%2e%2e/', '//evil.example', '%00', '?x=1', '#f', '\\..\\', '/./', ' '))
      .map(([path, suffix]) => path + suffix),
  },
);

const methodArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PUT', 'PATCH') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'post', 'CONNECT', 'TRACE', 'TRACK', '', 'P OST', 'GET\r\n') },
  { weight: 1, arbitrary: anyText },
);

/** Authorization values: the genuine tokens under every spelling, broken ones, and noise. */
const authorizationArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1).map((index) => `Bearer ${tokens.good[index]}`) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1).map((index) => `bearer   ${tokens.good[index]}  `) },
  { weight: 2, arbitrary: fc.constant(0).map(() => `Bearer ${tokens.noScope}`) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 3 }).map((index) => `Bearer ${tokens.refused[index]}`) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(0, 1), fc.nat(), fc.constantFrom('flip', 'cut', 'append', 'swap')).map(([index, position, how]) => {
      const token = tokens.good[index]!;
      const at = position % token.length;
      switch (how) {
        case 'flip':
          return `Bearer ${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
        case 'cut':
          return `Bearer ${token.slice(0, at)}`;
        case 'append':
          return `Bearer ${token}.${token.slice(0, at)}`;
        case 'swap':
          return `Bearer ${token.split('.').reverse().join('.')}`;
      }
    }),
  },
  { weight: 1, arbitrary: fc.constant(0).map(() => `Basic ${tokens.good[0]}`) },
  { weight: 1, arbitrary: fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((parts) => `Bearer ${parts.join('.')}`) },
  { weight: 1, arbitrary: anyText.map((text) => `Bearer ${text}`) },
  { weight: 1, arbitrary: anyText },
);

const hostArb = mostly(fc.constantFrom('mcp.fuzz.example', 'localhost:10000', '127.0.0.1:3000', '[::1]:8080'), fc.oneof(fc.constantFrom('evil.example/path?x', 'a b', 'x@evil.example', ''), fc.domain(), anyText), 6);
const contentTypeArb = mostly(
  fc.constantFrom('application/json', 'application/json; charset=utf-8'),
  fc.oneof(fc.constantFrom('APPLICATION/JSON', 'application/merge-patch+json', 'text/plain', 'multipart/form-data; boundary=x', 'application/jsonp', ''), anyText),
  6,
);
const acceptArb = mostly(fc.constant('application/json, text/event-stream'), fc.oneof(fc.constantFrom('application/json', 'text/event-stream', '*/*', ''), anyText), 6);
const originArb = fc.oneof(fc.constantFrom('http://localhost:6274', 'https://app.example.com', 'https://evil.example', 'null', ''), anyText);
const protocolVersionArb = mostly(fc.constantFrom('2025-11-25', '2025-06-18', '2025-03-26'), fc.oneof(fc.constantFrom('1999-01-01', ''), anyText));

const headerNameArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('X-Forwarded-Proto', 'X-Forwarded-Host', 'Forwarded', 'Content-Length', 'Transfer-Encoding', 'Mcp-Session-Id', 'Last-Event-ID', 'Connection', 'Expect', 'X-Amz-Date') },
  { weight: 1, arbitrary: fc.constantFrom('Host', 'host', 'Authorization', 'AUTHORIZATION', 'Origin', 'Content-Type', 'Accept', 'MCP-Protocol-Version') },
  { weight: 3, arbitrary: headerNameText },
  { weight: 1, arbitrary: anyText },
);

/** Present in `inTen` cases out of ten. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, inTen: number) =>
  fc.oneof({ weight: inTen, arbitrary: arbitrary as fc.Arbitrary<T | null> }, { weight: 10 - inTen, arbitrary: fc.constant(null) });

/** Header pairs as a client sent them: the usual ones (each now and then left out), then any others. */
const rawHeaderPairsArb = fc
  .tuple(
    sometimes(hostArb.map((value) => ['Host', value] as const), 9),
    sometimes(contentTypeArb.map((value) => ['Content-Type', value] as const), 9),
    sometimes(acceptArb.map((value) => ['Accept', value] as const), 9),
    sometimes(authorizationArb.map((value) => ['Authorization', value] as const), 5),
    sometimes(originArb.map((value) => ['Origin', value] as const), 2),
    sometimes(protocolVersionArb.map((value) => ['MCP-Protocol-Version', value] as const), 5),
    sometimes(authorizationArb.map((value) => ['Cookie', `session=${value}`] as const), 2),
    // Tokens go where credentials go (Authorization, Cookie, the query): a header echoed back by design
    // (the SDK quotes a bad MCP-Protocol-Version) is the client's own text, not a leak.
    fc.array(fc.tuple(headerNameArb, mostly(headerText, anyText, 6)), { maxLength: 4 }),
  )
  .map(([host, contentType, accept, authorization, origin, version, cookie, extra]) => {
    const pairs: Array<readonly [string, string]> = [...extra];
    for (const pair of [host, contentType, accept, authorization, origin, version, cookie]) if (pair !== null) pairs.unshift(pair);
    return pairs;
  });

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Mostly headers an HTTP server would have accepted (token names, values
 * without control characters), so that cases reach past the adapter; the
 * rest as they came.
 */
const headerPairsArb = mostly(
  rawHeaderPairsArb.map((pairs) =>
    // eslint-disable-next-line no-control-regex
    pairs.filter(([name]) => HEADER_NAME.test(name)).map(([name, value]) => [name, value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '')] as const),
  ),
  rawHeaderPairsArb,
);

const queryArb = fc.option(
  fc.array(fc.tuple(fc.oneof(fc.constantFrom('access_token', 'registration_endpoint', 'url', 'redirect_uri'), anyText), fc.oneof(anyText, authorizationArb)), { maxLength: 4 }),
  { freq: 3 },
);

const redirectUriArb = mostly(
  fc.constantFrom('https://app.example.com/cb', 'http://127.0.0.1:8080/cb', 'http://localhost/cb', 'http://[::1]:1/cb', 'com.example.app:/cb'),
  fc.oneof(
    fc.constantFrom('javascript:alert(1)', 'data:text/html,x', 'http://evil.example/cb', 'https://a.example/cb#f', 'http://127.0.0.1\\@evil.example/', 'file:///etc/passwd', ''),
    fc.webUrl({ withFragments: true, withQueryParameters: true }),
    anyText,
  ),
  3,
);

const clientMetadataArb = fc
  .tuple(
    fc.record(
      {
        redirect_uris: mostly(fc.array(redirectUriArb, { minLength: 1, maxLength: 3 }), fc.oneof(fc.array(redirectUriArb, { maxLength: 12 }), fc.jsonValue())),
        client_name: mostly(fc.string({ maxLength: 60 }), fc.oneof(fc.string({ minLength: 190, maxLength: 250 }), fc.jsonValue())),
        grant_types: mostly<unknown>(fc.constant(['authorization_code', 'refresh_token']), fc.jsonValue()),
        token_endpoint_auth_method: mostly(fc.constantFrom('none', 'client_secret_basic'), fc.jsonValue()),
        scope: mostly(fc.constant(REQUIRED_SCOPE), anyText),
      },
      { requiredKeys: [] },
    ),
    mostly(fc.constant({}), fc.dictionary(anyText, fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 }), 2),
  )
  .map(([known, extra]) => ({ ...extra, ...known }));

const TOOLS = ['web_search', 'web_extract', 'web_crawl', 'web_map'] as const;

/** Arguments a model would pass to each tool, or anything. */
const toolArgumentsArb = (tool: string) =>
  mostly(
    ((): fc.Arbitrary<unknown> => {
      switch (tool) {
        case 'web_search':
          return fc.record({ query: fc.string({ minLength: 1, maxLength: 40 }), max_results: fc.integer({ min: 1, max: 10 }) }, { requiredKeys: ['query'] });
        case 'web_extract':
          return fc.record({ urls: fc.array(fc.webUrl(), { minLength: 1, maxLength: 3 }) });
        default:
          return fc.record({ url: fc.webUrl(), limit: fc.integer({ min: 1, max: 20 }) }, { requiredKeys: ['url'] });
      }
    })(),
    fc.oneof(
      fc.record(
        {
          query: fc.jsonValue(),
          max_results: fc.oneof(fc.integer({ min: -5, max: 500 }), fc.jsonValue()),
          urls: fc.jsonValue(),
          url: anyText,
          search_depth: anyText,
          topic: anyText,
          limit: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
    2,
  );

const toolCallArb = mostly(fc.constantFrom(...TOOLS), fc.oneof(fc.constant('nope'), anyText)).chain((name) =>
  toolArgumentsArb(name).map((args) => ({ name, arguments: args })),
);

const jsonRpcArb = mostly<unknown>(
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ jsonrpc: fc.constant('2.0'), id: fc.nat(), method: fc.constant('tools/call'), params: toolCallArb }) },
    fc.record({ jsonrpc: fc.constant('2.0'), id: fc.nat(), method: fc.constantFrom('tools/list', 'ping', 'resources/list', 'logging/setLevel') }),
    fc.record({
      jsonrpc: fc.constant('2.0'),
      id: fc.nat(),
      method: fc.constant('initialize'),
      params: fc.record({ protocolVersion: protocolVersionArb, capabilities: fc.constant({}), clientInfo: fc.constant({ name: 'fuzz', version: '1' }) }),
    }),
    fc.record({ jsonrpc: fc.constant('2.0'), method: fc.constant('notifications/initialized') }),
  ),
  fc.record(
    {
      jsonrpc: mostly(fc.constant('2.0'), fc.jsonValue()),
      id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.jsonValue()),
      method: mostly(fc.constantFrom('initialize', 'tools/list', 'tools/call', 'ping'), anyText),
      params: fc.oneof(toolCallArb, fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
  3,
);

const nested = (depth: number, open: string, close: string, inner = '') => open.repeat(depth) + inner + close.repeat(depth);

type Body = { body: string | null; isBase64Encoded: boolean };
const textBody = (body: string): Body => ({ body, isBase64Encoded: false });

/** Bodies no client should send: binary, wrong types, deep nesting, great sizes. */
const hostileBodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ body: null, isBase64Encoded: false }) },
  { weight: 1, arbitrary: fc.array(jsonRpcArb, { maxLength: 4 }).map((batch) => textBody(JSON.stringify(batch))) },
  { weight: 2, arbitrary: fc.jsonValue().map((value) => textBody(JSON.stringify(value) ?? 'null')) },
  { weight: 1, arbitrary: anyText.map(textBody) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ body: Buffer.from(bytes).toString('base64'), isBase64Encoded: true })) },
  { weight: 1, arbitrary: anyText.map((text) => ({ body: text, isBase64Encoded: true })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 100, max: 200_000 }), fc.constantFrom('array', 'object', 'params', 'metadata')).map(([depth, shape]) => {
      switch (shape) {
        case 'array':
          return textBody(nested(depth, '[', ']'));
        case 'object':
          return textBody(nested(depth, '{"a":', '}', '1'));
        case 'params':
          return textBody(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web_search","arguments":{"query":${nested(depth, '[', ']')}}}}`);
        default:
          return textBody(`{"redirect_uris":["https://app.example.com/cb"],"jwks":${nested(Math.min(depth, 8_000), '[', ']')}}`);
      }
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom(17 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024).map((size) => textBody(`{"padding":"${'p'.repeat(size)}"}`)) },
);

const BODIES: Record<ProxyFunction, fc.Arbitrary<Body>> = {
  metadata: mostly(fc.constant({ body: null, isBase64Encoded: false }), hostileBodyArb),
  register: mostly(clientMetadataArb.map((metadata) => textBody(JSON.stringify(metadata))), hostileBodyArb, 3),
  mcp: mostly(jsonRpcArb.map((message) => textBody(JSON.stringify(message))), hostileBodyArb, 3),
};

/** What our authorizer writes into the request context, as API Gateway passes it (strings). */
const callerContextArb = fc.record({
  principalId: fc.constant('usr_1'),
  sub: fc.constant('usr_1'),
  clientId: fc.constant('skc_1'),
  scopes: fc.constantFrom([REQUIRED_SCOPE], [REQUIRED_SCOPE], [REQUIRED_SCOPE, 'web-search:crawl'], ['openid']).map((scopes) => JSON.stringify(scopes)),
  exp: fc.integer({ min: 600, max: 7_200 }).map((ahead) => String(Math.floor(Date.now() / 1000) + ahead)),
  tokenId: fc.constant('tkn_1'),
});

/** Anything else in its place: expired, wrong types, missing fields, not ours at all. */
const hostileAuthorizerContextArb = fc.oneof(
  fc.record(
    {
      principalId: fc.string({ maxLength: 20 }),
      sub: anyText,
      clientId: anyText,
      scopes: fc.oneof(fc.constantFrom(REQUIRED_SCOPE, '', JSON.stringify([REQUIRED_SCOPE]), `${REQUIRED_SCOPE} web-search:crawl`), anyText),
      exp: fc.oneof(fc.integer({ min: -600, max: 20 }).map((delta) => String(Math.floor(Date.now() / 1000) + delta)), fc.jsonValue()),
      tokenId: anyText,
    },
    { requiredKeys: ['scopes', 'exp'] },
  ),
  fc.dictionary(anyText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.constant(null),
);

/** Maps as JSON.parse builds them: `__proto__` and `constructor` are names like any other. */
const record = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

function headerMaps(pairs: ReadonlyArray<readonly [string, string]>) {
  const headers = record<string>();
  const multiValueHeaders = record<string[]>();
  for (const [name, value] of pairs) {
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  return { headers, multiValueHeaders };
}

function queryMaps(pairs: ReadonlyArray<readonly [string, string]> | null) {
  if (!pairs || pairs.length === 0) return { queryStringParameters: null, multiValueQueryStringParameters: null };
  const single = record<string>();
  const multi = record<string[]>();
  for (const [name, value] of pairs) {
    single[name] = value;
    (multi[name] ??= []).push(value);
  }
  return { queryStringParameters: single, multiValueQueryStringParameters: multi };
}

interface EventParts {
  readonly method: string;
  readonly path: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly headerForm: 'both' | 'single' | 'multi';
  readonly query: ReadonlyArray<readonly [string, string]> | null;
  readonly body: Body;
  readonly requestId: string;
  readonly authorizer: unknown;
}

function proxyEvent({ method, path, headers, headerForm, query, body, requestId, authorizer }: EventParts): APIGatewayProxyEvent {
  const maps = headerMaps(headers);
  return {
    resource: path,
    path,
    httpMethod: method,
    headers: headerForm === 'multi' ? (null as never) : maps.headers,
    multiValueHeaders: headerForm === 'single' ? (null as never) : maps.multiValueHeaders,
    ...queryMaps(query),
    pathParameters: null,
    stageVariables: null,
    requestContext: { requestId, domainName: 'abc.execute-api.eu-west-1.amazonaws.com', authorizer } as unknown as APIGatewayProxyEvent['requestContext'],
    body: body.body,
    isBase64Encoded: body.isBase64Encoded,
  };
}

const headerFormArb = fc.constantFrom<EventParts['headerForm']>('both', 'both', 'single', 'multi');

/**
 * A request whose transport is right (route, method, Host, media types, an
 * authorized caller for MCP) and whose content is hostile: these cases reach
 * the cores, the MCP server and the tools.
 */
const wellFormedEventArb = (target: ProxyFunction): fc.Arbitrary<APIGatewayProxyEvent> =>
  fc
    .record({
      method: fc.constant(ROUTE_METHOD[target]),
      path: fc.constantFrom(...PATHS[target]),
      headers: fc
        .tuple(
          fc.constantFrom('mcp.fuzz.example', 'localhost:10000'),
          sometimes(fc.constantFrom('http://localhost:6274', 'https://app.example.com'), 2),
          sometimes(fc.constantFrom('2025-11-25', '2025-06-18', '2025-03-26'), 5),
          sometimes(fc.constantFrom(0, 1).map((index) => `Bearer ${tokens.good[index]}`), 5),
          fc.array(fc.tuple(headerNameText, headerText), { maxLength: 2 }),
        )
        .map(([host, origin, version, authorization, extra]) => {
          const pairs: Array<readonly [string, string]> = [
            ['Host', host],
            ['Content-Type', 'application/json'],
            ['Accept', 'application/json, text/event-stream'],
            ...extra.filter(([name]) => !/^(host|content-type|accept|origin|mcp-protocol-version)$/i.test(name)),
          ];
          if (origin !== null) pairs.push(['Origin', origin]);
          if (version !== null) pairs.push(['MCP-Protocol-Version', version]);
          if (authorization !== null) pairs.push(['Authorization', authorization]);
          return pairs;
        }),
      headerForm: headerFormArb,
      query: fc.constant(null),
      body: BODIES[target],
      requestId: fc.uuid(),
      authorizer: target === 'mcp' ? (callerContextArb as fc.Arbitrary<unknown>) : fc.constant(null),
    })
    .map(proxyEvent);

/** Anything in any field, each of its type. */
const hostileEventArb = (target: ProxyFunction): fc.Arbitrary<APIGatewayProxyEvent> =>
  fc
    .record({
      method: mostly(fc.constant(ROUTE_METHOD[target]), methodArb),
      path: mostly(fc.constantFrom(...PATHS[target]), pathArb),
      headers: headerPairsArb,
      headerForm: headerFormArb,
      query: queryArb,
      body: BODIES[target],
      requestId: mostly(fc.uuid(), anyText),
      authorizer: target === 'mcp' ? mostly(callerContextArb as fc.Arbitrary<unknown>, hostileAuthorizerContextArb) : hostileAuthorizerContextArb,
    })
    .map(proxyEvent);

/** Proxy events for one function, as API Gateway builds them: every field of its type, the content hostile. */
const proxyEventArb = (target: ProxyFunction) => fc.oneof(wellFormedEventArb(target), hostileEventArb(target));

const anyProxyFunction = fc.constantFrom<ProxyFunction>('metadata', 'register', 'mcp');

/** The same, with fields replaced by JSON values of any type: events API Gateway would never send. */
const malformedProxyEventArb = anyProxyFunction.chain((target) =>
  fc
    .tuple(
      proxyEventArb(target),
      fc.dictionary(
        fc.constantFrom('path', 'httpMethod', 'headers', 'multiValueHeaders', 'queryStringParameters', 'multiValueQueryStringParameters', 'requestContext', 'body', 'isBase64Encoded'),
        fc.jsonValue({ maxDepth: 3 }),
        { minKeys: 1, maxKeys: 4 },
      ),
    )
    .map(([event, replaced]) => ({ target, event: { ...event, ...replaced } as unknown as APIGatewayProxyEvent })),
);

const contextArb = mostly(
  fc.constant({ awsRequestId: 'req-fuzz', functionName: 'fuzz', getRemainingTimeInMillis: () => 25_000 } as unknown as Context),
  fc.oneof(
    fc.integer({ min: -1_000, max: 2_000 }).map((remaining) => ({ awsRequestId: 'req-fuzz', functionName: 'fuzz', getRemainingTimeInMillis: () => remaining }) as unknown as Context),
    fc.constant(undefined as unknown as Context),
  ),
);

const methodArnArb = mostly(fc.constant(VALID_METHOD_ARN), fc.oneof(fc.constantFrom('', 'arn:aws:execute-api:eu-west-1:123456789012:abcdef1234', 'not-an-arn'), anyText), 6);

const authorizerEventArb: fc.Arbitrary<APIGatewayRequestAuthorizerEvent> = fc
  .record({
    methodArn: methodArnArb,
    method: methodArb,
    path: pathArb,
    headers: headerPairsArb,
    headerForm: fc.constantFrom('both', 'both', 'single', 'multi'),
    query: queryArb,
    requestId: fc.oneof(fc.uuid(), anyText),
  })
  .map(({ methodArn, method, path, headers, headerForm, query, requestId }) => {
    const maps = headerMaps(headers);
    return {
      type: 'REQUEST',
      methodArn,
      resource: path,
      path,
      httpMethod: method,
      headers: headerForm === 'multi' ? null : maps.headers,
      multiValueHeaders: headerForm === 'single' ? null : maps.multiValueHeaders,
      ...queryMaps(query),
      pathParameters: {},
      stageVariables: {},
      requestContext: { requestId } as APIGatewayRequestAuthorizerEvent['requestContext'],
    } as APIGatewayRequestAuthorizerEvent;
  });

const malformedAuthorizerEventArb = fc
  .tuple(authorizerEventArb, fc.dictionary(fc.constantFrom('methodArn', 'headers', 'multiValueHeaders', 'requestContext', 'queryStringParameters'), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 3 }))
  .map(([event, replaced]) => ({ ...event, ...replaced }) as unknown as APIGatewayRequestAuthorizerEvent);

// ---------------------------------------------------------------------------
// What must hold
// ---------------------------------------------------------------------------

/** Why a proxy result is not one API Gateway accepts, or undefined. */
function malformedResult(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return 'the result is not an object';
  const { statusCode, body, headers, multiValueHeaders, isBase64Encoded } = result as APIGatewayProxyResult;
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return `status ${String(statusCode)} is not an HTTP status`;
  if (typeof body !== 'string') return 'the body is not a string';
  if (isBase64Encoded !== undefined && typeof isBase64Encoded !== 'boolean') return 'isBase64Encoded is not a boolean';
  for (const value of Object.values(headers ?? {})) if (!['string', 'number', 'boolean'].includes(typeof value)) return 'a header is not a string';
  for (const values of Object.values(multiValueHeaders ?? {})) {
    if (!Array.isArray(values) || values.some((value) => typeof value !== 'string')) return 'a multi-value header is not a list of strings';
  }
  return undefined;
}

/** Why a handler's answer breaks the rules, or undefined if it keeps them. */
function proxyResultProblem(result: unknown, { shapedByApiGateway }: { shapedByApiGateway: boolean }): string | undefined {
  const malformed = malformedResult(result);
  if (malformed) return malformed;
  const { statusCode, body, headers, multiValueHeaders, isBase64Encoded } = result as APIGatewayProxyResult;
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  if (statusCode >= 400) {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      return `status ${statusCode} without a JSON body: ${text.slice(0, 120)}`;
    }
    if (typeof document !== 'object' || document === null || !('error' in document)) return `status ${statusCode} without an error: ${text.slice(0, 120)}`;
  }
  // The upstreams here are healthy: a 5xx can only be this code failing (or hiding a failure as an outage).
  if (shapedByApiGateway && statusCode >= 500) return `status ${statusCode} for an event API Gateway could send: ${text.slice(0, 200)}`;
  const leak = leaksIn(text) ?? leaksIn(JSON.stringify({ headers, multiValueHeaders }));
  if (leak) return `the response holds ${leak}`;
  return undefined;
}

/** How often each handler answered each status: proof that the cases reach past the first checks. */
const statusCounts = new Map<string, number>();
const handlerNames = new Map<unknown, string>();

/** Fails with the first log line written since `before` that broke the rules. */
function checkLogsSince(before: number) {
  if (logViolations.length > before) throw new Error(`a log line holds ${logViolations[before]}`);
}

async function checkProxyHandler(handler: ProxyHandler, event: APIGatewayProxyEvent, context: Context, shapedByApiGateway: boolean) {
  const logsBefore = logViolations.length;
  let result: unknown;
  try {
    result = await handler(event, context);
  } catch (error) {
    throw new Error(`the handler threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
  }
  const problem = proxyResultProblem(result, { shapedByApiGateway });
  if (problem) throw new Error(problem);
  checkLogsSince(logsBefore);
  const key = `${handlerNames.get(handler)} ${(result as APIGatewayProxyResult).statusCode}`;
  statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
  if (process.env.FUZZ_DEBUG && (statusCounts.get(key) ?? 0) % 25 === 1) {
    originalWrites.stdout.call(process.stdout, `sample ${key}: ${(result as APIGatewayProxyResult).body.slice(0, 200)}\n`);
  }
}

function authorizationValues(event: APIGatewayRequestAuthorizerEvent): string[] {
  const values: string[] = [];
  const multi = event.multiValueHeaders;
  if (multi && typeof multi === 'object') {
    for (const [name, list] of Object.entries(multi)) {
      if (name.toLowerCase() === 'authorization' && Array.isArray(list)) values.push(...list.filter((value) => typeof value === 'string'));
    }
  }
  const single = event.headers;
  if (values.length === 0 && single && typeof single === 'object') {
    for (const [name, value] of Object.entries(single)) if (name.toLowerCase() === 'authorization' && typeof value === 'string') values.push(value);
  }
  return values;
}

const tokenOf = (authorization: string) => /^bearer +(\S+) *$/i.exec(authorization)?.[1];

async function checkAuthorizer(event: APIGatewayRequestAuthorizerEvent, context: Context) {
  const logsBefore = logViolations.length;
  let result: APIGatewayAuthorizerResult;
  try {
    result = await handlers.authorizer(event, context);
  } catch (error) {
    if (!(error instanceof Error)) throw new Error(`the authorizer threw a non-error: ${String(error)}`);
    if (error instanceof AuthorizerUnavailableError) {
      // Keys are reachable here: only a method ARN without a stage can make it unavailable.
      if (typeof event.methodArn === 'string' && event.methodArn.split('/').length >= 2 && event.methodArn.split('/')[1]) {
        throw new Error(`unavailable with a usable method ARN: ${error.message}`);
      }
    } else if (!(error.name === 'Error' && error.message === 'Unauthorized')) {
      throw new Error(`the authorizer threw ${error.name}: ${error.message}`);
    }
    if (leaksIn(error.message)) throw new Error(`the error holds ${leaksIn(error.message)}`);
    checkLogsSince(logsBefore);
    return;
  }
  const statements = result?.policyDocument?.Statement as unknown as Array<Record<string, unknown>> | undefined;
  if (typeof result?.principalId !== 'string' || !Array.isArray(statements) || statements.length !== 1) throw new Error('not a policy');
  const [statement] = statements;
  if (statement!.Action !== 'execute-api:Invoke') throw new Error(`policy action ${String(statement!.Action)}`);
  const [apiAndStage, stage] = String(event.methodArn).split('/');
  if (statement!.Resource !== `${apiAndStage}/${stage}/*/*`) throw new Error(`policy resource ${String(statement!.Resource)} for ${event.methodArn}`);
  for (const value of Object.values(result.context ?? {})) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw new Error('a context value is not a string, number or boolean');
  }
  statusCounts.set(`authorizer ${String(statement!.Effect)}`, (statusCounts.get(`authorizer ${String(statement!.Effect)}`) ?? 0) + 1);
  const presented = authorizationValues(event);
  const only = presented.length === 1 ? tokenOf(presented[0]!) : undefined;
  if (statement!.Effect === 'Allow' && !(only !== undefined && tokens.good.includes(only))) throw new Error(`allowed ${JSON.stringify(presented).slice(0, 200)}`);
  if (statement!.Effect === 'Deny' && only !== tokens.noScope) throw new Error(`denied (not refused) ${JSON.stringify(presented).slice(0, 200)}`);
  if (statement!.Effect !== 'Allow' && statement!.Effect !== 'Deny') throw new Error(`policy effect ${String(statement!.Effect)}`);
  const leak = leaksIn(JSON.stringify(result));
  if (leak) throw new Error(`the policy holds ${leak}`);
  checkLogsSince(logsBefore);
}

function assertProperty<Ts>(property: fc.IRawProperty<Ts>, numRuns: number) {
  return fc.assert(property, { seed: SEED, numRuns });
}

// ---------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------

const SHARES = {
  authorizer: 0.2,
  authorizerMalformed: 0.04,
  metadata: 0.1,
  register: 0.13,
  mcp: 0.2,
  proxyMalformed: 0.08,
  adapter: 0.1,
  responses: 0.03,
  tokenCore: 0.07,
  registrationPolicy: 0.05,
} as const;

describe('the exported handlers', () => {
  const cases = [
    ['metadata', SHARES.metadata],
    ['register', SHARES.register],
    ['mcp', SHARES.mcp],
  ] as const;

  test.each(cases)('%s: any API Gateway event gets a well-formed answer, never a 500, nothing leaked', async (name, share) => {
    const runs = runsFor(share);
    await assertProperty(
      fc.asyncProperty(proxyEventArb(name), contextArb, (event, context) => checkProxyHandler(handlers[name], event, context, true)),
      runs,
    );
  }, timeoutFor(runsFor(0.2)));

  test('every proxy function: malformed events (wrong field types) still get a well-formed answer', async () => {
    const runs = runsFor(SHARES.proxyMalformed);
    await assertProperty(
      fc.asyncProperty(malformedProxyEventArb, contextArb, ({ target, event }, context) => checkProxyHandler(handlers[target], event, context, false)),
      runs,
    );
  }, timeoutFor(runsFor(SHARES.proxyMalformed)));

  test('authorizer: a policy for genuine tokens only, else exactly Unauthorized (or unavailable for a bad ARN)', async () => {
    const runs = runsFor(SHARES.authorizer);
    await assertProperty(fc.asyncProperty(authorizerEventArb, contextArb, checkAuthorizer), runs);
  }, timeoutFor(runsFor(SHARES.authorizer)));

  test('authorizer: malformed events (wrong field types) too', async () => {
    const runs = runsFor(SHARES.authorizerMalformed);
    await assertProperty(fc.asyncProperty(malformedAuthorizerEventArb, contextArb, checkAuthorizer), runs);
  }, timeoutFor(runsFor(SHARES.authorizerMalformed)));

  test('the functions logged, and the capture saw it', () => {
    expect(logLines).toBeGreaterThan(100);
    expect(logViolations).toEqual([]);
  });

  test('the cases reached past the first checks: tools ran, clients registered, tokens were allowed and denied', () => {
    if (process.env.FUZZ_DEBUG) {
      const counts = JSON.stringify([...statusCounts].sort());
      originalWrites.stdout.call(process.stdout, `${counts} tavily=${tavily.requests.length} registrations=${issuer.registrations.length}\n`);
    }
    const count = (key: string) => statusCounts.get(key) ?? 0;
    expect(count('mcp 200')).toBeGreaterThan(runsFor(SHARES.mcp) * 0.1);
    expect(tavily.requests.length).toBeGreaterThan(runsFor(SHARES.mcp) * 0.02);
    expect(count('register 201')).toBeGreaterThan(runsFor(SHARES.register) * 0.05);
    expect(issuer.registrations.length).toBe(count('register 201'));
    expect(count('metadata 200')).toBeGreaterThan(runsFor(SHARES.metadata) * 0.2);
    expect(count('authorizer Allow')).toBeGreaterThan(runsFor(SHARES.authorizer) * 0.05);
    expect(count('authorizer Deny')).toBeGreaterThan(runsFor(SHARES.authorizer) * 0.02);
  });
});

describe('the adapter and the cores', () => {
  test('toRequest: a Request, or a BadRequestError with a fixed message; nothing else', async () => {
    await assertProperty(
      fc.property(anyProxyFunction.chain(proxyEventArb), (event) => {
        let request: Request;
        try {
          request = toRequest(event);
        } catch (error) {
          if (!(error instanceof BadRequestError)) throw new Error(`toRequest threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
          if (leaksIn(error.message)) throw new Error(`the message holds ${leaksIn(error.message)}`);
          return;
        }
        const url = new URL(request.url);
        // The Host header picks the origin, never the path or the query.
        if (url.username || url.password || url.hash) throw new Error(`URL ${request.url} has credentials or a fragment`);
      }),
      runsFor(SHARES.adapter),
    );
  }, timeoutFor(runsFor(SHARES.adapter)));

  test('toProxyResult: any Response becomes a well-formed proxy result', async () => {
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: 200, max: 599 }),
        fc.array(fc.tuple(fc.constantFrom('Content-Type', 'Set-Cookie', 'Vary', 'X-Custom', 'WWW-Authenticate'), fc.string({ maxLength: 30 }).filter((text) => !/[\r\n\0]/.test(text))), { maxLength: 6 }),
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })),
        fc.dictionary(fc.constantFrom('Vary', 'Access-Control-Allow-Origin'), fc.constantFrom('Origin', '*', 'https://app.example.com')),
        async (status, headerPairs, body, extra) => {
          const headers = new Headers();
          for (const [name, value] of headerPairs) headers.append(name, value);
          const noBody = status === 204 || status === 205 || status === 304;
          const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
          const result = await toProxyResult(new Response(noBody ? null : bytes, { status, headers }), extra);
          const malformed = malformedResult(result);
          if (malformed) throw new Error(malformed);
          // Bytes sent as base64 arrive whole; Set-Cookie values stay separate.
          if (result.isBase64Encoded && !Buffer.from(result.body, 'base64').equals(bytes)) throw new Error('binary content was altered');
          const cookies = headerPairs.filter(([name]) => name === 'Set-Cookie').length;
          if ((result.multiValueHeaders?.['set-cookie']?.length ?? 0) !== cookies) throw new Error('Set-Cookie headers were merged or lost');
        },
      ),
      runsFor(SHARES.responses),
    );
  }, timeoutFor(runsFor(SHARES.responses)));

  test('verifyAccessToken: a decision for any header string, allow only for genuine tokens', async () => {
    const verify = createAccessTokenVerifier({
      issuers: [issuer.environmentUrl, `${issuer.environmentUrl}/resources/${issuer.resourceId}`],
      audiences: [RESOURCE_IDENTIFIER, issuer.resourceId],
      requiredScopes: [REQUIRED_SCOPE],
      keys: createSigningKeySource({ jwksUrl: `${issuer.environmentUrl}/keys` }),
    });
    await assertProperty(
      fc.asyncProperty(fc.oneof(authorizationArb, anyText, fc.constant(undefined)), async (authorization) => {
        const decision = await verify(authorization);
        const token = authorization === undefined ? undefined : tokenOf(authorization);
        if (decision.outcome === 'allow' && !(token && tokens.good.includes(token))) throw new Error(`allowed ${authorization}`);
        if (decision.outcome === 'insufficient_scope' && token !== tokens.noScope) throw new Error(`denied ${authorization}`);
        if (decision.outcome === 'unavailable') throw new Error('unavailable while the keys are reachable');
        if (leaksIn(JSON.stringify(decision))) throw new Error(`the decision holds ${leaksIn(JSON.stringify(decision))}`);
      }),
      runsFor(SHARES.tokenCore),
    );
  }, timeoutFor(runsFor(SHARES.tokenCore)));

  test('registrationRefusal: never throws; what it lets through is bounded and serializable', async () => {
    const metadataArb = fc.oneof(clientMetadataArb, fc.dictionary(anyText, fc.jsonValue({ maxDepth: 8 }), { maxKeys: 80 }));
    await assertProperty(
      fc.property(metadataArb, (metadata) => {
        const refusal = registrationRefusal(metadata);
        if (refusal) {
          if (!['invalid_redirect_uri', 'invalid_client_metadata'].includes(refusal.error) || typeof refusal.description !== 'string') {
            throw new Error(`refusal ${JSON.stringify(refusal)}`);
          }
          return;
        }
        const uris = metadata.redirect_uris;
        if (!Array.isArray(uris) || uris.length === 0 || uris.length > REGISTRATION_POLICY.maxRedirectUris) throw new Error('redirect_uris let through');
        for (const uri of uris) {
          const url = new URL(uri as string);
          const scheme = url.protocol.slice(0, -1);
          const loopback = scheme === 'http' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
          if (!(scheme === 'https' || loopback || scheme.includes('.')) || url.hash || (uri as string).includes('#')) throw new Error(`let through ${String(uri)}`);
        }
        JSON.stringify(metadata);
      }),
      runsFor(SHARES.registrationPolicy),
    );
  }, timeoutFor(runsFor(SHARES.registrationPolicy)));
});

describe('regressions: inputs the fuzzing found', () => {
  const event = (overrides: Record<string, unknown>) =>
    ({
      resource: '/.well-known/oauth-protected-resource',
      path: '/.well-known/oauth-protected-resource',
      httpMethod: 'GET',
      headers: { Host: 'mcp.fuzz.example' },
      multiValueHeaders: { Host: ['mcp.fuzz.example'] },
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      requestContext: { requestId: 'req-regression' },
      body: null,
      isBase64Encoded: false,
      ...overrides,
    }) as unknown as APIGatewayProxyEvent;
  const context = { awsRequestId: 'req-regression', getRemainingTimeInMillis: () => 25_000 } as unknown as Context;

  test('a query map holding something other than lists (was a TypeError, a 500): ignored', async () => {
    const result = await handlers.metadata(event({ multiValueQueryStringParameters: [false] }), context);
    expect(result.statusCode).toBe(200);
  });

  test('a method that is not a string (was a TypeError, a 500): 400', async () => {
    const result = await handlers.metadata(event({ httpMethod: 5 }), context);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body)).toMatchObject({ error: 'invalid_request' });
  });

  const authorizerEvent = (overrides: Record<string, unknown>) =>
    ({
      type: 'REQUEST',
      methodArn: VALID_METHOD_ARN,
      headers: { Authorization: `Bearer ${tokens.good[0]}` },
      multiValueHeaders: { Authorization: [`Bearer ${tokens.good[0]}`] },
      requestContext: { requestId: 'req-regression' },
      ...overrides,
    }) as unknown as APIGatewayRequestAuthorizerEvent;

  test('the authorizer, a good token and a methodArn that is not a string (was a TypeError): unavailable', async () => {
    await expect(handlers.authorizer(authorizerEvent({ methodArn: [] }), context)).rejects.toBeInstanceOf(AuthorizerUnavailableError);
  });

  test('the authorizer, Authorization in multiValueHeaders as a string, not a list (was split into characters): Unauthorized', async () => {
    await expect(handlers.authorizer(authorizerEvent({ multiValueHeaders: { Authorization: `Bearer ${tokens.good[0]}` } }), context)).rejects.toThrow(
      /^Unauthorized$/,
    );
    await expect(handlers.authorizer(authorizerEvent({ multiValueHeaders: { Authorization: 7 } }), context)).rejects.toThrow(/^Unauthorized$/);
  });

  test('registration metadata nested 8,000 deep (was a RangeError in JSON.stringify, reported as an unreachable upstream, 503): 400', async () => {
    const before = issuer.registrations.length;
    const body = `{"redirect_uris":["https://app.example.com/cb"],"jwks":${nested(8_000, '[', ']')}}`;
    const result = await handlers.register(
      event({ path: '/oauth/register', httpMethod: 'POST', headers: { Host: 'mcp.fuzz.example', 'Content-Type': 'application/json' }, multiValueHeaders: null, body }),
      context,
    );
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body)).toMatchObject({ error: 'invalid_client_metadata' });
    expect(issuer.registrations.length).toBe(before);
  });
});

test('the case count matches the budget', () => {
  const total = Object.values(SHARES).reduce((sum, share) => sum + runsFor(share), 0);
  expect(total).toBeGreaterThanOrEqual(Math.min(2_000, TOTAL_RUNS));
});
