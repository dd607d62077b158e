/**
 * What the registration proxy refuses before anything reaches the authorization
 * server. The endpoint is open to anyone, and a registered redirect URI is where
 * authorization codes will be sent: a script URL, a file, or plain http to
 * someone else's host turns a registration into a way to steal them. Documents
 * built to cost work (thousands of fields, deep nesting) are refused too.
 * Scalekit applies its own rules after these; these are the floor, in RFC 7591
 * error form (`invalid_redirect_uri`, `invalid_client_metadata`).
 */

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

export interface RegistrationRefusal {
  readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata';
  readonly description: string;
}

/** RFC 8252 section 7.3: the loopback hosts a native app may listen on, written exactly so. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

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

/** Why a redirect URI cannot be registered through this server, or undefined if it can. */
export function redirectUriProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'is not a non-empty string';
  if (value.length > REGISTRATION_POLICY.maxRedirectUriLength) {
    return `is longer than ${REGISTRATION_POLICY.maxRedirectUriLength} characters`;
  }
  if (INVISIBLE.test(value)) return 'contains whitespace or control characters';
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
  if (!LOOPBACK_HOSTS.has(url.hostname) || authority === undefined || !asParsed.includes(authority)) {
    return 'uses http on a host other than a loopback address written as 127.0.0.1, [::1] or localhost';
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

/**
 * Why this client metadata must not be forwarded, or undefined if it may be.
 * The shape is checked first, so that the other checks only ever look at a
 * bounded document.
 */
export function registrationRefusal(metadata: Readonly<Record<string, unknown>>): RegistrationRefusal | undefined {
  const shape = shapeProblem(metadata);
  if (shape) return { error: 'invalid_client_metadata', description: shape };
  const redirect = redirectUrisRefusal(metadata.redirect_uris);
  if (redirect) return redirect;
  const name = clientNameProblem(metadata);
  if (name) return { error: 'invalid_client_metadata', description: name };
  return undefined;
}
