/**
 * The doctor's `--sign-in`: a whole authorization-code flow, as an MCP client
 * runs it, against an authorization server that consents by itself (the one
 * `npm run dev` embeds): register a public client (DCR), send the "browser" to
 * the authorization endpoint with PKCE and the resource, follow the redirects,
 * check the response's `iss` the way RFC 9207 clients do (byte for byte against
 * the metadata's `issuer`), redeem the code, and list the tools with the token.
 *
 * Nothing listens on the redirect URI: the callback is read from the Location
 * header, never loaded. Against a Scalekit environment the authorization
 * endpoint shows a sign-in page, and the check says so instead of going further.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isRedirect, jsonObjectOf, preview, type HttpClient, type Json } from '../http.js';
import type { CheckResult } from '../report.js';

const REDIRECT_URI = 'http://127.0.0.1:33418/web-search-mcp-doctor/callback';
const MAX_HOPS = 10;
const base64url = (bytes: Buffer) => bytes.toString('base64url');

export interface SignInInput {
  readonly authorizationServer: string;
  readonly metadata: Json;
  readonly resource: string;
  readonly scope?: string;
  /** Lists the tools with the token obtained; resolves to their names, or a problem. */
  readonly listTools: (accessToken: string) => Promise<{ ok: true; names: string[] } | { ok: false; summary: string; fix: string }>;
}

const check = (status: CheckResult['status'], id: string, summary: string, fix?: string): CheckResult => ({
  step: 6,
  id,
  status,
  summary,
  ...(fix ? { fix } : {}),
});

/** What RFC 9207 section 2.4 and MCP 2026-07-28 make clients do with the callback's `iss`. */
export function issOutcome(iss: string | null, metadata: Json): { ok: boolean; summary: string } {
  const issuer = String(metadata.issuer);
  const advertised = metadata.authorization_response_iss_parameter_supported === true;
  if (iss === null) {
    return advertised
      ? { ok: false, summary: `the authorization response has no iss, though the metadata advertises authorization_response_iss_parameter_supported: RFC 9207 clients stop here` }
      : { ok: true, summary: 'the authorization response has no iss, and the metadata does not promise one' };
  }
  return iss === issuer
    ? { ok: true, summary: `the authorization response's iss is the metadata's issuer, ${issuer} (RFC 9207)` }
    : { ok: false, summary: `the authorization response's iss is ${iss}, not the metadata's issuer ${issuer}: every RFC 9207 client (MCP SDK v2, MCP Inspector, mcp-remote, the Python SDK) stops with an issuer mismatch` };
}

export async function checkSignIn(http: HttpClient, input: SignInInput): Promise<CheckResult[]> {
  const { metadata } = input;
  const registrationEndpoint = typeof metadata.registration_endpoint === 'string' ? metadata.registration_endpoint : undefined;
  const authorizationEndpoint = String(metadata.authorization_endpoint);
  const tokenEndpoint = String(metadata.token_endpoint);
  if (!registrationEndpoint) {
    return [check('fail', 'sign-in', 'no registration_endpoint: --sign-in registers a client with DCR first', 'Turn on dynamic client registration, or run --sign-in against the embedded development server (npm run dev).')];
  }

  // 1. Register, as a public client.
  const registration = await http.request(registrationEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({
      client_name: 'web-search-mcp doctor',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(input.scope ? { scope: input.scope } : {}),
    }),
  });
  const registered = registration.ok ? jsonObjectOf(registration) : undefined;
  const clientId = registered && 'value' in registered ? registered.value.client_id : undefined;
  if (!registration.ok || registration.status !== 201 || typeof clientId !== 'string') {
    const detail = registration.ok ? `HTTP ${registration.status} ${preview(registration.text)}` : registration.message;
    return [check('fail', 'sign-in', `dynamic client registration at ${registrationEndpoint} failed: ${detail}`, 'Check that the authorization server allows dynamic client registration of a public client with a loopback redirect URI.')];
  }

  // 2. The authorization request, followed the way a browser follows it.
  const verifier = base64url(randomBytes(32));
  const state = base64url(randomBytes(16));
  const authorization = new URL(authorizationEndpoint);
  authorization.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: base64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    state,
    resource: input.resource,
    ...(input.scope ? { scope: input.scope } : {}),
  }).toString();
  const cookies = new Map<string, string>();
  let url = authorization;
  let callback: URL | undefined;
  for (let hop = 0; hop < MAX_HOPS && !callback; hop += 1) {
    const answer = await http.request(url.href, {
      redirect: 'manual',
      headers: cookies.size ? { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') } : {},
    });
    if (!answer.ok) return [check('fail', 'sign-in', `the authorization endpoint: ${answer.message}`, 'Check that the authorization server is running and reachable.')];
    for (const setCookie of answer.headers.getSetCookie()) {
      const [pair = ''] = setCookie.split(';');
      const at = pair.indexOf('=');
      if (at > 0) cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    const location = answer.headers.get('location');
    if (!isRedirect(answer.status) || !location) {
      const page = (answer.headers.get('content-type') ?? '').includes('html');
      return [
        check(
          'fail',
          'sign-in',
          page
            ? `the authorization endpoint shows a page (HTTP ${answer.status}): it wants a person to sign in`
            : `the authorization endpoint answered HTTP ${answer.status} without a redirect: ${preview(answer.text)}`,
          page
            ? '--sign-in only works against an authorization server that consents by itself, such as the one npm run dev embeds. Against Scalekit, sign in with a real client (see README, "Connecting clients").'
            : 'Read the answer above: the authorization request was refused before any redirect.',
        ),
      ];
    }
    const next = new URL(location, url);
    if (next.href.startsWith(REDIRECT_URI)) callback = next;
    else if (next.origin === authorization.origin) url = next;
    else {
      return [check('fail', 'sign-in', `the authorization server sent the browser to ${next.origin}${next.pathname}: it wants a person to sign in`, '--sign-in only works against an authorization server that consents by itself, such as the one npm run dev embeds.')];
    }
  }
  if (!callback) return [check('fail', 'sign-in', `no redirect back to the client after ${MAX_HOPS} hops`, 'The authorization server loops; look at its log.')];

  const results: CheckResult[] = [];
  const iss = issOutcome(callback.searchParams.get('iss'), metadata);
  results.push(iss.ok ? check('pass', 'sign-in.iss', iss.summary) : check('fail', 'sign-in.iss', iss.summary, 'The authorization server must put its advertised issuer in iss on every authorization response (RFC 9207 section 2), and that issuer must be the authorization_servers entry of the protected resource metadata (RFC 8414 section 3.3). With Scalekit, tell its support; with the embedded server, this is a bug.'));
  const error = callback.searchParams.get('error');
  if (error) {
    results.push(check('fail', 'sign-in', `the authorization was refused: ${error} ${preview(callback.searchParams.get('error_description') ?? '')}`, 'Read the error: a scope or resource the authorization server does not know, most likely.'));
    return results;
  }
  if (callback.searchParams.get('state') !== state) results.push(check('fail', 'sign-in.state', 'the callback does not carry the state sent', 'The authorization server must return state unchanged.'));
  if (!iss.ok) return results; // a client would not redeem the code

  // 3. The token, then the tools.
  const tokenAnswer = await http.request(tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      client_id: clientId,
      code_verifier: verifier,
      resource: input.resource,
    }).toString(),
  });
  const tokenJson = tokenAnswer.ok ? jsonObjectOf(tokenAnswer) : undefined;
  const accessToken = tokenJson && 'value' in tokenJson ? tokenJson.value.access_token : undefined;
  if (!tokenAnswer.ok || tokenAnswer.status !== 200 || typeof accessToken !== 'string') {
    const detail = tokenAnswer.ok ? `HTTP ${tokenAnswer.status} ${preview(tokenAnswer.text)}` : tokenAnswer.message;
    results.push(check('fail', 'sign-in.token', `the code exchange failed: ${detail}`, 'Read the error: PKCE, the redirect URI and the resource must match the authorization request.'));
    return results;
  }
  results.push(check('pass', 'sign-in.token', `authorization code + PKCE exchanged for an access token at ${tokenEndpoint}`));
  const tools = await input.listTools(accessToken);
  results.push(
    tools.ok
      ? check('pass', 'sign-in.tools', `tools/list with the signed-in token: ${tools.names.join(', ')}`)
      : check('fail', 'sign-in.tools', `tools/list with the signed-in token: ${tools.summary}`, tools.fix),
  );
  return results;
}
