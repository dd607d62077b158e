/**
 * The doctor: the road an MCP client travels to this server, walked one step at
 * a time, each step reporting what it saw and, when a client would fail there,
 * what to change. One file per step, under steps/:
 *
 * 1. challenge.ts: POST the MCP endpoint without a token; a 401 with a Bearer challenge.
 * 2. resource-metadata.ts: the protected resource metadata (RFC 9728) the challenge points at.
 * 3. authorization-server.ts: the authorization server's metadata (RFC 8414 / OIDC discovery),
 *    found the way the MCP SDK finds it.
 * 4. signing-keys.ts: its signing keys (JWKS).
 * 5. token-and-tools.ts: with client credentials, a token for this resource, its claims as the
 *    authorizer checks them, then tools/list, and 2026-07-28 discovery advertising the tasks extension.
 * 6. sign-in.ts: with --sign-in, against an authorization server that consents by itself, a whole
 *    authorization-code flow, checking the response's `iss` as RFC 9207 clients do, then tools/list.
 *
 * Each step takes what the earlier ones discovered; a step that cannot run says
 * which failure blocked it. Where the MCP SDK client has an opinion (which
 * resource it accepts, which discovery URLs it tries, how it reads the
 * challenge) a step calls the SDK's own function, so the doctor and the clients
 * cannot disagree.
 */
import { createHttpClient, DEFAULT_TIMEOUT_MS } from './http.js';
import { blocked, clientIdPrefix, countChecks, redact, type CheckResult, type DoctorReport } from './report.js';
import { splitScopes } from './scopes.js';
import { checkAuthorizationServer, type AuthorizationServerFindings } from './steps/authorization-server.js';
import { checkBrowserAccess, checkChallenge } from './steps/challenge.js';
import { checkResourceMetadata, type ResourceMetadataFindings } from './steps/resource-metadata.js';
import { checkSignIn } from './steps/sign-in.js';
import { checkSigningKeys, type SigningKeysFindings } from './steps/signing-keys.js';
import { checkTokenAndTools, listTools } from './steps/token-and-tools.js';
import { resolveTarget } from './target.js';

export interface DoctorOptions {
  /** The API's base URL (custom domain, execute-api URL with its stage, `http://localhost:10000`) or the MCP endpoint URL. */
  readonly url: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** The scope to request; default: the challenge's scope. */
  readonly scope?: string;
  /** Per request. Default 10 s. */
  readonly timeoutMs?: number;
  /** Also run a whole authorization-code flow (only against an AS that consents by itself, like the embedded one). */
  readonly signIn?: boolean;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const target = resolveTarget(options.url);
  const http = createHttpClient(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const hasCredentials = Boolean(options.clientId && options.clientSecret);
  const checks: CheckResult[] = [];
  const discovered: { -readonly [K in keyof DoctorReport['discovered']]: DoctorReport['discovered'][K] } = {};

  const step1 = await checkChallenge(http, target);
  checks.push(...step1.checks);
  const challenge = step1.challenge;
  if (challenge) {
    discovered.challenge = challenge.header;
    if (challenge.scope) discovered.requiredScopes = splitScopes(challenge.scope);
    checks.push(await checkBrowserAccess(http, target));
  }

  // Nothing on the same host will answer the metadata probes either; saying so three more times helps no one.
  const step2: ResourceMetadataFindings = step1.unreachable
    ? { checks: [blocked(2, 'resource-metadata', 'protected resource metadata', 'the server does not answer')] }
    : await checkResourceMetadata(http, target, challenge);
  checks.push(...step2.checks);
  if (step2.metadataUrl) discovered.resourceMetadataUrl = step2.metadataUrl;
  if (step2.resource) discovered.resource = step2.resource;
  if (step2.authorizationServer) discovered.authorizationServer = step2.authorizationServer;

  let step3: AuthorizationServerFindings | undefined;
  let step4: SigningKeysFindings | undefined;
  if (step2.authorizationServer) {
    step3 = await checkAuthorizationServer(http, target, step2.authorizationServer);
    checks.push(...step3.checks);
    if (step3.metadataUrl) discovered.authorizationServerMetadataUrl = step3.metadataUrl;
    if (typeof step3.metadata?.issuer === 'string') discovered.issuer = step3.metadata.issuer;
    if (typeof step3.metadata?.token_endpoint === 'string') discovered.tokenEndpoint = step3.metadata.token_endpoint;
    step4 = await checkSigningKeys(http, step3.metadata, step2.authorizationServer);
    checks.push(step4.check);
    if (step4.jwksUri) discovered.jwksUri = step4.jwksUri;
  } else {
    checks.push(blocked(3, 'authorization-server', 'authorization server metadata', 'no authorization server from step 2'));
    checks.push(blocked(4, 'signing-keys', 'signing keys (JWKS)', 'no authorization server from step 2'));
  }

  let notRun: string | undefined;
  const requestedScope = options.scope ?? challenge?.scope ?? (Array.isArray(step2.metadata?.scopes_supported) ? (step2.metadata.scopes_supported as string[]).join(' ') : undefined);
  if (hasCredentials) {
    const requiredScopes = challenge?.scope ? splitScopes(challenge.scope) : splitScopes(requestedScope);
    const step5 = await checkTokenAndTools(http, target, {
      clientId: options.clientId!,
      clientSecret: options.clientSecret!,
      requestedScope: requestedScope || undefined,
      requiredScopes,
      resource: step2.resource ?? target.mcpUrl,
      authorizationServer: step2.authorizationServer,
      authorizationServerMetadata: step3?.metadata,
      jwks: step4?.jwks,
      jwksUri: step4?.jwksUri,
    });
    checks.push(...step5.checks);
    if (step5.tools) discovered.tools = step5.tools;
  } else {
    notRun = options.clientId || options.clientSecret
      ? 'Step 5 (token and tools/list) not run: give both --client-id and --client-secret.'
      : 'Step 5 (token and tools/list) not run: pass --client-id and --client-secret of an M2M client to check a real token end to end.';
  }

  if (options.signIn) {
    if (step2.authorizationServer && step3?.metadata) {
      const requiredScopes = challenge?.scope ? splitScopes(challenge.scope) : splitScopes(requestedScope);
      checks.push(
        ...(await checkSignIn(http, {
          authorizationServer: step2.authorizationServer,
          metadata: step3.metadata,
          resource: step2.resource ?? target.mcpUrl,
          ...(requiredScopes.length > 0 ? { scope: requiredScopes.join(' ') } : {}),
          listTools: (accessToken) => listTools(target, accessToken, http.timeoutMs),
        })),
      );
    } else {
      checks.push(blocked(6, 'sign-in', 'authorization-code sign-in', 'no authorization server metadata from step 3'));
    }
  }

  const counts = countChecks(checks);
  const report: DoctorReport = {
    target,
    ...(hasCredentials ? { client: { clientIdPrefix: clientIdPrefix(options.clientId!), scope: requestedScope || undefined } } : {}),
    ok: counts.failed === 0 && counts.blocked === 0,
    counts,
    checks,
    discovered,
    ...(notRun ? { notRun } : {}),
  };
  // A client id short enough to occur in ordinary text is left alone; it is not a secret, only kept out of sight.
  const clientId = options.clientId && options.clientId.length >= 8 ? [options.clientId] : [];
  return redact(report, [options.clientSecret ?? '', ...clientId]);
}
