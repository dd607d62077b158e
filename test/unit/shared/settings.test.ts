import {
  ConfigurationError,
  DEFAULT_AUTHORIZER_CACHE_TTL_SECONDS,
  DEFAULT_REQUIRED_SCOPES,
  DEFAULT_TAVILY_API_BASE_URL,
  DEFAULT_TAVILY_API_KEY_PARAMETER,
  definitions as d,
  parseSettings,
  scopeList,
} from '../../../lambda/shared/settings.js';

/** The error parseSettings throws for `source`, or a failure if it does not throw one. */
function configurationError(run: () => unknown): ConfigurationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

const ENV_URL_EXPECTED = 'the Scalekit environment URL, e.g. https://acme.scalekit.com (https; http only on loopback)';
const RESOURCE_ID_EXPECTED = 'the Scalekit resource id of this MCP server, like res_1234567890 (Dashboard > MCP servers)';
const RESOURCE_URL_EXPECTED = "this MCP server's resource URL as registered in Scalekit, e.g. https://mcp.example.com/web-search/mcp";
const TTL_EXPECTED = 'whole seconds from 0 (no caching) to 3600';
const SCOPES_EXPECTED = 'space- or comma-separated OAuth scopes, e.g. "web-search:read"';
const ORIGINS_EXPECTED =
  'comma-separated browser origins such as https://app.example.com, http://localhost:* (any loopback port), or *';

const one = <D extends (typeof d)[keyof typeof d]>(definition: D, value: unknown) =>
  parseSettings({ value: ['VALUE', definition] }, value === undefined ? {} : { VALUE: value }).value;

const problemsOf = (definition: (typeof d)[keyof typeof d], value: unknown) =>
  configurationError(() => parseSettings({ value: ['VALUE', definition] }, { VALUE: value })).problems;

describe('parseSettings', () => {
  test('reads every key from its variable and returns the converted values', () => {
    const settings = parseSettings(
      {
        environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
        resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
        resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifier],
        requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
        ttl: ['AUTHORIZER_CACHE_TTL', d.authorizerCacheTtlSeconds],
      },
      {
        SCALEKIT_ENVIRONMENT_URL: 'https://acme.scalekit.com',
        SCALEKIT_RESOURCE_ID: 'res_1234567890',
        RESOURCE_IDENTIFIER: 'https://mcp.example.com/web-search/mcp',
        REQUIRED_SCOPES: 'web-search:read web-search:crawl',
        AUTHORIZER_CACHE_TTL: '60',
        UNRELATED: 'ignored',
      },
    );
    expect(settings).toEqual({
      environmentUrl: 'https://acme.scalekit.com',
      resourceId: 'res_1234567890',
      resourceIdentifier: 'https://mcp.example.com/web-search/mcp',
      requiredScopes: ['web-search:read', 'web-search:crawl'],
      ttl: 60,
    });
  });

  test('one error names every bad setting by its variable, in a single message', () => {
    const error = configurationError(() =>
      parseSettings(
        {
          environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
          resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
          resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifier],
          ttl: ['AUTHORIZER_CACHE_TTL', d.authorizerCacheTtlSeconds],
          scopes: ['REQUIRED_SCOPES', d.requiredScopes],
        },
        {
          SCALEKIT_ENVIRONMENT_URL: 'http://acme.scalekit.com',
          RESOURCE_IDENTIFIER: 'https://mcp.example.com/web-search/mcp',
          AUTHORIZER_CACHE_TTL: '3601',
        },
        'authorizer configuration',
      ),
    );
    expect(error.name).toBe('ConfigurationError');
    expect(error.problems).toEqual([
      `SCALEKIT_ENVIRONMENT_URL: expected ${ENV_URL_EXPECTED}, got "http://acme.scalekit.com"`,
      `SCALEKIT_RESOURCE_ID: missing; expected ${RESOURCE_ID_EXPECTED}`,
      `AUTHORIZER_CACHE_TTL: expected ${TTL_EXPECTED}, got "3601"`,
    ]);
    expect(error.message).toBe(
      'Invalid authorizer configuration (3 problems):\n' + error.problems.map((problem) => `  - ${problem}`).join('\n'),
    );
  });

  test('a single problem is counted in the singular, and the default subject is "configuration"', () => {
    const error = configurationError(() => parseSettings({ id: ['SCALEKIT_RESOURCE_ID', d.resourceId] }, {}));
    expect(error.message).toBe(`Invalid configuration (1 problem):\n  - SCALEKIT_RESOURCE_ID: missing; expected ${RESOURCE_ID_EXPECTED}`);
  });

  test('blank and whitespace-only values count as unset', () => {
    expect(problemsOf(d.resourceId, '   ')).toEqual([`VALUE: missing; expected ${RESOURCE_ID_EXPECTED}`]);
    expect(one(d.requiredScopes, '  \t ')).toEqual(DEFAULT_REQUIRED_SCOPES);
    expect(one(d.tavilyApiKey, '')).toBeUndefined();
  });

  test('null counts as unset, and non-string values are read as their text (CDK context may hold numbers)', () => {
    expect(parseSettings({ ttl: ['TTL', d.authorizerCacheTtlSeconds] }, { TTL: null }).ttl).toBe(DEFAULT_AUTHORIZER_CACHE_TTL_SECONDS);
    expect(parseSettings({ ttl: ['TTL', d.authorizerCacheTtlSeconds] }, { TTL: 120 }).ttl).toBe(120);
  });

  test('values are trimmed before they are converted', () => {
    expect(one(d.resourceId, '  res_abc-DEF_123 \n')).toBe('res_abc-DEF_123');
    expect(one(d.authorizerCacheTtlSeconds, ' 42 ')).toBe(42);
  });

  test('a long bad value is shown cut to 80 characters', () => {
    const long = `ftp://${'a'.repeat(100)}.example.com`;
    expect(problemsOf(d.environmentUrl, long)).toEqual([`VALUE: expected ${ENV_URL_EXPECTED}, got "${long.slice(0, 77)}..."`]);
  });
});

describe('URL settings', () => {
  test('the environment URL loses its trailing slashes, so that `${url}/keys` is what the operator expects', () => {
    expect(one(d.environmentUrl, 'https://acme.scalekit.com')).toBe('https://acme.scalekit.com');
    expect(one(d.environmentUrl, 'https://acme.scalekit.com/')).toBe('https://acme.scalekit.com');
    expect(one(d.environmentUrl, 'https://acme.scalekit.com//')).toBe('https://acme.scalekit.com');
    expect(one(d.apiBaseUrl, 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/')).toBe(
      'https://abc.execute-api.eu-west-1.amazonaws.com/prod',
    );
  });

  test.each([
    'http://localhost:3000',
    'http://127.0.0.1:8080',
    'http://[::1]:9000',
    'http://127.0.0.2:8080',
    'https://acme.scalekit.com',
  ])('accepts %s (https anywhere, http on loopback)', (url) => {
    expect(one(d.environmentUrl, url)).toBe(new URL(url).href.replace(/\/+$/, ''));
  });

  test.each([
    ['plain http off loopback', 'http://acme.scalekit.com'],
    ['a lookalike of localhost', 'http://localhost.evil.com'],
    ['a subdomain of localhost, which a resolver may send to DNS', 'http://dev.localhost'],
    ['every interface', 'http://0.0.0.0:8080'],
    ['another scheme', 'ftp://acme.scalekit.com'],
    ['a query', 'https://acme.scalekit.com/?x=1'],
    ['a fragment', 'https://acme.scalekit.com/#frag'],
    ['credentials', 'https://user:pass@acme.scalekit.com'],
    ['a username alone', 'https://user@acme.scalekit.com'],
    ['not a URL', 'acme.scalekit.com'],
  ])('refuses %s', (_why, url) => {
    expect(problemsOf(d.environmentUrl, url)).toEqual([`VALUE: expected ${ENV_URL_EXPECTED}, got ${JSON.stringify(url)}`]);
  });

  test("the environment URL must be the environment's root: a path is refused, saying what to put there", () => {
    // A resource's URL from Scalekit's dashboard, pasted whole: its id goes to SCALEKIT_RESOURCE_ID.
    for (const definition of [d.environmentUrl, d.environmentUrlIfSet]) {
      expect(problemsOf(definition, 'https://acme.scalekit.com/resources/res_89312345')).toEqual([
        'VALUE: expected the environment\'s root URL, without a path: put https://acme.scalekit.com here and res_89312345 in SCALEKIT_RESOURCE_ID (got "https://acme.scalekit.com/resources/res_89312345")',
      ]);
      expect(problemsOf(definition, 'https://acme.scalekit.com/resources/res_89312345/.well-known/oauth-authorization-server')[0]).toContain(
        'put https://acme.scalekit.com here and res_89312345 in SCALEKIT_RESOURCE_ID',
      );
      expect(problemsOf(definition, 'https://acme.scalekit.com/tenant/')).toEqual([
        'VALUE: expected the environment\'s root URL, without a path: put https://acme.scalekit.com here (got "https://acme.scalekit.com/tenant/")',
      ]);
      expect(problemsOf(definition, 'http://localhost:8080/keys')[0]).toContain('put http://localhost:8080 here (got');
    }
    // Other base URLs keep their paths: API Gateway's stage is one.
    expect(one(d.apiBaseUrl, 'https://abc.execute-api.eu-west-1.amazonaws.com/prod')).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod');
  });

  test('the resource identifier is kept exactly as given (RFC 8707 compares strings)', () => {
    expect(one(d.resourceIdentifier, 'https://mcp.example.com/web-search/mcp/')).toBe('https://mcp.example.com/web-search/mcp/');
    expect(one(d.resourceIdentifier, 'HTTPS://MCP.example.com/web-search/mcp')).toBe('HTTPS://MCP.example.com/web-search/mcp');
    expect(problemsOf(d.resourceIdentifier, 'http://mcp.example.com/web-search/mcp')).toEqual([
      `VALUE: expected ${RESOURCE_URL_EXPECTED}, got "http://mcp.example.com/web-search/mcp"`,
    ]);
    expect(problemsOf(d.resourceIdentifier, undefined)).toEqual([`VALUE: missing; expected ${RESOURCE_URL_EXPECTED}`]);
  });

  test('the optional resource identifier and the Tavily base URL have their fallbacks', () => {
    expect(one(d.resourceIdentifierOrDefault, undefined)).toBeUndefined();
    expect(one(d.resourceIdentifierOrDefault, 'http://localhost:10000/web-search/mcp')).toBe('http://localhost:10000/web-search/mcp');
    expect(one(d.tavilyApiBaseUrl, undefined)).toBe(DEFAULT_TAVILY_API_BASE_URL);
    expect(one(d.tavilyApiBaseUrl, 'http://127.0.0.1:4567/')).toBe('http://127.0.0.1:4567');
    expect(problemsOf(d.tavilyApiBaseUrl, 'http://tavily.internal')).toEqual([
      'VALUE: expected the Tavily API base URL (https; http only on loopback), got "http://tavily.internal"',
    ]);
  });

});

describe('resource id and SSM parameter name', () => {
  test.each(['res_1234567890', 'res_a-b_C'])('accepts resource id %s', (id) => {
    expect(one(d.resourceId, id)).toBe(id);
  });

  test.each(['1234567890', 'res_', 'res_12 34', 'RES_123', 'res_12/34', 'res_é'])('refuses resource id %s', (id) => {
    expect(problemsOf(d.resourceId, id)).toEqual([`VALUE: expected ${RESOURCE_ID_EXPECTED}, got ${JSON.stringify(id)}`]);
  });

  test('SSM parameter names: default, hierarchical, simple; refuses trailing slash, spaces and overlong names', () => {
    expect(one(d.tavilyApiKeyParameter, undefined)).toBe(DEFAULT_TAVILY_API_KEY_PARAMETER);
    expect(one(d.tavilyApiKeyParameter, '/team/prod/tavily.key')).toBe('/team/prod/tavily.key');
    expect(one(d.tavilyApiKeyParameter, 'tavily_key')).toBe('tavily_key');
    expect(one(d.tavilyApiKeyParameterIfSet, undefined)).toBeUndefined();
    const expected = 'an SSM parameter name, e.g. /web-search-mcp/tavily-api-key';
    for (const bad of ['/team/prod/', 'team key', '//double', `/${'a'.repeat(2048)}`]) {
      const shown = bad.length > 80 ? `${bad.slice(0, 77)}...` : bad;
      expect(problemsOf(d.tavilyApiKeyParameterIfSet, bad)).toEqual([`VALUE: expected ${expected}, got ${JSON.stringify(shown)}`]);
    }
  });

  test('the Tavily API key is taken as given (trimmed)', () => {
    expect(one(d.tavilyApiKey, ' tvly-abc ')).toBe('tvly-abc');
  });
});

describe('scope list', () => {
  test('defaults to web-search:read', () => {
    expect(one(d.requiredScopes, undefined)).toEqual(['web-search:read']);
  });

  test('splits on spaces and commas, drops duplicates, keeps order', () => {
    expect(one(d.requiredScopes, 'b:read, a:write,,b:read  c')).toEqual(['b:read', 'a:write', 'c']);
  });

  test.each([
    ['a double quote', 'web-search:"read"'],
    ['a backslash', 'web\\search'],
    ['a non-ASCII character', 'recherche:lire-é'],
    ['a control character', 'web\u0001search'],
  ])('refuses a scope with %s (RFC 6749 scope-token)', (_why, value) => {
    expect(problemsOf(d.requiredScopes, value)).toEqual([`VALUE: expected ${SCOPES_EXPECTED}, got ${JSON.stringify(value)}`]);
  });

  test('scopeList on its own: undefined for nothing but separators', () => {
    expect(scopeList(' , ,')).toBeUndefined();
    expect(scopeList('x')).toEqual(['x']);
  });
});

describe('integer settings', () => {
  test.each([
    ['0', 0],
    ['3600', 3600],
    ['300', 300],
    ['007', 7],
  ])('authorizer cache TTL %s is %d', (text, value) => {
    expect(one(d.authorizerCacheTtlSeconds, text)).toBe(value);
  });

  test.each(['-1', '3601', '1.5', '1e3', '0x10', 'ten', '+5', '5 s'])('authorizer cache TTL %s is refused', (text) => {
    expect(problemsOf(d.authorizerCacheTtlSeconds, text)).toEqual([`VALUE: expected ${TTL_EXPECTED}, got ${JSON.stringify(text)}`]);
  });

  test('throttling bounds and defaults', () => {
    expect(one(d.throttleRateLimit, undefined)).toBe(50);
    expect(one(d.throttleBurstLimit, undefined)).toBe(100);
    expect(one(d.throttleRateLimit, '1')).toBe(1);
    expect(one(d.throttleRateLimit, '10000')).toBe(10_000);
    expect(one(d.throttleBurstLimit, '5000')).toBe(5000);
    expect(problemsOf(d.throttleRateLimit, '0')).toEqual([
      'VALUE: expected requests per second for the whole stage, from 1 to 10000, got "0"',
    ]);
    expect(problemsOf(d.throttleBurstLimit, '5001')).toEqual(['VALUE: expected a burst size for the whole stage, from 1 to 5000, got "5001"']);
  });
});

describe('allowed origins', () => {
  test('none by default', () => {
    expect(one(d.allowedOrigins, undefined)).toEqual([]);
  });

  test('exact origins are normalized to their origin form; repeated entries are dropped', () => {
    expect(one(d.allowedOrigins, 'https://App.Example.com https://other.example.com:8443')).toEqual([
      'https://app.example.com',
      'https://other.example.com:8443',
    ]);
    expect(one(d.allowedOrigins, 'https://app.example.com:443')).toEqual(['https://app.example.com']);
    expect(one(d.allowedOrigins, 'https://a.example.com,https://a.example.com https://b.example.com')).toEqual([
      'https://a.example.com',
      'https://b.example.com',
    ]);
  });

  test('`*` and loopback any-port patterns are kept', () => {
    expect(one(d.allowedOrigins, '*')).toEqual(['*']);
    expect(one(d.allowedOrigins, 'http://localhost:*, http://127.0.0.1:*, http://[::1]:*, http://localhost:6274')).toEqual([
      'http://localhost:*',
      'http://127.0.0.1:*',
      'http://[::1]:*',
      'http://localhost:6274',
    ]);
  });

  test.each([
    ['a path', 'https://app.example.com/app'],
    ['a trailing slash', 'https://app.example.com/'],
    ['plain http off loopback', 'http://app.example.com'],
    ['any port off loopback', 'https://app.example.com:*'],
    ['any port on a localhost lookalike', 'http://localhost.evil.com:*'],
    ['a query', 'https://app.example.com?x'],
    ['not a URL', 'app.example.com'],
  ])('refuses an origin with %s, naming the whole list', (_why, entry) => {
    const value = `https://ok.example.com, ${entry}`;
    expect(problemsOf(d.allowedOrigins, value)).toEqual([`VALUE: expected ${ORIGINS_EXPECTED}, got ${JSON.stringify(value)}`]);
  });
});
