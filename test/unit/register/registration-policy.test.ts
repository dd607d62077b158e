/**
 * The registration policy on its own, then inside the registration core: refused
 * metadata gets an RFC 7591 error and costs the authorization server nothing
 * (no metadata lookup, no registration request).
 */
import {
  REGISTRATION_POLICY,
  redirectUriProblem,
  registrationRefusal,
} from '../../../lambda/register/registration-policy.js';
import { createRegistrationCore } from '../../../lambda/register/registration-proxy.js';
import type { AuthorizationServerMetadataSource } from '../../../lambda/shared/authorization-server-metadata.js';

const CALLBACK = 'https://app.example.com/oauth/callback';

const withRedirects = (redirect_uris: unknown, extra: Record<string, unknown> = {}) => ({ redirect_uris, ...extra });

/** `levels` nested arrays under one field: `{"a": [[…]]}` puts the innermost array at depth levels + 1. */
function nestedArrays(levels: number): Record<string, unknown> {
  let value: unknown = [];
  for (let level = 1; level < levels; level++) value = [value];
  return { a: value };
}

describe('redirect URIs that are accepted', () => {
  test.each([
    ['https', CALLBACK],
    ['https with a port and a query', 'https://app.example.com:8443/cb?tenant=acme'],
    ['https on localhost', 'https://localhost/callback'],
    ['http on 127.0.0.1 with any port', 'http://127.0.0.1:53682/callback'],
    ['http on another address of 127.0.0.0/8', 'http://127.0.0.2:53682/callback'],
    ['http on [::1]', 'http://[::1]:6274/callback'],
    ['http on localhost', 'http://localhost:6274/oauth/callback'],
    ['http on localhost without a port', 'http://localhost/callback'],
    ['http on loopback in capitals', 'HTTP://LOCALHOST:6274/callback'],
    ['http on loopback with the default port written out', 'http://127.0.0.1:80/callback'],
    ['a private-use scheme (RFC 8252 section 7.1)', 'com.example.app:/oauth2redirect'],
    ['a private-use scheme with an authority', 'com.example.app://callback'],
    ['a private-use scheme with digits and hyphens', 'io.my-app2.client:/cb'],
  ])('%s: %s', (_why, uri) => {
    expect(redirectUriProblem(uri)).toBeUndefined();
    expect(registrationRefusal(withRedirects([uri]))).toBeUndefined();
  });

  test(`exactly ${REGISTRATION_POLICY.maxRedirectUris} redirect URIs`, () => {
    const uris = Array.from({ length: REGISTRATION_POLICY.maxRedirectUris }, (_, i) => `${CALLBACK}/${i}`);
    expect(registrationRefusal(withRedirects(uris))).toBeUndefined();
  });
});

describe('redirect URIs that are refused with invalid_redirect_uri', () => {
  test.each([
    ['missing', undefined],
    ['null', null],
    ['a string instead of an array', CALLBACK],
    ['an object', { 0: CALLBACK }],
    ['an empty array', []],
    ['an array holding a number', [1]],
    ['an array holding null', [null]],
    ['an array holding an array', [[CALLBACK]]],
    ['an empty string', ['']],
    ['one good and one bad', [CALLBACK, 'javascript:alert(1)']],
    [`${REGISTRATION_POLICY.maxRedirectUris + 1} URIs`, Array.from({ length: REGISTRATION_POLICY.maxRedirectUris + 1 }, (_, i) => `${CALLBACK}/${i}`)],
  ])('redirect_uris %s', (_why, redirectUris) => {
    expect(registrationRefusal(withRedirects(redirectUris))).toMatchObject({ error: 'invalid_redirect_uri' });
  });

  test.each([
    // plain http off loopback, or loopback written so that another parser may read another host
    ['http to a remote host', 'http://app.example.com/callback'],
    ['http to a name starting with localhost', 'http://localhost.evil.example/callback'],
    ['http to a subdomain of localhost', 'http://app.localhost/callback'],
    ['http to a name embedding 127.0.0.1', 'http://127.0.0.1.nip.io/callback'],
    ['http to loopback in hex', 'http://0x7f.1/callback'],
    ['http to loopback as one number', 'http://2130706433/callback'],
    ['http to loopback shortened', 'http://127.1/callback'],
    ['http to every interface', 'http://0.0.0.0/callback'],
    ['http to an IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/callback'],
    ['http to localhost with a trailing dot', 'http://localhost./callback'],
    ['http to loopback IPv6 written long', 'http://[0:0:0:0:0:0:0:1]/callback'],
    ['http with a backslash before an @', 'http://127.0.0.1\\@evil.example/callback'],
    ['http with user info', 'http://user@127.0.0.1/callback'],
    ['http without slashes', 'http:127.0.0.1/callback'],
    ['http with one slash', 'http:/localhost/callback'],
    // schemes that run code or read files, in any case and dotted
    ['javascript:', 'javascript:alert(document.cookie)'],
    ['JavaScript: in mixed case', 'JavaScript:alert(1)'],
    ['javascript: dotted like a private-use scheme', 'javascript.example:alert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['data: dotted', 'data.example.app:/callback'],
    ['file:', 'file:///etc/passwd'],
    ['file: dotted', 'file.example:/callback'],
    ['vbscript:', 'vbscript:msgbox(1)'],
    ['blob:', 'blob:https://app.example.com/0b5e'],
    ['about:', 'about:blank'],
    ['view-source:', 'view-source:https://app.example.com/'],
    // other schemes
    ['a custom scheme without a dot', 'myapp:/callback'],
    ['the out-of-band URN', 'urn:ietf:wg:oauth:2.0:oob'],
    ['ftp:', 'ftp://app.example.com/callback'],
    ['ws:', 'ws://127.0.0.1/callback'],
    ['mailto:', 'mailto:attacker@evil.example'],
    // fragments, relative references, invisible characters, length
    ['a fragment', `${CALLBACK}#token`],
    ['an empty fragment', `${CALLBACK}#`],
    ['a fragment on loopback', 'http://127.0.0.1:8080/callback#x'],
    ['a fragment on a private-use scheme', 'com.example.app:/callback#x'],
    ['a relative path', '/callback'],
    ['a scheme-relative reference', '//evil.example/callback'],
    ['a leading space before javascript:', ' javascript:alert(1)'],
    ['a tab inside javascript:', 'java\tscript:alert(1)'],
    ['a newline at the end', `${CALLBACK}\n`],
    ['a NUL inside', `https://app.example.com\u0000.evil.example/cb`],
    ['a C1 control character', `https://app.example.com/\u0085cb`],
    ['an over-long URI', `https://app.example.com/${'a'.repeat(REGISTRATION_POLICY.maxRedirectUriLength)}`],
  ])('%s', (_why, uri) => {
    expect(redirectUriProblem(uri)).toEqual(expect.any(String));
    const refusal = registrationRefusal(withRedirects([CALLBACK, uri]));
    expect(refusal).toEqual({ error: 'invalid_redirect_uri', description: expect.stringMatching(/^redirect_uris\[1\] /) });
    // The description names the position, and never reflects the submitted text.
    expect(refusal!.description).not.toContain(uri.trim());
  });
});

describe('client metadata refused with invalid_client_metadata', () => {
  test.each([
    ['a number', 42],
    ['null', null],
    ['an array', ['Test']],
    ['an object', { en: 'Test' }],
    [`${REGISTRATION_POLICY.maxClientNameLength + 1} characters`, 'n'.repeat(REGISTRATION_POLICY.maxClientNameLength + 1)],
  ])('client_name %s', (_why, clientName) => {
    expect(registrationRefusal(withRedirects([CALLBACK], { client_name: clientName }))).toEqual({
      error: 'invalid_client_metadata',
      description: expect.stringContaining('client_name'),
    });
  });

  test(`client_name of ${REGISTRATION_POLICY.maxClientNameLength} characters, counted as code points, is accepted`, () => {
    const emoji = '\u{1F50E}'.repeat(REGISTRATION_POLICY.maxClientNameLength); // 2 UTF-16 units each
    expect(registrationRefusal(withRedirects([CALLBACK], { client_name: emoji }))).toBeUndefined();
    expect(registrationRefusal(withRedirects([CALLBACK], { client_name: 'n'.repeat(REGISTRATION_POLICY.maxClientNameLength) }))).toBeUndefined();
  });

  test(`more than ${REGISTRATION_POLICY.maxFields} fields`, () => {
    const fields = (count: number) => Object.fromEntries(Array.from({ length: count - 1 }, (_, i) => [`x_${i}`, i]));
    expect(registrationRefusal(withRedirects([CALLBACK], fields(REGISTRATION_POLICY.maxFields)))).toBeUndefined();
    expect(registrationRefusal(withRedirects([CALLBACK], fields(REGISTRATION_POLICY.maxFields + 1)))).toEqual({
      error: 'invalid_client_metadata',
      description: `Client metadata may hold at most ${REGISTRATION_POLICY.maxFields} fields.`,
    });
  });

  test(`values nested deeper than ${REGISTRATION_POLICY.maxDepth} levels; a JWKS-shaped value with x5c chains fits`, () => {
    // jwks itself is refused (a public client has no keys), but a document as deep as one is not too deep.
    const keysLike = { keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', x5c: ['MIIB'] }] };
    expect(registrationRefusal(withRedirects([CALLBACK], { software_statement_claims: keysLike }))).toBeUndefined();
    expect(registrationRefusal({ ...withRedirects([CALLBACK]), ...nestedArrays(REGISTRATION_POLICY.maxDepth - 1) })).toBeUndefined();
    expect(registrationRefusal({ ...withRedirects([CALLBACK]), ...nestedArrays(REGISTRATION_POLICY.maxDepth) })).toEqual({
      error: 'invalid_client_metadata',
      description: `Client metadata may nest objects and arrays at most ${REGISTRATION_POLICY.maxDepth} levels deep.`,
    });
  });

  test('nesting thousands of levels deep is refused without exhausting the stack', () => {
    expect(registrationRefusal(nestedArrays(100_000))).toMatchObject({ error: 'invalid_client_metadata' });
  });

  test(`more than ${REGISTRATION_POLICY.maxValues} values in all`, () => {
    // redirect_uris, its one URI, contacts, and count - 3 addresses: count values in all.
    const values = (count: number) => ({ ...withRedirects([CALLBACK]), contacts: Array.from({ length: count - 3 }, (_, i) => `c${i}@example.com`) });
    expect(registrationRefusal(values(REGISTRATION_POLICY.maxValues))).toBeUndefined();
    expect(registrationRefusal(values(REGISTRATION_POLICY.maxValues + 1))).toEqual({
      error: 'invalid_client_metadata',
      description: `Client metadata may hold at most ${REGISTRATION_POLICY.maxValues} values.`,
    });
  });

  test('the shape is judged before the redirect URIs', () => {
    expect(registrationRefusal({ ...nestedArrays(50), redirect_uris: ['javascript:alert(1)'] })).toMatchObject({
      error: 'invalid_client_metadata',
    });
  });
});

describe('the registration core refuses before any upstream call', () => {
  let metadataLookups: number;
  let upstreamCalls: number;
  const metadataSource: AuthorizationServerMetadataSource = {
    get: async () => {
      metadataLookups += 1;
      return { metadata: { issuer: 'https://as.example', registration_endpoint: 'https://as.example/register' }, stale: false };
    },
  };
  const core = createRegistrationCore({
    authorizationServerMetadata: metadataSource,
    fetch: async (_input, init) => {
      upstreamCalls += 1;
      return new Response(JSON.stringify({ ...JSON.parse(String(init?.body)), client_id: 'skc_new' }), {
        status: 201,
        headers: { 'Content-Type': 'application/json' },
      });
    },
  });
  const register = (body: string) =>
    core(new Request('https://mcp.example.com/oauth/register', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }));

  beforeEach(() => {
    metadataLookups = 0;
    upstreamCalls = 0;
  });

  const deeplyNested = `{"redirect_uris":["${CALLBACK}"],"a":${'['.repeat(7_000)}${']'.repeat(7_000)}}`;

  test.each([
    ['no redirect_uris', { client_name: 'x' }, 'invalid_redirect_uri'],
    ['a javascript: redirect URI', withRedirects(['javascript:alert(1)']), 'invalid_redirect_uri'],
    ['plain http to a remote host', withRedirects(['http://evil.example/cb']), 'invalid_redirect_uri'],
    ['a fragment', withRedirects([`${CALLBACK}#x`]), 'invalid_redirect_uri'],
    ['eleven redirect URIs', withRedirects(Array.from({ length: 11 }, (_, i) => `${CALLBACK}/${i}`)), 'invalid_redirect_uri'],
    ['a client_name too long', withRedirects([CALLBACK], { client_name: 'n'.repeat(201) }), 'invalid_client_metadata'],
    ['a client_name that is not a string', withRedirects([CALLBACK], { client_name: { $gt: '' } }), 'invalid_client_metadata'],
    ['too many fields', { ...withRedirects([CALLBACK]), ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`f${i}`, i])) }, 'invalid_client_metadata'],
    ['deep nesting', deeplyNested, 'invalid_client_metadata'],
  ])('%s: 400 %s, no metadata lookup, no registration request', async (_why, metadata, error) => {
    const body = typeof metadata === 'string' ? metadata : JSON.stringify(metadata);
    expect(Buffer.byteLength(body)).toBeLessThan(16 * 1024);
    const response = await register(body);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ error, error_description: expect.any(String) });
    expect(metadataLookups).toBe(0);
    expect(upstreamCalls).toBe(0);
  });

  test('metadata within the policy is forwarded as it came', async () => {
    const metadata = withRedirects([CALLBACK, 'http://127.0.0.1:8080/cb', 'com.example.app:/cb'], { client_name: 'Good client' });
    const response = await register(JSON.stringify(metadata));
    expect(response.status).toBe(201);
    // A client that names no token_endpoint_auth_method is registered public.
    expect(await response.json()).toEqual({ ...metadata, token_endpoint_auth_method: 'none', client_id: 'skc_new' });
    expect(metadataLookups).toBe(1);
    expect(upstreamCalls).toBe(1);
  });
});
