import {
  ALLOWED_REQUEST_HEADERS,
  allowedOriginPattern,
  createOriginPolicy,
  EXPOSED_HEADERS,
  PREFLIGHT_MAX_AGE_SECONDS,
} from '../../../lambda/shared/cors.js';

const EXPOSE = 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, Retry-After';
const ALLOW_HEADERS = 'Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id, Last-Event-ID';

describe('allowedOriginPattern', () => {
  test('no origins: no pattern at all', () => {
    expect(allowedOriginPattern([])).toBeUndefined();
  });

  test('`*` anywhere in the list wins', () => {
    expect(allowedOriginPattern(['https://a.example.com', '*'])).toBe('.*');
  });

  test('exact origins are escaped and anchored; loopback any-port adds an optional port of up to 5 digits', () => {
    expect(allowedOriginPattern(['https://app.example.com', 'http://localhost:*'])).toBe(
      '^(https:\\/\\/app\\.example\\.com|http:\\/\\/localhost(:[0-9]{1,5})?)$',
    );
  });

  test('the constants say what the headers are', () => {
    expect(EXPOSED_HEADERS.join(', ')).toBe(EXPOSE);
    expect(ALLOWED_REQUEST_HEADERS.join(', ')).toBe(ALLOW_HEADERS);
    expect(PREFLIGHT_MAX_AGE_SECONDS).toBe(600);
  });
});

describe('createOriginPolicy.isAllowed', () => {
  const policy = createOriginPolicy(['https://app.example.com', 'http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*']);

  test.each([
    'https://app.example.com',
    'http://localhost',
    'http://localhost:3000',
    'http://localhost:65535',
    'http://127.0.0.1:6274',
    'http://[::1]:8080',
  ])('allows %s', (origin) => {
    expect(policy.isAllowed(origin)).toBe(true);
  });

  test.each([
    ['a lookalike host', 'http://localhost.evil.com'],
    ['a port followed by a domain', 'http://localhost:80.evil.com'],
    ['a six-digit port', 'http://localhost:123456'],
    ['https on a loopback http pattern', 'https://localhost:3000'],
    ['a subdomain of an exact origin', 'https://evil.app.example.com'],
    ['an exact origin as a prefix', 'https://app.example.com.evil.com'],
    ['an exact origin with a port', 'https://app.example.com:8443'],
    ['an exact origin with a path', 'https://app.example.com/'],
    ['a dot that is not a dot', 'https://appXexample.com'],
    ['another scheme', 'http://app.example.com'],
    ['upper case', 'HTTPS://APP.EXAMPLE.COM'],
    ['the opaque origin', 'null'],
    ['the empty string', ''],
    ['a trailing newline', 'https://app.example.com\n'],
  ])('refuses %s', (_why, origin) => {
    expect(policy.isAllowed(origin)).toBe(false);
  });

  test('refuses a missing origin', () => {
    expect(policy.isAllowed(null)).toBe(false);
    expect(policy.isAllowed(undefined)).toBe(false);
  });

  test('no allowed origins: nothing is allowed', () => {
    expect(createOriginPolicy([]).isAllowed('https://app.example.com')).toBe(false);
  });

  test('`*` allows any origin up to 2048 characters, and refuses longer ones and missing ones', () => {
    const any = createOriginPolicy(['*']);
    expect(any.isAllowed('https://anything.example')).toBe(true);
    expect(any.isAllowed('null')).toBe(true);
    const atLimit = `https://${'a'.repeat(2048 - 'https://'.length)}`;
    expect(atLimit.length).toBe(2048);
    expect(any.isAllowed(atLimit)).toBe(true);
    expect(any.isAllowed(`${atLimit}a`)).toBe(false);
    expect(any.isAllowed(null)).toBe(false);
  });
});

describe('createOriginPolicy.responseHeaders', () => {
  test('an allowed origin is echoed with the exposed headers and Vary', () => {
    expect(createOriginPolicy(['https://app.example.com']).responseHeaders('https://app.example.com')).toEqual({
      'Access-Control-Allow-Origin': 'https://app.example.com',
      'Access-Control-Expose-Headers': EXPOSE,
      Vary: 'Origin',
    });
  });

  test('`*` answers `*`, not the origin', () => {
    expect(createOriginPolicy(['*']).responseHeaders('https://elsewhere.example')).toEqual({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Expose-Headers': EXPOSE,
      Vary: 'Origin',
    });
  });

  test('a refused or missing origin gets only Vary', () => {
    const policy = createOriginPolicy(['https://app.example.com']);
    expect(policy.responseHeaders('https://evil.example')).toEqual({ Vary: 'Origin' });
    expect(policy.responseHeaders(null)).toEqual({ Vary: 'Origin' });
    expect(policy.responseHeaders(undefined)).toEqual({ Vary: 'Origin' });
  });
});

describe('createOriginPolicy.preflight', () => {
  const headersOf = (response: Response) => Object.fromEntries(response.headers.entries());

  test('an allowed origin gets a 204 grant for the path methods plus OPTIONS', async () => {
    const response = createOriginPolicy(['http://localhost:*']).preflight('http://localhost:6274', ['POST', 'GET', 'DELETE']);
    expect(response.status).toBe(204);
    expect(headersOf(response)).toEqual({
      'access-control-allow-origin': 'http://localhost:6274',
      'access-control-allow-methods': 'POST, GET, DELETE, OPTIONS',
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    expect(await response.text()).toBe('');
  });

  test('`*` grants `*`', () => {
    const response = createOriginPolicy(['*']).preflight('https://x.example', ['GET']);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, OPTIONS');
  });

  test('a refused origin gets a 204 without any grant', async () => {
    const response = createOriginPolicy(['https://app.example.com']).preflight('http://localhost:80.evil.com', ['POST']);
    expect(response.status).toBe(204);
    expect(headersOf(response)).toEqual({ vary: 'Origin' });
    expect(await response.text()).toBe('');
  });

  test('a preflight without Origin gets no grant', () => {
    expect(headersOf(createOriginPolicy(['*']).preflight(null, ['POST']))).toEqual({ vary: 'Origin' });
  });
});
