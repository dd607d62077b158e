/**
 * What the registration proxy refuses before anything reaches the authorization
 * server. The endpoint is open to anyone, and a registered redirect URI is where
 * authorization codes will be sent: a script URL, a file, or plain http to
 * someone else's host turns a registration into a way to steal them. Documents
 * built to cost work (thousands of fields, deep nesting) are refused too.
 *
 * Every field is covered, not only `redirect_uris`:
 * - `grant_types` within authorization_code and refresh_token: an anonymous
 *   registration must never yield a client that mints user-less tokens
 *   (client_credentials) or takes passwords;
 * - `response_types` exactly `code`; `token_endpoint_auth_method` `none` (the
 *   clients registering here are public; left out, the proxy asks for `none`
 *   rather than RFC 7591's default of a client secret);
 * - `scope` within the scopes this server uses (and the OpenID ones a client
 *   needs for refresh tokens and sign-in);
 * - URI-valued fields: post-logout redirect URIs checked like redirect URIs,
 *   informational URIs (client, logo, terms, policy) https only, and every URI
 *   the authorization server would fetch or call (jwks_uri, request_uris,
 *   sector_identifier_uri, logout and login URIs, unknown `*_uri(s)` fields)
 *   refused outright, with inline `jwks`;
 * - no Unicode format (Cf) or control (Cc) character, nor a line or paragraph
 *   separator, anywhere: in any value or field name, however nested. The WHATWG
 *   URL parser drops some of them silently (U+00AD in a host), so a URI that
 *   looks like one host to a person is another to a parser.
 *
 * The authorization server applies its own rules after these; these are the
 * floor, in RFC 7591 error form (`invalid_redirect_uri`, `invalid_client_metadata`).
 * They bind only clients that register through this server: a client that goes to
 * Scalekit directly registers under Scalekit's own settings (see the README).
 */
import { isLoopbackHost } from '../shared/loopback.js';

export const REGISTRATION_POLICY = {
  /** Real clients register one or two callbacks; a long list is a spray of guesses. */
  maxRedirectUris: 10,
  maxRedirectUriLength: 2048,
  /** Characters (code points) of `client_name`, which consent screens show. */
  maxClientNameLength: 200,
  /** RFC 7591 and OpenID registration define about forty fields. */
  maxFields: 50,
  /** Objects and arrays nested this deep at most: `jwks.keys[].x5c[]` is the deepest standard field. */
  maxDepth: 5,
  /** Values in the whole document, however nested. */
  maxValues: 500,
} as const;

/** Grants an anonymously registered client may use: a user signs in; refresh keeps them signed in. */
export const ALLOWED_GRANT_TYPES: readonly string[] = ['authorization_code', 'refresh_token'];
export const ALLOWED_RESPONSE_TYPES: readonly string[] = ['code'];
/** OpenID scopes a client may add to the resource's: refresh tokens (offline_access) and sign-in. */
export const STANDARD_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access'];

/** Redirect targets after sign-out: where a browser is sent, so checked like redirect URIs. */
const REDIRECT_LIKE_URI_LISTS = ['post_logout_redirect_uris'] as const;
/** Shown on consent screens, never fetched by the authorization server: https only. */
const INFORMATIONAL_URIS = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri'] as const;
/**
 * Fields that make the authorization server fetch or call a URI, or trust keys, on the
 * registrant's say-so. A public client has no use for any of them.
 */
const REFUSED_FIELDS = [
  'jwks_uri',
  'jwks',
  'request_uris',
  'sector_identifier_uri',
  'initiate_login_uri',
  'backchannel_logout_uri',
  'frontchannel_logout_uri',
] as const;
const CHECKED_URI_FIELDS = new Set<string>(['redirect_uris', ...REDIRECT_LIKE_URI_LISTS, ...INFORMATIONAL_URIS, ...REFUSED_FIELDS]);

export interface RegistrationPolicyOptions {
  /**
   * The scopes a client may register for (this server's `scopes_supported`); STANDARD_SCOPES
   * are added. Undefined: `scope` is left to the authorization server.
   */
  readonly scopesSupported?: readonly string[];
  /**
   * Whether only public clients (`token_endpoint_auth_method` `none`) may register. The
   * development authorization server also registers confidential clients (authorization
   * code with a secret), as Scalekit does.
   */
  readonly publicClientsOnly?: boolean;
}

export interface RegistrationRefusal {
  readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata';
  readonly description: string;
}

/**
 * Schemes that run code or read local data wherever they are opened. Checked
 * before the private-use rule, on the scheme's first label, so that no dotted
 * variant of them passes as a reverse domain name.
 */
const DANGEROUS_SCHEMES = new Set([
  'javascript',
  'vbscript',
  'livescript',
  'data',
  'file',
  'filesystem',
  'blob',
  'about',
  'view-source',
  'jar',
]);

/** RFC 8252 section 7.1: a private-use scheme is a reverse domain name, like `com.example.app`. */
const REVERSE_DOMAIN_SCHEME = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/;

/**
 * Whitespace and control characters: the WHATWG parser drops some of them
 * silently (`java\tscript:`), a parser upstream may not, and no real redirect
 * URI holds them.
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u0020\u007f-\u009f]/;

/**
 * Characters no registration field needs and that make text read differently from
 * what it is: control characters (Cc), format characters (Cf: soft hyphen, zero-width
 * characters, bidirectional overrides, the byte order mark...), and the line and
 * paragraph separators U+2028 and U+2029.
 */
const FORMAT_OR_CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/** Why a redirect URI cannot be registered through this server, or undefined if it can. */
export function redirectUriProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'is not a non-empty string';
  if (value.length > REGISTRATION_POLICY.maxRedirectUriLength) {
    return `is longer than ${REGISTRATION_POLICY.maxRedirectUriLength} characters`;
  }
  if (INVISIBLE.test(value) || FORMAT_OR_CONTROL.test(value)) return 'contains whitespace, control or invisible format characters';
  // Even an empty fragment ("…/callback#") counts: RFC 6749 section 3.1.2 forbids one.
  if (value.includes('#')) return 'has a fragment, which a redirect URI must not have';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URI';
  }
  const scheme = url.protocol.slice(0, -1); // the parser lower-cases it
  if (DANGEROUS_SCHEMES.has(scheme.split('.')[0]!)) return `uses the ${scheme}: scheme, which is never a redirect target`;
  if (scheme === 'https') return undefined;
  if (scheme === 'http') return loopbackProblem(value, url);
  if (REVERSE_DOMAIN_SCHEME.test(scheme)) return undefined;
  return `uses the ${scheme}: scheme; use https, http on a loopback address, or a private-use scheme such as com.example.app:/callback`;
}

/**
 * Plain http is for native apps listening on loopback only. The host must be
 * written exactly as the parser reads it: `http://127.0.0.1\@evil.example/` or
 * `http://0x7f.1/` are loopback to the WHATWG parser and may not be to another,
 * and the authorization server is another.
 */
function loopbackProblem(value: string, url: URL): string | undefined {
  const authority = /^http:\/\/([^/?#]*)/i.exec(value)?.[1]?.toLowerCase();
  // As the parser reads it, with or without the default port written out.
  const asParsed = [url.host, `${url.hostname}:${url.port || '80'}`];
  if (!isLoopbackHost(url.hostname) || authority === undefined || !asParsed.includes(authority)) {
    return 'uses http on a host other than a loopback address (127.0.0.0/8, [::1] or localhost) written out in full';
  }
  return undefined;
}

function redirectUrisRefusal(redirectUris: unknown): RegistrationRefusal | undefined {
  const refuse = (description: string): RegistrationRefusal => ({ error: 'invalid_redirect_uri', description });
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) {
    return refuse('redirect_uris must be a non-empty array of redirect URIs.');
  }
  if (redirectUris.length > REGISTRATION_POLICY.maxRedirectUris) {
    return refuse(`redirect_uris may hold at most ${REGISTRATION_POLICY.maxRedirectUris} URIs.`);
  }
  for (const [index, uri] of redirectUris.entries()) {
    const problem = redirectUriProblem(uri);
    // The index, not the URI: an error description must not carry a submitted URI back.
    if (problem) return refuse(`redirect_uris[${index}] ${problem}.`);
  }
  return undefined;
}

/** Fields, values and depth within bounds; walked without recursion, so depth cannot exhaust the stack. */
function shapeProblem(metadata: Readonly<Record<string, unknown>>): string | undefined {
  if (Object.keys(metadata).length > REGISTRATION_POLICY.maxFields) {
    return `Client metadata may hold at most ${REGISTRATION_POLICY.maxFields} fields.`;
  }
  let values = 0;
  const pending: Array<{ value: unknown; depth: number }> = [{ value: metadata, depth: 1 }];
  while (pending.length > 0) {
    const { value, depth } = pending.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > REGISTRATION_POLICY.maxDepth) {
      return `Client metadata may nest objects and arrays at most ${REGISTRATION_POLICY.maxDepth} levels deep.`;
    }
    for (const child of Object.values(value)) {
      values += 1;
      if (values > REGISTRATION_POLICY.maxValues) return `Client metadata may hold at most ${REGISTRATION_POLICY.maxValues} values.`;
      pending.push({ value: child, depth: depth + 1 });
    }
  }
  return undefined;
}

function clientNameProblem(metadata: Readonly<Record<string, unknown>>): string | undefined {
  if (!Object.hasOwn(metadata, 'client_name')) return undefined;
  const name = metadata.client_name;
  if (typeof name !== 'string') return 'client_name must be a string.';
  if ([...name].length > REGISTRATION_POLICY.maxClientNameLength) {
    return `client_name may be at most ${REGISTRATION_POLICY.maxClientNameLength} characters long.`;
  }
  return undefined;
}

/** An informational URI: https only, without the characters refused everywhere. */
function informationalUriProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'is not a non-empty string';
  if (value.length > REGISTRATION_POLICY.maxRedirectUriLength) return `is longer than ${REGISTRATION_POLICY.maxRedirectUriLength} characters`;
  if (INVISIBLE.test(value)) return 'contains whitespace or control characters';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URI';
  }
  return url.protocol === 'https:' ? undefined : 'must be an https URL';
}

/**
 * The top-level field whose value or name (however nested) holds a format or control
 * character, named only if it is a plain field name: submitted text is not echoed.
 */
function invisibleCharacterField(metadata: Readonly<Record<string, unknown>>): string | undefined {
  const pending: Array<{ value: unknown; field: string }> = Object.entries(metadata).map(([key, value]) => ({
    value,
    field: FORMAT_OR_CONTROL.test(key) || !/^[a-z_]{1,64}$/.test(key) ? 'a field name or value' : key,
  }));
  for (const key of Object.keys(metadata)) if (FORMAT_OR_CONTROL.test(key)) return 'a field name';
  while (pending.length > 0) {
    const { value, field } = pending.pop()!;
    if (typeof value === 'string') {
      if (FORMAT_OR_CONTROL.test(value)) return field;
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, child] of Object.entries(value)) {
      if (FORMAT_OR_CONTROL.test(key)) return field;
      pending.push({ value: child, field });
    }
  }
  return undefined;
}

/** `field`, if present, is an array of strings, each one of `allowed`. */
function listProblem(metadata: Readonly<Record<string, unknown>>, field: string, allowed: readonly string[]): string | undefined {
  if (!Object.hasOwn(metadata, field)) return undefined;
  const list = metadata[field];
  if (!Array.isArray(list) || list.length === 0 || list.some((item) => typeof item !== 'string')) {
    return `${field} must be a non-empty array of strings.`;
  }
  const refused = list.findIndex((item) => !allowed.includes(item as string));
  if (refused >= 0) return `${field}[${refused}] is not allowed here; this server registers clients for ${allowed.join(', ')} only.`;
  return undefined;
}

function grantAndAuthenticationProblem(metadata: Readonly<Record<string, unknown>>, publicClientsOnly: boolean): string | undefined {
  const grants = listProblem(metadata, 'grant_types', ALLOWED_GRANT_TYPES);
  if (grants) return grants;
  const responses = listProblem(metadata, 'response_types', ALLOWED_RESPONSE_TYPES);
  if (responses) return responses;
  if (Object.hasOwn(metadata, 'token_endpoint_auth_method')) {
    const method = metadata.token_endpoint_auth_method;
    const allowed = publicClientsOnly ? ['none'] : ['none', 'client_secret_basic', 'client_secret_post'];
    if (typeof method !== 'string' || !allowed.includes(method)) {
      return `token_endpoint_auth_method must be ${allowed.map((name) => `"${name}"`).join(' or ')}${publicClientsOnly ? ': clients registering here are public' : ''}.`;
    }
  }
  return undefined;
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 section 3.3

function scopeProblem(metadata: Readonly<Record<string, unknown>>, scopesSupported: readonly string[] | undefined): string | undefined {
  if (!Object.hasOwn(metadata, 'scope')) return undefined;
  const scope = metadata.scope;
  if (typeof scope !== 'string') return 'scope must be a string of space-separated scopes.';
  const scopes = scope.split(' ').filter(Boolean);
  if (scopes.some((token) => !SCOPE_TOKEN.test(token))) return 'scope must be space-separated scope tokens (RFC 6749 section 3.3).';
  if (scopesSupported === undefined) return undefined;
  const allowed = new Set([...scopesSupported, ...STANDARD_SCOPES]);
  const refused = scopes.filter((token) => !allowed.has(token));
  // The supported scopes are public (the protected resource metadata lists them); the refused ones are not echoed.
  if (refused.length > 0) return `scope may only name ${[...allowed].join(', ')}.`;
  return undefined;
}

function uriFieldsRefusal(metadata: Readonly<Record<string, unknown>>): RegistrationRefusal | undefined {
  const refuse = (description: string): RegistrationRefusal => ({ error: 'invalid_client_metadata', description });
  for (const field of REFUSED_FIELDS) {
    if (Object.hasOwn(metadata, field)) return refuse(`${field} is not accepted: clients registering here are public and need none.`);
  }
  for (const field of Object.keys(metadata)) {
    if (/_uris?$/.test(field) && !CHECKED_URI_FIELDS.has(field)) {
      return refuse('Client metadata holds a URI field this server does not know; only the RFC 7591 fields are accepted.');
    }
  }
  for (const field of REDIRECT_LIKE_URI_LISTS) {
    if (!Object.hasOwn(metadata, field)) continue;
    const list = metadata[field];
    if (!Array.isArray(list) || list.length > REGISTRATION_POLICY.maxRedirectUris) {
      return refuse(`${field} must be an array of at most ${REGISTRATION_POLICY.maxRedirectUris} URIs.`);
    }
    for (const [index, uri] of list.entries()) {
      const problem = redirectUriProblem(uri);
      if (problem) return refuse(`${field}[${index}] ${problem}.`);
    }
  }
  for (const field of INFORMATIONAL_URIS) {
    if (!Object.hasOwn(metadata, field)) continue;
    const problem = informationalUriProblem(metadata[field]);
    if (problem) return refuse(`${field} ${problem}.`);
  }
  return undefined;
}

/**
 * Why this client metadata must not be forwarded, or undefined if it may be.
 * The shape is checked first, so that the other checks only ever look at a
 * bounded document.
 */
export function registrationRefusal(
  metadata: Readonly<Record<string, unknown>>,
  { scopesSupported, publicClientsOnly = true }: RegistrationPolicyOptions = {},
): RegistrationRefusal | undefined {
  const shape = shapeProblem(metadata);
  if (shape) return { error: 'invalid_client_metadata', description: shape };
  // Redirect URIs first, so that a refusal names the one at fault by its index.
  const redirect = redirectUrisRefusal(metadata.redirect_uris);
  if (redirect) return redirect;
  const invisible = invisibleCharacterField(metadata);
  if (invisible !== undefined) {
    return {
      error: 'invalid_client_metadata',
      description: `${invisible} contains a control or invisible format character (such as U+200B, U+00AD or U+202E), which no client metadata needs.`,
    };
  }
  const uris = uriFieldsRefusal(metadata);
  if (uris) return uris;
  for (const problem of [grantAndAuthenticationProblem(metadata, publicClientsOnly), scopeProblem(metadata, scopesSupported), clientNameProblem(metadata)]) {
    if (problem) return { error: 'invalid_client_metadata', description: problem };
  }
  return undefined;
}

/**
 * The metadata as forwarded: a public client that leaves `token_endpoint_auth_method`
 * out asks for `none`, where RFC 7591's default would have the server issue it a secret.
 */
export function forwardedMetadata(metadata: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.hasOwn(metadata, 'token_endpoint_auth_method') ? { ...metadata } : { ...metadata, token_endpoint_auth_method: 'none' };
}
