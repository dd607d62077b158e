/**
 * Step 5, with client credentials: a token for this resource, read the way the
 * authorizer reads it (signature against the JWKS, audience, issuer, scopes),
 * then tools/list through the MCP SDK client with it, and 2026-07-28 discovery
 * advertising the tasks extension (web_research's tasks). Step 6 (--sign-in)
 * lists the tools the same way.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { grantedScopes, shortHash } from '../../../lambda/authorizer/verify-access-token.js';
import { MODERN_PROTOCOL_VERSIONS } from '../../../lambda/mcp/protocol-answers.generated.js';
import { TASKS_EXTENSION } from '../../../lambda/mcp/tasks/task-methods.js';
import { authorizationServerFix, LOGS, README, REDEPLOY, SCALEKIT_DASHBOARD } from '../guidance.js';
import { jsonObjectOf, preview, type HttpClient, type Json } from '../http.js';
import { blocked, fail, pass, warn, type CheckResult } from '../report.js';
import { quoteScopes, splitScopes } from '../scopes.js';
import type { Target } from '../target.js';

/** Scalekit's per-resource authorization server `{env}/resources/{id}` → `{env}`; anything else unchanged. */
function environmentRoot(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/resources\/[^/]+$/, '');
}

/** The resource id in `{env}/resources/{id}`, if the URL has that shape. */
function resourceIdOf(url: string | undefined): string | undefined {
  return url ? /\/resources\/([^/]+)\/*$/.exec(url)?.[1] : undefined;
}

type TokenOutcome =
  | { readonly ok: true; readonly accessToken: string; readonly method: string; readonly expiresIn?: number; readonly scope?: string }
  | { readonly ok: false; readonly summary: string; readonly fix: string };

type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

async function requestClientCredentialsToken(
  http: HttpClient,
  request: { tokenEndpoint: string; clientId: string; clientSecret: string; scope?: string; resource: string; supportedMethods: unknown },
): Promise<TokenOutcome> {
  const supported = Array.isArray(request.supportedMethods) ? request.supportedMethods : undefined;
  const methods: ClientAuthMethod[] = supported && !supported.includes('client_secret_basic') && supported.includes('client_secret_post') ? ['client_secret_post'] : ['client_secret_basic', 'client_secret_post'];
  const form = { grant_type: 'client_credentials', resource: request.resource, ...(request.scope ? { scope: request.scope } : {}) };
  let refusal: { status: number; error?: string; description?: string } | undefined;

  for (const method of methods) {
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
    const body = new URLSearchParams(form);
    if (method === 'client_secret_basic') {
      // RFC 6749 section 2.3.1: both parts form-urlencoded before base64.
      const credentials = `${encodeURIComponent(request.clientId)}:${encodeURIComponent(request.clientSecret)}`;
      headers.Authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    } else {
      body.set('client_id', request.clientId);
      body.set('client_secret', request.clientSecret);
    }
    const answer = await http.request(request.tokenEndpoint, { method: 'POST', headers, body: body.toString() });
    if (!answer.ok) {
      return { ok: false, summary: `token request to ${request.tokenEndpoint}: ${answer.message}`, fix: authorizationServerFix(request.tokenEndpoint, answer) };
    }
    const parsed = jsonObjectOf(answer);
    const json = 'value' in parsed ? parsed.value : {};
    if (answer.status === 200 && typeof json.access_token === 'string') {
      return {
        ok: true,
        accessToken: json.access_token,
        method,
        ...(typeof json.expires_in === 'number' ? { expiresIn: json.expires_in } : {}),
        ...(typeof json.scope === 'string' ? { scope: json.scope } : {}),
      };
    }
    refusal = {
      status: answer.status,
      ...(typeof json.error === 'string' ? { error: json.error } : {}),
      ...(typeof json.error_description === 'string' ? { description: preview(json.error_description, 160) } : {}),
    };
    // Only a refused client authentication is worth retrying with the other method.
    if (!(answer.status === 401 || refusal.error === 'invalid_client')) break;
  }

  const error = refusal?.error ?? `HTTP ${refusal?.status}`;
  const summary = `the token endpoint refused client_credentials: ${error}${refusal?.description ? ` (${refusal.description})` : ''}`;
  switch (refusal?.error) {
    case 'invalid_client':
      return { ok: false, summary: `${summary}, with client_secret_basic and client_secret_post`, fix: `Check --client-id and --client-secret against ${SCALEKIT_DASHBOARD.m2mClient}.` };
    case 'invalid_scope':
      return {
        ok: false,
        summary,
        fix: `The authorization server will not grant "${request.scope ?? ''}" to this client: create the scope under ${SCALEKIT_DASHBOARD.scopes} and allow it for the client, or pass --scope with one it grants.`,
      };
    case 'invalid_target':
    case 'invalid_resource':
      return {
        ok: false,
        summary,
        fix: `It issues no tokens for resource ${request.resource}: that must be ${SCALEKIT_DASHBOARD.serverUrl}, and RESOURCE_IDENTIFIER must be the same URL (${README.configuration}).`,
      };
    case 'unauthorized_client':
    case 'unsupported_grant_type':
      return { ok: false, summary, fix: 'This client may not use the client_credentials grant: use an M2M client created in Scalekit for machine access.' };
    default:
      return { ok: false, summary, fix: `Read the authorization server's answer above; check the client and its scopes in Scalekit (${README.scalekit}).` };
  }
}

function audiencesOf(payload: JWTPayload): string[] {
  return [payload.aud].flat().filter((value): value is string => typeof value === 'string');
}

export interface TokenCheckInput {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly requestedScope: string | undefined;
  /** What the server demands (the challenge's scope); falls back to the requested scope. */
  readonly requiredScopes: readonly string[];
  readonly resource: string;
  readonly authorizationServer: string | undefined;
  readonly authorizationServerMetadata: Json | undefined;
  readonly jwks: JSONWebKeySet | undefined;
  readonly jwksUri: string | undefined;
}

export async function checkTokenAndTools(http: HttpClient, target: Target, input: TokenCheckInput): Promise<{ checks: CheckResult[]; tools?: string[] }> {
  const checks: CheckResult[] = [];
  const metadata = input.authorizationServerMetadata;
  const tokenEndpoint = typeof metadata?.token_endpoint === 'string' ? metadata.token_endpoint : undefined;
  if (!tokenEndpoint) {
    checks.push(blocked(5, 'token', 'client_credentials token', 'no token endpoint: the authorization server metadata is missing'));
    checks.push(blocked(5, 'tools', 'tools/list', 'no access token'));
    return { checks };
  }

  const token = await requestClientCredentialsToken(http, {
    tokenEndpoint,
    clientId: input.clientId,
    clientSecret: input.clientSecret,
    resource: input.resource,
    supportedMethods: metadata?.token_endpoint_auth_methods_supported,
    ...(input.requestedScope ? { scope: input.requestedScope } : {}),
  });
  if (!token.ok) {
    checks.push(fail(5, 'token', token.summary, token.fix));
    checks.push(blocked(5, 'tools', 'tools/list', 'no access token'));
    return { checks };
  }
  const tokenHash = shortHash(token.accessToken);
  checks.push(
    pass(
      5,
      'token',
      `client_credentials token issued for ${input.resource} (${token.method}; token sha256 ${tokenHash}${token.expiresIn ? `, expires in ${token.expiresIn} s` : ''})`,
      { tokenSha256: tokenHash, clientAuthentication: token.method },
    ),
  );

  let payload: JWTPayload | undefined;
  let kid: string | undefined;
  try {
    payload = decodeJwt(token.accessToken);
    kid = decodeProtectedHeader(token.accessToken).kid;
  } catch {
    checks.push(
      fail(5, 'token.format', 'the access token is not a JWT', `The authorizer verifies JWTs locally against the JWKS and refuses anything else. Scalekit issues JWTs for resources registered as MCP servers: check the resource (${SCALEKIT_DASHBOARD.serverUrl}).`),
    );
  }

  if (payload) {
    if (!input.jwks) {
      checks.push(blocked(5, 'token.signature', 'token signature', 'no usable JWKS from step 4'));
    } else {
      try {
        // Signature, algorithm and time claims only: audience, issuer and scope get their own lines below.
        await jwtVerify(token.accessToken, createLocalJWKSet(input.jwks), { algorithms: ['RS256'], clockTolerance: 10 });
        checks.push(pass(5, 'token.signature', `signature verifies against the JWKS (RS256, kid ${kid ?? '?'})`));
      } catch (error) {
        checks.push(tokenSignatureFailure(error, kid, input.jwksUri));
      }
    }

    const audiences = audiencesOf(payload);
    const resourceId = resourceIdOf(input.authorizationServer) ?? resourceIdOf(typeof metadata?.issuer === 'string' ? metadata.issuer : undefined);
    const audienceFix = `The authorizer accepts aud = RESOURCE_IDENTIFIER (${input.resource}) or SCALEKIT_RESOURCE_ID${resourceId ? ` (${resourceId})` : ''}. Make ${SCALEKIT_DASHBOARD.serverUrl} equal RESOURCE_IDENTIFIER, and SCALEKIT_RESOURCE_ID the id Scalekit shows for this server (${README.configuration}).`;
    if (audiences.includes(input.resource)) {
      checks.push(pass(5, 'token.audience', `aud [${audiences.join(', ')}] includes the resource`));
    } else if (resourceId ? audiences.includes(resourceId) : audiences.some((audience) => audience.startsWith('res_'))) {
      checks.push(
        warn(5, 'token.audience', `aud [${audiences.join(', ')}] names the resource id, not ${input.resource}`, `The server accepts the resource id, so this works; registering ${input.resource} as ${SCALEKIT_DASHBOARD.serverUrl} makes tokens name it too.`),
      );
    } else {
      checks.push(fail(5, 'token.audience', `aud [${audiences.join(', ')}] names neither ${input.resource} nor this server's resource id: the server will refuse the token`, audienceFix));
    }

    const issuer = typeof payload.iss === 'string' ? payload.iss : undefined;
    const metadataIssuer = typeof metadata?.issuer === 'string' ? metadata.issuer : undefined;
    const accepted = new Set([metadataIssuer, input.authorizationServer].filter((value): value is string => Boolean(value)).flatMap((value) => [value.replace(/\/+$/, ''), environmentRoot(value)]));
    if (issuer && accepted.has(issuer.replace(/\/+$/, ''))) {
      checks.push(pass(5, 'token.issuer', `iss ${issuer} is the authorization server${issuer === environmentRoot(metadataIssuer ?? issuer) && issuer !== metadataIssuer ? "'s environment" : ''}`));
    } else {
      checks.push(
        fail(
          5,
          'token.issuer',
          `iss ${issuer ?? '(missing)'} is not the authorization server (${[...accepted].join(' or ')}): the server will refuse the token`,
          `The authorizer accepts iss = SCALEKIT_ENVIRONMENT_URL or SCALEKIT_ENVIRONMENT_URL/resources/SCALEKIT_RESOURCE_ID: set SCALEKIT_ENVIRONMENT_URL to the environment that issued this token (${SCALEKIT_DASHBOARD.environmentUrl}) and ${REDEPLOY}.`,
        ),
      );
    }

    const granted = grantedScopes(payload);
    const missing = input.requiredScopes.filter((scope) => !granted.includes(scope));
    if (missing.length === 0) {
      checks.push(pass(5, 'token.scope', `scopes [${granted.join(' ')}] include the required ${quoteScopes(input.requiredScopes)}`));
    } else {
      const askedLess = input.requestedScope !== undefined && missing.some((scope) => !splitScopes(input.requestedScope).includes(scope));
      checks.push(
        fail(
          5,
          'token.scope',
          `${granted.length > 0 ? `scopes [${granted.join(' ')}] lack` : 'the token grants no scope, not even'} ${quoteScopes(missing)}, which the server requires (the challenge's scope)`,
          `${askedLess ? `--scope asked only for "${input.requestedScope}": ask for "${input.requiredScopes.join(' ')}". ` : ''}Allow ${quoteScopes(missing)} for this client in Scalekit (${SCALEKIT_DASHBOARD.scopes}); or, if the server demands too much, change REQUIRED_SCOPES and ${REDEPLOY} (${README.configuration}).`,
        ),
      );
    }
  }

  const tools = await listTools(target, token.accessToken, http.timeoutMs);
  if (tools.ok) {
    checks.push(pass(5, 'tools', `tools/list through the MCP SDK client: ${tools.names.join(', ') || '(no tools)'}`, { tools: tools.names }));
    checks.push(await checkTasksDiscovery(http, target, token.accessToken));
    return { checks, tools: tools.names };
  }
  checks.push(fail(5, 'tools', `tools/list through the MCP SDK client failed: ${tools.summary}`, tools.fix));
  return { checks };
}

/**
 * 2026-07-28 discovery advertising the tasks extension: without it, no client
 * holds web_research as a task, and every research waits within a call.
 */
export async function checkTasksDiscovery(http: HttpClient, target: Target, accessToken: string): Promise<CheckResult> {
  const version = MODERN_PROTOCOL_VERSIONS[0]!;
  const what = `server/discover (${version})`;
  const outcome = await http.request(target.mcpUrl, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${accessToken}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': version,
      'Mcp-Method': 'server/discover',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'server/discover',
      params: {
        _meta: {
          'io.modelcontextprotocol/protocolVersion': version,
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'web-search-mcp-doctor', version: '1.0.0' },
        },
      },
    }),
  });
  const fix = `This server's code advertises ${TASKS_EXTENSION} to ${version} clients: ${REDEPLOY} from the current code, and check that nothing between clients and the function (a proxy, a gateway) rewrites MCP answers.`;
  if (!outcome.ok) return fail(5, 'tasks', `${what} failed: ${outcome.message}`, fix);
  const parsed = jsonObjectOf(outcome);
  if ('problem' in parsed) return fail(5, 'tasks', `${what} answered HTTP ${outcome.status}, and ${parsed.problem}`, fix);
  const { result, error } = parsed.value as { result?: { capabilities?: { extensions?: Record<string, unknown> } }; error?: { code?: unknown; message?: unknown } };
  if (!result) return fail(5, 'tasks', `${what} answered an error (${String(error?.code)}: ${preview(String(error?.message ?? ''))})`, fix);
  const advertised = result.capabilities?.extensions?.[TASKS_EXTENSION];
  if (advertised && typeof advertised === 'object' && !Array.isArray(advertised)) {
    return pass(5, 'tasks', `${what} advertises ${TASKS_EXTENSION}: web_research answers the clients that declare it with a task`);
  }
  return fail(5, 'tasks', `${what} does not advertise ${TASKS_EXTENSION}: no client can hold web_research as a task, and every research must finish within a call`, fix);
}

function tokenSignatureFailure(error: unknown, kid: string | undefined, jwksUri: string | undefined): CheckResult {
  const keysFix = `The authorizer trusts only the keys at {SCALEKIT_ENVIRONMENT_URL}/keys: point SCALEKIT_ENVIRONMENT_URL at the environment that issues the tokens (${README.configuration}).`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return fail(5, 'token.signature', `the token's kid ${kid ?? '(none)'} is not in the JWKS at ${jwksUri}: the server will refuse it`, keysFix);
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return fail(5, 'token.signature', 'the token is not signed with RS256, the only algorithm the server accepts', `Scalekit signs with RS256; this token comes from elsewhere. ${keysFix}`);
  }
  if (error instanceof joseErrors.JWTExpired) {
    return fail(5, 'token.signature', 'the token was already expired when issued', "Check this machine's clock and the access token lifetime under Scalekit dashboard → MCP servers → this server.");
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return fail(5, 'token.signature', `the token's ${error.claim} claim is invalid (${error.reason})`, "Check this machine's clock against the authorization server's.");
  }
  return fail(5, 'token.signature', `the signature does not verify against the JWKS at ${jwksUri} (${(error as Error).message})`, keysFix);
}

type ToolsOutcome = { readonly ok: true; readonly names: string[] } | { readonly ok: false; readonly summary: string; readonly fix: string };

export async function listTools(target: Target, accessToken: string, timeoutMs: number): Promise<ToolsOutcome> {
  // The transport brings its own abort signal; the deadline is added to it, not put in its place.
  const deadlines: AbortSignal[] = [];
  const timedFetch: typeof fetch = (url, init) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    deadlines.push(deadline);
    return fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
  };
  const transport = new StreamableHTTPClientTransport(new URL(target.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
    fetch: timedFetch,
  });
  const client = new Client({ name: 'web-search-mcp-doctor', version: '1.0.0' });
  try {
    await client.connect(transport, { timeout: timeoutMs });
    const { tools } = await client.listTools(undefined, { timeout: timeoutMs });
    return { ok: true, names: tools.map((tool) => tool.name) };
  } catch (error) {
    return describeToolsFailure(error, timeoutMs, deadlines.some((deadline) => deadline.aborted));
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * `fetchTimedOut`: one of our own deadlines passed, whatever error the transport
 * reported it with. The SDK's own request timeout and the gateway's 504 are
 * timeouts too.
 */
function describeToolsFailure(error: unknown, timeoutMs: number, fetchTimedOut: boolean): ToolsOutcome & { ok: false } {
  const message = preview(error instanceof Error ? error.message : String(error), 200);
  const timedOut =
    fetchTimedOut ||
    (error instanceof McpError && error.code === ErrorCode.RequestTimeout) ||
    (error instanceof StreamableHTTPError && error.code === 504);
  if (timedOut) {
    return { ok: false, summary: `no answer within ${timeoutMs / 1000} s (${message})`, fix: `The MCP function is slow or stuck: look at ${LOGS.functions}.` };
  }
  if (error instanceof StreamableHTTPError) {
    switch (error.code) {
      case 401:
        return {
          ok: false,
          summary: 'HTTP 401: the server refused the token',
          fix: `Its authorizer checks the signature (JWKS at SCALEKIT_ENVIRONMENT_URL/keys), iss, aud (RESOURCE_IDENTIFIER or SCALEKIT_RESOURCE_ID) and expiry; compare its settings with the token lines above. The reason is in ${LOGS.authorizer}.`,
        };
      case 403:
        return {
          ok: false,
          summary: `HTTP 403: ${/insufficient_scope/.test(message) ? 'insufficient_scope' : message}`,
          fix: `The token lacks a scope the server requires (REQUIRED_SCOPES, named in the challenge): grant it to the client in Scalekit (${SCALEKIT_DASHBOARD.scopes}) and request it with --scope.`,
        };
      case 503:
        return {
          ok: false,
          summary: 'HTTP 503: the authorizer could not fetch the signing keys',
          fix: `The authorizer function must reach {SCALEKIT_ENVIRONMENT_URL}/keys: check SCALEKIT_ENVIRONMENT_URL and the function's network access (${README.configuration}); details in ${LOGS.authorizer}.`,
        };
    }
    return { ok: false, summary: message, fix: `Look at ${LOGS.functions}.` };
  }
  return { ok: false, summary: message, fix: `Look at ${LOGS.functions}; see ${README.troubleshooting}.` };
}
