/**
 * The doctor's checks: the road an MCP client travels to this server, walked
 * one step at a time, each step reporting what it saw and, when a client would
 * fail there, what to change.
 *
 * 1. POST the MCP endpoint without a token: a 401 with a Bearer challenge.
 * 2. The protected resource metadata (RFC 9728) the challenge points at.
 * 3. The authorization server's metadata (RFC 8414 / OIDC discovery), found the way the MCP SDK finds it.
 * 4. Its signing keys (JWKS).
 * 5. With client credentials: a token for this resource, its claims as the authorizer checks them, then tools/list,
 *    and 2026-07-28 discovery advertising the tasks extension (web_research's tasks).
 * 6. With --sign-in, against an authorization server that consents by itself: a whole authorization-code
 *    flow, checking the response's `iss` as RFC 9207 clients do, then tools/list (sign-in.ts).
 *
 * Where the MCP SDK client has an opinion (which resource it accepts, which
 * discovery URLs it tries, how it reads the challenge) the check calls the SDK's
 * own function, so the doctor and the clients cannot disagree.
 */
import { buildDiscoveryUrls } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { checkResourceAllowed } from '@modelcontextprotocol/sdk/shared/auth-utils.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { AS_METADATA_PATH, MCP_PATH, PRM_PATH, REGISTER_PATH } from '../../lib/routes.js';
import { MODERN_PROTOCOL_VERSIONS } from '../../lambda/mcp/protocol-answers.generated.js';
import { grantedScopes, shortHash } from '../../lambda/authorizer/verify-access-token.js';
import { registrationExposure } from './registration-exposure.js';
import { DEPLOYED_STAGE, LOGS, MCP_INSPECTOR_ORIGIN, README, REDEPLOY, SCALEKIT_DASHBOARD } from './guidance.js';
import { createHttpClient, DEFAULT_TIMEOUT_MS, isRedirect, jsonObjectOf, preview, type HttpClient, type HttpOutcome, type NetworkProblem } from './http.js';
import { clientIdPrefix, countChecks, redact, type CheckResult, type DoctorReport, type StepNumber } from './report.js';
import { checkSignIn } from './sign-in.js';
import { parseWwwAuthenticate, sdkReadsChallenge } from './www-authenticate.js';

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

export class DoctorUsageError extends Error {}

type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// results

const pass = (step: StepNumber, id: string, summary: string, details?: Json): CheckResult => ({ step, id, status: 'pass', summary, ...(details ? { details } : {}) });
const warn = (step: StepNumber, id: string, summary: string, fix: string, details?: Json): CheckResult => ({ step, id, status: 'warn', summary, fix, ...(details ? { details } : {}) });
const fail = (step: StepNumber, id: string, summary: string, fix: string, details?: Json): CheckResult => ({ step, id, status: 'fail', summary, fix, ...(details ? { details } : {}) });
const blocked = (step: StepNumber, id: string, what: string, because: string): CheckResult => ({
  step,
  id,
  status: 'blocked',
  summary: `${what}: not checked (${because})`,
  fix: 'fix the failure above first, then run the doctor again',
});

// ---------------------------------------------------------------------------------------------
// URLs

export interface Target {
  readonly input: string;
  readonly mcpUrl: string;
  readonly baseUrl: string;
}

/** The MCP endpoint for a base URL or an MCP URL, trailing slashes, query and fragment aside. */
export function resolveTarget(input: string): Target {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new DoctorUsageError(`"${input}" is not a URL: give the server's base URL or its MCP endpoint, e.g. http://localhost:10000`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DoctorUsageError(`"${input}" is not an http(s) URL`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  const mcpPath = path.endsWith(MCP_PATH) ? path : `${path}${MCP_PATH}`;
  return { input, mcpUrl: `${url.origin}${mcpPath}`, baseUrl: `${url.origin}${mcpPath.slice(0, -MCP_PATH.length)}` };
}

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/i;

function isExecuteApi(url: string): boolean {
  return EXECUTE_API_HOST.test(new URL(url).hostname);
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Scalekit's per-resource authorization server `{env}/resources/{id}` → `{env}`; anything else unchanged. */
export function environmentRoot(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/resources\/[^/]+$/, '');
}

/** The resource id in `{env}/resources/{id}`, if the URL has that shape. */
function resourceIdOf(url: string | undefined): string | undefined {
  return url ? /\/resources\/([^/]+)\/*$/.exec(url)?.[1] : undefined;
}

function splitScopes(scope: string | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean);
}

const quoteList = (items: readonly string[]) => items.map((item) => `"${item}"`).join(', ');

/** What to do when a host does not answer; `this server` gets deployment advice, the authorization server only network advice (its URL comes from settings, named by the caller). */
function fixForUnreachable(problem: NetworkProblem, host: 'this server' | 'the authorization server'): string {
  const ours = host === 'this server';
  switch (problem.kind) {
    case 'refused':
      return ours
        ? 'Nothing listens there. Locally, start `npm run dev` (it prints the URLs to use); deployed, use the McpUrl output of `npx cdk deploy`.'
        : 'Nothing listens there.';
    case 'dns':
      return ours
        ? `Check the host name. Deployed, use the McpUrl output of \`npx cdk deploy\` (the execute-api URL with its /${DEPLOYED_STAGE} stage), or your custom domain once its DNS record points at API Gateway (${README.customDomain}).`
        : 'Its host name does not resolve: check for a typo.';
    case 'tls':
      return ours
        ? `The certificate does not validate for this host. On a custom domain the ACM certificate must cover the host name and be attached to the API Gateway custom domain (${README.customDomain}); the local stack speaks plain http://, not https://.`
        : 'Its certificate does not validate from this machine (a proxy intercepting TLS does this).';
    case 'timeout':
      return `Check the network path from here (firewall, proxy, VPN).${ours ? ' API Gateway answers within seconds even when a function starts cold.' : ''}`;
    case 'reset':
      return ours ? 'The connection was dropped: if the URL says http://, try https:// (the local stack is plain http://).' : 'The connection was dropped.';
    default:
      return 'Check the URL.';
  }
}

// ---------------------------------------------------------------------------------------------
// step 1: the challenge

export interface Challenge {
  /** The header as received (from `x-amzn-Remapped-WWW-Authenticate` when that is all there was). */
  readonly header: string;
  readonly resourceMetadataUrl?: string;
  readonly scope?: string;
}

const INITIALIZE_REQUEST = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'web-search-mcp-doctor', version: '1.0.0' } },
};

const MCP_POST_HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION,
};

function noAuthorizerFix(target: Target): string {
  return `POST ${MCP_PATH} must go through the Lambda REQUEST authorizer (lib/routes.ts marks it authorized): ${REDEPLOY}, then in the API Gateway console check ${new URL(target.mcpUrl).pathname} → POST → Method request → Authorization names the authorizer. Until then anyone can call the tools on your Tavily key.`;
}

function wrongPathFix(target: Target): string {
  const path = new URL(target.mcpUrl).pathname;
  const onExecuteApi = isExecuteApi(target.mcpUrl);
  const stageMissing = onExecuteApi && path === MCP_PATH;
  return [
    `The MCP endpoint is {base}${MCP_PATH}, where {base} is the API's base URL.`,
    stageMissing
      ? `On an execute-api URL the base includes the stage: https://${new URL(target.mcpUrl).host}/${DEPLOYED_STAGE}${MCP_PATH}.`
      : onExecuteApi
        ? `On an execute-api URL the base is the URL with its stage (/${DEPLOYED_STAGE}), nothing more.`
        : '',
    'Copy the McpUrl output of `npx cdk deploy` (or the URL `npm run dev` prints).',
  ]
    .filter(Boolean)
    .join(' ');
}

function describeErrorBody(text: string): string {
  const parsed = (() => {
    try {
      return JSON.parse(text) as Json;
    } catch {
      return undefined;
    }
  })();
  if (parsed && typeof parsed.message === 'string') return parsed.message;
  if (parsed && typeof parsed.error === 'string') {
    return typeof parsed.error_description === 'string' ? `${parsed.error}: ${preview(parsed.error_description, 160)}` : parsed.error;
  }
  return preview(text);
}

function isThisApisNotFound(text: string): boolean {
  try {
    const body = JSON.parse(text) as Json;
    return body.error === 'not_found';
  } catch {
    return false;
  }
}

export async function checkChallenge(http: HttpClient, target: Target): Promise<{ checks: CheckResult[]; challenge?: Challenge; unreachable?: boolean }> {
  const checks: CheckResult[] = [];
  const what = `POST ${target.mcpUrl} without a token`;
  const mcp = new URL(target.mcpUrl);

  if (mcp.protocol === 'http:' && !isLoopbackHost(mcp.hostname)) {
    checks.push(
      fail(1, 'challenge.https', `${target.mcpUrl} is plain http:// on a non-loopback host`, `OAuth 2.1 and the MCP authorization spec require HTTPS except on loopback: use the https:// URL (API Gateway serves only HTTPS).`),
    );
  }

  const answer = await http.request(target.mcpUrl, { method: 'POST', headers: MCP_POST_HEADERS, body: JSON.stringify(INITIALIZE_REQUEST) });
  if (!answer.ok) {
    checks.push(fail(1, 'challenge', `${what}: ${answer.message}`, fixForUnreachable(answer, 'this server'), { problem: answer.kind }));
    return { checks, unreachable: true };
  }
  const details = { status: answer.status };
  const body = answer.text;

  if (isRedirect(answer.status)) {
    const location = answer.headers.get('location') ?? '(no Location)';
    checks.push(
      fail(1, 'challenge', `${what}: HTTP ${answer.status} redirect to ${location}`, `Give clients the final URL (${location}): MCP clients follow no redirect to another origin, and a redirected POST may arrive as a GET.`, details),
    );
    return { checks };
  }
  if (answer.status >= 200 && answer.status < 300) {
    checks.push(fail(1, 'challenge', `${what}: HTTP ${answer.status}: the endpoint answered without a token, so no authorizer guards it`, noAuthorizerFix(target), details));
    return { checks };
  }
  if ([400, 406, 415].includes(answer.status) && body.includes('"jsonrpc"')) {
    checks.push(
      fail(1, 'challenge', `${what}: HTTP ${answer.status} from the MCP function itself (${describeErrorBody(body)}): the request reached it without a token, so no authorizer guards it`, noAuthorizerFix(target), details),
    );
    return { checks };
  }
  if (answer.status === 403 && /missing authentication token/i.test(body)) {
    checks.push(
      fail(1, 'challenge', `${what}: HTTP 403 "Missing Authentication Token": API Gateway has no route here (wrong path or stage), and it is not answering with this stack's gateway responses`, wrongPathFix(target), details),
    );
    return { checks };
  }
  if (answer.status === 403) {
    const fix =
      isExecuteApi(target.mcpUrl) && /"forbidden"/i.test(body)
        ? `API Gateway answers a bare "Forbidden" for a stage that does not exist. ${wrongPathFix(target)}`
        : `Something in front of the API refuses the request (a WAF, a resource policy, a proxy). A request without a token must get 401 from the authorizer. ${wrongPathFix(target)}`;
    checks.push(fail(1, 'challenge', `${what}: HTTP 403 (${describeErrorBody(body)}) instead of 401`, fix, details));
    return { checks };
  }
  if (answer.status === 404 || answer.status === 405) {
    const fromThisApi = isThisApisNotFound(body);
    const summary = fromThisApi
      ? `${what}: HTTP 404 from this API: no route at ${mcp.pathname}`
      : `${what}: HTTP ${answer.status} (${describeErrorBody(body)}): no MCP endpoint here, or not this server`;
    checks.push(fail(1, 'challenge', summary, wrongPathFix(target), details));
    return { checks };
  }
  if (answer.status === 429) {
    checks.push(
      fail(1, 'challenge', `${what}: HTTP 429: throttled`, `Retry in a moment. If it persists, raise THROTTLE_RATE_LIMIT / THROTTLE_BURST_LIMIT (${README.configuration}) and ${REDEPLOY}.`, details),
    );
    return { checks };
  }
  if (answer.status >= 500) {
    checks.push(
      fail(1, 'challenge', `${what}: HTTP ${answer.status} (${describeErrorBody(body)})`, `Without a token API Gateway should answer 401 by itself; a ${answer.status} means the API or a function is failing. Look at ${LOGS.functions}.`, details),
    );
    return { checks };
  }
  if (answer.status !== 401) {
    checks.push(fail(1, 'challenge', `${what}: HTTP ${answer.status} (${describeErrorBody(body)}) instead of 401`, wrongPathFix(target), details));
    return { checks };
  }

  // A 401: read the challenge as a client would.
  const header = answer.headers.get('www-authenticate');
  const remapped = answer.headers.get('x-amzn-remapped-www-authenticate');
  const gatewayResponseFix = `The challenge comes from the UNAUTHORIZED gateway response (lib/gateway-responses.ts), never from a function: ${REDEPLOY}, then check API Gateway console → Gateway responses → Unauthorized carries WWW-Authenticate.`;
  if (!header) {
    if (remapped) {
      checks.push(
        fail(1, 'challenge', `${what}: 401, but its challenge arrived as x-amzn-Remapped-WWW-Authenticate, which no MCP client reads`, `API Gateway renames a WWW-Authenticate header that a Lambda integration returns. ${gatewayResponseFix}`, details),
      );
      const parsed = parseWwwAuthenticate(remapped)?.find((challenge) => challenge.scheme.toLowerCase() === 'bearer');
      // Carry on with what it says, so the later steps can still be checked.
      return { checks, challenge: { header: remapped, resourceMetadataUrl: parsed?.params.resource_metadata, scope: parsed?.params.scope } };
    }
    checks.push(fail(1, 'challenge', `${what}: 401 without a WWW-Authenticate challenge: clients cannot discover how to get a token`, gatewayResponseFix, details));
    return { checks };
  }

  const challenges = parseWwwAuthenticate(header);
  if (!challenges) {
    checks.push(fail(1, 'challenge', `${what}: 401 with a malformed challenge: WWW-Authenticate: ${preview(header, 160)}`, `It must read Bearer resource_metadata="<url>", scope="<scopes>". ${gatewayResponseFix}`, details));
    return { checks };
  }
  const bearer = challenges.find((challenge) => challenge.scheme.toLowerCase() === 'bearer');
  if (!bearer) {
    checks.push(
      fail(1, 'challenge', `${what}: 401, but no Bearer challenge (schemes: ${challenges.map((challenge) => challenge.scheme).join(', ')})`, `MCP clients look for a Bearer challenge. ${gatewayResponseFix}`, details),
    );
    return { checks };
  }
  const resourceMetadataUrl = bearer.params.resource_metadata;
  const scope = bearer.params.scope;
  const challenge: Challenge = { header, ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}), ...(scope ? { scope } : {}) };
  const expectedMetadataUrl = `${target.baseUrl}${PRM_PATH}${MCP_PATH}`;

  if (!resourceMetadataUrl) {
    checks.push(
      fail(1, 'challenge', `${what}: 401 with a Bearer challenge without resource_metadata`, `Clients then guess the metadata's well-known URL, which misses under an execute-api stage. The challenge should read Bearer resource_metadata="${expectedMetadataUrl}", scope="…". ${gatewayResponseFix}`, details),
    );
    return { checks, challenge };
  }
  if (!/^https?:\/\//i.test(resourceMetadataUrl) || !URL.canParse(resourceMetadataUrl)) {
    checks.push(
      fail(1, 'challenge', `${what}: 401, but resource_metadata "${resourceMetadataUrl}" is not an absolute http(s) URL`, `It should be ${expectedMetadataUrl}. ${gatewayResponseFix}`, details),
    );
    return { checks, challenge: { header, ...(scope ? { scope } : {}) } };
  }
  if (!sdkReadsChallenge(header)) {
    checks.push(
      warn(1, 'challenge', `${what} → 401 with a Bearer challenge, but not as the header's first challenge`, `The MCP SDK client reads only the first challenge and will fall back to guessing well-known URLs: put Bearer first (lib/gateway-responses.ts) and ${REDEPLOY}.`, details),
    );
  } else if (!scope) {
    checks.push(
      warn(1, 'challenge', `${what} → 401 with Bearer resource_metadata, but no scope`, `The spec says the challenge SHOULD name the scope; without it clients ask for every scope in scopes_supported. REQUIRED_SCOPES sets it (${README.configuration}).`, details),
    );
  } else {
    checks.push(pass(1, 'challenge', `${what} → 401 with Bearer resource_metadata and scope "${scope}"`, details));
  }
  return { checks, challenge };
}

/** Browser-based clients (MCP Inspector and the like) need CORS; others do not, so this never fails the run. */
export async function checkBrowserAccess(http: HttpClient, target: Target): Promise<CheckResult> {
  const origin = MCP_INSPECTOR_ORIGIN;
  const id = 'challenge.cors';
  const preflight = await http.request(target.mcpUrl, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type, mcp-protocol-version' },
  });
  if (!preflight.ok) {
    return warn(1, id, `browser clients: the CORS preflight failed: ${preflight.message}`, 'Only browser-based clients (MCP Inspector and the like) need it; CLI and desktop clients are unaffected.');
  }
  const allowed = preflight.headers.get('access-control-allow-origin');
  if (allowed !== origin && allowed !== '*') {
    return warn(
      1,
      id,
      `browser clients: a page at ${origin} (MCP Inspector) may not call this server (no CORS grant)`,
      `CLI and desktop clients are unaffected. To admit browser-based clients, add their origins to ALLOWED_ORIGINS (${README.configuration}) and ${REDEPLOY}.`,
    );
  }
  const unauthorized = await http.request(target.mcpUrl, { method: 'POST', headers: { ...MCP_POST_HEADERS, Origin: origin }, body: JSON.stringify(INITIALIZE_REQUEST) });
  const exposed = unauthorized.ok ? (unauthorized.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/) : [];
  if (!unauthorized.ok || !exposed.includes('www-authenticate')) {
    return warn(
      1,
      id,
      `browser clients: ${origin} passes the preflight, but the 401 does not expose WWW-Authenticate to it`,
      `A browser client then cannot read resource_metadata. The gateway responses must send Access-Control-Expose-Headers: WWW-Authenticate (gatewayResponseCors in lib/gateway-responses.ts); ${REDEPLOY}.`,
    );
  }
  return pass(1, id, `browser clients: ${origin} (MCP Inspector) passes the CORS preflight and can read the challenge`);
}

// ---------------------------------------------------------------------------------------------
// step 2: protected resource metadata

type Fetched<T> = { readonly ok: true; readonly url: string; readonly value: T } | { readonly ok: false; readonly url: string; readonly problem: string; readonly status?: number; readonly network?: NetworkProblem };

async function getJsonObject(http: HttpClient, url: string): Promise<Fetched<Json>> {
  const answer: HttpOutcome = await http.request(url, { headers: { Accept: 'application/json', 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION } });
  if (!answer.ok) return { ok: false, url, problem: answer.message, network: answer };
  if (isRedirect(answer.status)) {
    return { ok: false, url, status: answer.status, problem: `${url}: HTTP ${answer.status} redirect to ${answer.headers.get('location') ?? '(no Location)'}` };
  }
  if (answer.status !== 200) return { ok: false, url, status: answer.status, problem: `${url}: HTTP ${answer.status} (${describeErrorBody(answer.text)})` };
  const parsed = jsonObjectOf(answer);
  if ('problem' in parsed) return { ok: false, url, status: answer.status, problem: `${url}: ${parsed.problem}` };
  return { ok: true, url, value: parsed.value };
}

export interface ResourceMetadataFindings {
  readonly checks: CheckResult[];
  readonly metadata?: Json;
  readonly metadataUrl?: string;
  readonly resource?: string;
  readonly authorizationServer?: string;
}

export async function checkResourceMetadata(http: HttpClient, target: Target, challenge: Challenge | undefined): Promise<ResourceMetadataFindings> {
  const checks: CheckResult[] = [];
  const mcp = new URL(target.mcpUrl);
  // Where a client without resource_metadata looks (the MCP SDK: path-suffixed first, then the root).
  const pathSuffixed = `${mcp.origin}${PRM_PATH}${mcp.pathname}`;
  const root = `${mcp.origin}${PRM_PATH}`;
  const advertised = challenge?.resourceMetadataUrl;

  const [fromChallenge, fromPathSuffixed, fromRoot] = await Promise.all([
    advertised ? getJsonObject(http, advertised) : Promise.resolve(undefined),
    getJsonObject(http, pathSuffixed),
    getJsonObject(http, root),
  ]);

  let found: Fetched<Json> & { ok: true };
  if (fromChallenge?.ok) {
    found = fromChallenge;
    checks.push(pass(2, 'resource-metadata', `protected resource metadata at ${fromChallenge.url} (the challenge's resource_metadata)`));
  } else {
    const fallback = [fromPathSuffixed, fromRoot].find((probe) => probe.ok) as (Fetched<Json> & { ok: true }) | undefined;
    if (fromChallenge && !fromChallenge.ok) {
      const fix = fromChallenge.network
        ? `${fixForUnreachable(fromChallenge.network, 'this server')} The URL in the challenge is built from the API's base URL at deploy time: after changing domains, ${REDEPLOY}.`
        : fromChallenge.status && fromChallenge.status >= 500
          ? `The metadata function is failing: look at ${LOGS.functions}, and check SCALEKIT_ENVIRONMENT_URL, SCALEKIT_RESOURCE_ID and RESOURCE_IDENTIFIER (${README.configuration}).`
          : `GET ${PRM_PATH}${MCP_PATH} must reach the metadata function (lib/routes.ts); ${REDEPLOY}. The challenge must point at ${target.baseUrl}${PRM_PATH}${MCP_PATH}.`;
      checks.push(fail(2, 'resource-metadata', `the challenge's resource_metadata does not answer: ${fromChallenge.problem}`, fix));
    } else if (fallback) {
      checks.push(pass(2, 'resource-metadata', `protected resource metadata at ${fallback.url} (well-known location; the challenge named none)`));
    } else {
      checks.push(
        fail(
          2,
          'resource-metadata',
          `no protected resource metadata: nothing in the challenge, and the well-known URLs miss (${(fromPathSuffixed as { problem: string }).problem}; ${(fromRoot as { problem: string }).problem})`,
          `An MCP server serves RFC 9728 metadata and names it in its 401 challenge: this URL is probably not the server's. ${wrongPathFix(target)}`,
        ),
      );
    }
    if (!fallback) return { checks };
    found = fallback;
  }

  // The well-known locations are informational once the challenge names the metadata: the MCP SDK uses resource_metadata first.
  const missing = [fromPathSuffixed, fromRoot].filter((probe) => !probe.ok);
  if (missing.length === 0) {
    checks.push(pass(2, 'resource-metadata.well-known', `the RFC 9728 well-known URLs answer too (${PRM_PATH}${mcp.pathname} and ${PRM_PATH} at ${mcp.origin})`));
  } else {
    const stagePrefix = mcp.pathname.slice(0, -MCP_PATH.length);
    const fix = stagePrefix
      ? `Everything on this URL sits under ${stagePrefix}, so clients probing ${mcp.origin}${PRM_PATH}… miss; those reading resource_metadata from the 401 (the MCP SDK, Claude, Cursor, VS Code) are unaffected. To serve both, map a custom domain at the root (API Gateway → Custom domain names → API mapping with an empty path; ${README.customDomain}), set RESOURCE_IDENTIFIER to https://<domain>${MCP_PATH} and ${REDEPLOY}.`
      : `Both well-known routes are in lib/routes.ts: ${REDEPLOY}, and check that no proxy or CDN in front drops /.well-known/ paths.`;
    checks.push(
      warn(2, 'resource-metadata.well-known', `well-known URLs miss: ${missing.map((probe) => (probe as { problem: string }).problem).join('; ')}`, fix),
    );
  }

  const metadata = found.value;
  const findings: { -readonly [K in keyof ResourceMetadataFindings]: ResourceMetadataFindings[K] } = { checks, metadata, metadataUrl: found.url };

  // resource: what the SDK client checks before it asks for a token.
  const resource = metadata.resource;
  const resourceFix = `Set RESOURCE_IDENTIFIER to ${target.mcpUrl} (or leave it unset: it defaults to the deployed MCP URL) and the same URL as ${SCALEKIT_DASHBOARD.serverUrl}, then ${REDEPLOY} (${README.configuration}). Tokens carry it as their audience.`;
  if (typeof resource !== 'string' || !URL.canParse(resource)) {
    checks.push(fail(2, 'resource-metadata.resource', `"resource" is ${resource === undefined ? 'missing' : `not a URL (${JSON.stringify(resource)})`}`, resourceFix));
  } else {
    findings.resource = resource;
    const allowed = checkResourceAllowed({ requestedResource: target.mcpUrl, configuredResource: resource });
    const resourceUrl = new URL(resource);
    if (allowed) {
      checks.push(
        pass(2, 'resource-metadata.resource', resource === target.mcpUrl ? `resource "${resource}" is the MCP endpoint` : `resource "${resource}" covers the MCP endpoint (same origin, path prefix)`),
      );
    } else if (resourceUrl.origin !== mcp.origin && isLoopbackHost(resourceUrl.hostname) && isLoopbackHost(mcp.hostname) && resourceUrl.port === mcp.port) {
      checks.push(
        fail(
          2,
          'resource-metadata.resource',
          `resource "${resource}" is on ${resourceUrl.origin}, not ${mcp.origin}: the MCP SDK client refuses it`,
          `localhost, 127.0.0.1 and [::1] are different origins: connect with the URL the server names (${resource}), or set RESOURCE_IDENTIFIER to ${target.mcpUrl}.`,
        ),
      );
    } else {
      const otherOrigin = resourceUrl.origin !== mcp.origin;
      const why = otherOrigin ? `is on ${resourceUrl.origin}, not ${mcp.origin}` : `has a path that is not a prefix of ${mcp.pathname}`;
      // A server deployed for a custom domain, checked through its execute-api URL, looks like this too.
      const orConnectThere = otherOrigin ? ` Or, if ${resource} is the URL clients should use, give that URL to them and to the doctor.` : '';
      checks.push(
        fail(2, 'resource-metadata.resource', `resource "${resource}" ${why}: the MCP SDK client refuses it ("Protected resource … does not match expected …")`, `${resourceFix}${orConnectThere}`),
      );
    }
  }

  const servers = metadata.authorization_servers;
  const validServers = Array.isArray(servers) ? servers.filter((server): server is string => typeof server === 'string' && /^https?:\/\//i.test(server) && URL.canParse(server)) : [];
  if (validServers.length === 0) {
    checks.push(
      fail(
        2,
        'resource-metadata.authorization-servers',
        `authorization_servers is ${Array.isArray(servers) ? 'empty or holds no URL' : 'missing'}`,
        `The metadata function names {SCALEKIT_ENVIRONMENT_URL}/resources/{SCALEKIT_RESOURCE_ID}: set both (${SCALEKIT_DASHBOARD.environmentUrl}; the res_… id under ${SCALEKIT_DASHBOARD.mcpServer}) and ${REDEPLOY} (${README.configuration}).`,
      ),
    );
  } else {
    findings.authorizationServer = validServers[0]!;
    const more = validServers.length > 1 ? ` (and ${validServers.length - 1} more; clients use the first)` : '';
    checks.push(pass(2, 'resource-metadata.authorization-servers', `authorization_servers names ${validServers[0]}${more}`));
  }

  const supported = Array.isArray(metadata.scopes_supported) ? metadata.scopes_supported.filter((scope): scope is string => typeof scope === 'string') : [];
  const challengeScopes = splitScopes(challenge?.scope);
  const scopesFix = `REQUIRED_SCOPES (and TOOL_SCOPES) make both the challenge's scope and scopes_supported: ${REDEPLOY} so they agree, and create the same scopes under ${SCALEKIT_DASHBOARD.scopes} (${README.configuration}).`;
  if (challengeScopes.length > 0) {
    const absent = challengeScopes.filter((scope) => !supported.includes(scope));
    if (absent.length === 0) checks.push(pass(2, 'resource-metadata.scopes', `scopes_supported [${supported.join(' ')}] includes the challenge's scope "${challenge!.scope}"`));
    else checks.push(fail(2, 'resource-metadata.scopes', `scopes_supported [${supported.join(' ')}] lacks ${quoteList(absent)} from the challenge's scope`, scopesFix));
  } else if (supported.length > 0) {
    checks.push(pass(2, 'resource-metadata.scopes', `scopes_supported [${supported.join(' ')}]`));
  } else {
    checks.push(warn(2, 'resource-metadata.scopes', 'scopes_supported is empty or missing, and the challenge names no scope', `Clients will not know which scope to ask for. ${scopesFix}`));
  }

  const bearerMethods = metadata.bearer_methods_supported;
  if (Array.isArray(bearerMethods) && bearerMethods.includes('header')) {
    checks.push(pass(2, 'resource-metadata.bearer-methods', 'bearer_methods_supported includes "header"'));
  } else {
    checks.push(
      fail(
        2,
        'resource-metadata.bearer-methods',
        `bearer_methods_supported ${Array.isArray(bearerMethods) ? `is [${bearerMethods.join(', ')}]` : 'is missing'}: it must include "header"`,
        `MCP sends tokens only in the Authorization header; the metadata function serves ["header"] (lambda/metadata/metadata.ts): ${REDEPLOY}.`,
      ),
    );
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------
// step 3: authorization server metadata

export interface AuthorizationServerFindings {
  readonly checks: CheckResult[];
  readonly metadata?: Json;
  readonly metadataUrl?: string;
}

/**
 * The URLs tried, in order: the MCP SDK's own list (RFC 8414 path insertion,
 * then the two OIDC forms), then the path-appended RFC 8414 form Scalekit
 * documents, which the SDK does not try.
 */
export function authorizationServerMetadataUrls(authorizationServer: string): { url: string; triedBySdk: boolean }[] {
  const sdk = buildDiscoveryUrls(authorizationServer).map(({ url }) => ({ url: url.href, triedBySdk: true }));
  const appended = `${authorizationServer.replace(/\/+$/, '')}${AS_METADATA_PATH}`;
  return sdk.some(({ url }) => url === appended) ? sdk : [...sdk, { url: appended, triedBySdk: false }];
}

function authorizationServerFix(authorizationServer: string, network: NetworkProblem | undefined): string {
  const local = isLoopbackHost(new URL(authorizationServer).hostname);
  const configure = `authorization_servers comes from SCALEKIT_ENVIRONMENT_URL (${SCALEKIT_DASHBOARD.environmentUrl}) and SCALEKIT_RESOURCE_ID (the res_… id under ${SCALEKIT_DASHBOARD.mcpServer}): check both and ${REDEPLOY} (${README.configuration}).`;
  if (network?.kind === 'refused' && local) {
    return `The authorization server at ${new URL(authorizationServer).origin} is not running. Locally, \`npm run dev\` starts the embedded one with the stack: restart it. Otherwise, ${configure}`;
  }
  return `${network ? `${fixForUnreachable(network, 'the authorization server')} ` : ''}${configure}`;
}

export async function checkAuthorizationServer(http: HttpClient, target: Target, authorizationServer: string): Promise<AuthorizationServerFindings> {
  const checks: CheckResult[] = [];
  const candidates = authorizationServerMetadataUrls(authorizationServer);
  const misses: Array<Fetched<Json> & { ok: false }> = [];
  let found: { url: string; value: Json; triedBySdk: boolean; position: number } | undefined;
  let sdkStoppedAt: (Fetched<Json> & { ok: false }) | undefined;

  for (const [index, candidate] of candidates.entries()) {
    const outcome = await getJsonObject(http, candidate.url);
    if (outcome.ok) {
      found = { url: candidate.url, value: outcome.value, triedBySdk: candidate.triedBySdk, position: index + 1 };
      break;
    }
    misses.push(outcome);
    // The SDK gives up on a 5xx instead of trying the next URL.
    if (candidate.triedBySdk && outcome.status !== undefined && outcome.status >= 500 && !sdkStoppedAt) sdkStoppedAt = outcome;
  }

  if (!found) {
    const network = misses.find((miss) => miss.network)?.network;
    const summary = network && misses.every((miss) => miss.network)
      ? `authorization server metadata for ${authorizationServer}: ${network.message}`
      : `no authorization server metadata for ${authorizationServer} at any URL clients try (${misses.map((miss) => miss.problem).join('; ')})`;
    checks.push(fail(3, 'authorization-server', summary, authorizationServerFix(authorizationServer, network), { tried: candidates.map(({ url }) => url) }));
    return { checks };
  }

  if (sdkStoppedAt) {
    checks.push(
      fail(3, 'authorization-server', `authorization server metadata: the MCP SDK stops at ${sdkStoppedAt.problem} before reaching ${found.url}`, authorizationServerFix(authorizationServer, undefined)),
    );
  } else if (!found.triedBySdk) {
    checks.push(
      fail(
        3,
        'authorization-server',
        `authorization server metadata only at ${found.url}, which the MCP SDK does not try (it tries ${candidates.filter(({ triedBySdk }) => triedBySdk).map(({ url }) => url).join(', ')})`,
        authorizationServerFix(authorizationServer, undefined),
      ),
    );
  } else {
    checks.push(pass(3, 'authorization-server', `authorization server metadata at ${found.url} (the MCP SDK's ${ordinal(found.position)} try)`));
  }

  const metadata = found.value;
  const missingFields = ['issuer', 'authorization_endpoint', 'token_endpoint'].filter((field) => typeof metadata[field] !== 'string' || !URL.canParse(metadata[field] as string));
  const challengeMethods = metadata.code_challenge_methods_supported;
  const s256 = Array.isArray(challengeMethods) && challengeMethods.includes('S256');
  if (missingFields.length > 0 || !s256) {
    const problems = [
      ...(missingFields.length > 0 ? [`missing ${missingFields.join(', ')}`] : []),
      ...(!s256 ? [`code_challenge_methods_supported ${Array.isArray(challengeMethods) ? `is [${challengeMethods.join(', ')}]` : 'is missing'} (MCP clients refuse to proceed without S256)`] : []),
    ];
    checks.push(
      fail(3, 'authorization-server.fields', `the metadata is incomplete: ${problems.join('; ')}`, `A Scalekit environment serves all of these; ${authorizationServer} is probably not one. ${authorizationServerFix(authorizationServer, undefined)}`),
    );
  } else {
    checks.push(pass(3, 'authorization-server.fields', `issuer ${metadata.issuer}, authorization and token endpoints, PKCE S256`));
  }

  checks.push(...issuerChecks(metadata, authorizationServer));
  checks.push(registrationWays(metadata));

  // Issue 12: what the authorization server lets clients do directly, past this server's registration policy.
  checks.push(registrationExposure(metadata, SCALEKIT_DASHBOARD.registration));

  // This server's copy, for clients on the 2025-03-26 revision, which look at the MCP server's own origin.
  const proxiedUrl = `${target.baseUrl}${AS_METADATA_PATH}`;
  const proxied = await getJsonObject(http, proxiedUrl);
  const compatNote = 'Only clients on the 2025-03-26 revision of MCP read this copy.';
  if (!proxied.ok) {
    const fix =
      proxied.status === 502
        ? `The metadata function cannot fetch the authorization server's metadata: check SCALEKIT_ENVIRONMENT_URL and SCALEKIT_RESOURCE_ID as deployed (${README.configuration}). ${compatNote}`
        : `${compatNote} GET ${AS_METADATA_PATH} is in lib/routes.ts: ${REDEPLOY}.`;
    checks.push(warn(3, 'authorization-server.compat', `this server's copy of the metadata does not answer: ${proxied.problem}`, fix));
  } else if (proxied.value.issuer !== metadata.issuer) {
    checks.push(
      warn(3, 'authorization-server.compat', `this server's copy at ${proxiedUrl} has issuer ${String(proxied.value.issuer)}, not ${String(metadata.issuer)}`, `It is fetched from {SCALEKIT_ENVIRONMENT_URL}/resources/{SCALEKIT_RESOURCE_ID}: check both (${README.configuration}). ${compatNote}`),
    );
  } else {
    const registersHere = proxied.value.registration_endpoint === `${target.baseUrl}${REGISTER_PATH}`;
    checks.push(pass(3, 'authorization-server.compat', `this server's copy at ${proxiedUrl} matches${registersHere ? `, registering through ${REGISTER_PATH}` : ''} (2025-03-26 clients)`));
  }

  return { checks, metadata, metadataUrl: found.url };
}

/**
 * What strict clients (the MCP SDK v2, MCP Inspector, mcp-remote, the Python SDK)
 * check before anything else: RFC 8414 section 3.3, the metadata's issuer is the
 * identifier its URL was built from (the protected resource's
 * `authorization_servers` entry), and RFC 9207, the server promises `iss` on its
 * authorization responses (whose value --sign-in checks).
 */
export function issuerChecks(metadata: Json, authorizationServer: string): CheckResult[] {
  const issuer = metadata.issuer;
  const matches = issuer === authorizationServer || (authorizationServer.endsWith('/') && issuer === authorizationServer.slice(0, -1));
  const checks: CheckResult[] = [
    matches
      ? pass(3, 'authorization-server.issuer', `the metadata's issuer is the authorization server it was discovered from, ${authorizationServer} (RFC 8414 3.3)`)
      : fail(
          3,
          'authorization-server.issuer',
          `the metadata's issuer is ${String(issuer)}, but it was discovered from ${authorizationServer}: the MCP SDK v2, MCP Inspector and mcp-remote refuse it (RFC 8414 3.3)`,
          `The protected resource metadata's authorization_servers entry must be exactly the authorization server's issuer. It is {SCALEKIT_ENVIRONMENT_URL}/resources/{SCALEKIT_RESOURCE_ID}: check both (${README.configuration}).`,
        ),
  ];
  checks.push(
    metadata.authorization_response_iss_parameter_supported === true
      ? pass(3, 'authorization-server.iss-parameter', 'authorization responses carry iss (authorization_response_iss_parameter_supported, RFC 9207); --sign-in checks its value')
      : warn(
          3,
          'authorization-server.iss-parameter',
          'the metadata does not advertise authorization_response_iss_parameter_supported (RFC 9207)',
          'Clients then accept authorization responses without iss, and lose their protection against mix-up attacks; MCP 2026-07-28 expects authorization servers to send it.',
        ),
  );
  return checks;
}

/** Which ways of registering the authorization server offers, and which clients each serves. */
export function registrationWays(metadata: Json): CheckResult {
  const dcr = typeof metadata.registration_endpoint === 'string' && metadata.registration_endpoint !== '';
  const cimd = metadata.client_id_metadata_document_supported === true;
  const dcrClients = 'Claude Code, Cursor, MCP Inspector, mcp-remote and the MCP SDKs';
  const cimdClients = 'Claude, ChatGPT and VS Code';
  if (dcr && cimd) {
    return pass(3, 'authorization-server.registration', `clients may register with DCR (at ${String(metadata.registration_endpoint)}: ${dcrClients}) or a client ID metadata document (${cimdClients})`);
  }
  if (dcr) {
    return warn(
      3,
      'authorization-server.registration',
      `dynamic client registration at ${String(metadata.registration_endpoint)} (${dcrClients}); no client ID metadata documents`,
      `${cimdClients} prefer client ID metadata documents: turn them on in ${SCALEKIT_DASHBOARD.registration} (${README.scalekit}).`,
    );
  }
  if (cimd) {
    return warn(
      3,
      'authorization-server.registration',
      `client ID metadata documents only (${cimdClients}); no dynamic client registration`,
      `${dcrClients} register with DCR: turn on ${SCALEKIT_DASHBOARD.registration}, or hand their users pre-registered client ids (${README.scalekit}).`,
    );
  }
  return warn(
    3,
    'authorization-server.registration',
    'neither dynamic client registration nor client ID metadata documents: only pre-registered clients can sign in',
    `Claude, Cursor, VS Code and MCP Inspector register themselves: turn on ${SCALEKIT_DASHBOARD.registration} (and client ID metadata documents), or hand users pre-registered client ids (${README.scalekit}).`,
  );
}

function ordinal(position: number): string {
  return ['first', 'second', 'third', 'fourth'][position - 1] ?? `#${position}`;
}

// ---------------------------------------------------------------------------------------------
// step 4: signing keys

interface SigningKeysFindings {
  readonly check: CheckResult;
  readonly jwks?: JSONWebKeySet;
  readonly jwksUri?: string;
}

/** RSA keys a verifier can use for RS256: jose's `createLocalJWKSet` would pick these for an RS256 token with a matching kid. */
function rs256Keys(keys: readonly unknown[]): Json[] {
  return keys.filter((key): key is Json => {
    if (typeof key !== 'object' || key === null) return false;
    const jwk = key as Json;
    return (
      jwk.kty === 'RSA' &&
      typeof jwk.kid === 'string' &&
      jwk.kid !== '' &&
      typeof jwk.n === 'string' &&
      typeof jwk.e === 'string' &&
      (jwk.alg === undefined || jwk.alg === 'RS256') &&
      (jwk.use === undefined || jwk.use === 'sig')
    );
  });
}

export async function checkSigningKeys(http: HttpClient, metadata: Json | undefined, authorizationServer: string): Promise<SigningKeysFindings> {
  const declared = typeof metadata?.jwks_uri === 'string' && URL.canParse(metadata.jwks_uri) ? metadata.jwks_uri : undefined;
  const issuer = typeof metadata?.issuer === 'string' && URL.canParse(metadata.issuer) ? metadata.issuer : authorizationServer;
  // Scalekit publishes its keys at {environment}/keys, and the environment is the issuer's origin.
  const jwksUri = declared ?? `${new URL(issuer).origin}/keys`;
  const source = declared ? 'jwks_uri' : `${metadata ? 'no jwks_uri in the metadata' : 'no metadata'}, so Scalekit's {environment}/keys`;
  const fixBase = `The authorizer fetches the same keys to verify every token; if it cannot, every call gets 503. JWKS is at {SCALEKIT_ENVIRONMENT_URL}/keys: check SCALEKIT_ENVIRONMENT_URL (${README.configuration}).`;

  const fetched = await getJsonObject(http, jwksUri);
  if (!fetched.ok) {
    const fix = fetched.network ? `${authorizationServerFix(authorizationServer, fetched.network)} ${fixBase}` : fixBase;
    return { check: fail(4, 'signing-keys', `JWKS (${source}): ${fetched.problem}`, fix), jwksUri };
  }
  const keys = Array.isArray(fetched.value.keys) ? fetched.value.keys : undefined;
  if (!keys) return { check: fail(4, 'signing-keys', `JWKS at ${jwksUri} has no "keys" array`, fixBase), jwksUri };
  const usable = rs256Keys(keys);
  if (usable.length === 0) {
    return {
      check: fail(4, 'signing-keys', `JWKS at ${jwksUri} has ${keys.length} key(s), none an RSA key for RS256 with a kid`, `Scalekit signs access tokens with RS256 keys that carry a kid; this is not its JWKS. ${fixBase}`),
      jwksUri,
    };
  }
  return {
    check: pass(4, 'signing-keys', `JWKS at ${jwksUri}: ${usable.length} RS256 key(s) (kid ${usable.map((key) => key.kid as string).join(', ')})`),
    jwks: { keys: usable } as unknown as JSONWebKeySet,
    jwksUri,
  };
}

// ---------------------------------------------------------------------------------------------
// step 5: a token, and tools/list with it

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
      checks.push(pass(5, 'token.scope', `scopes [${granted.join(' ')}] include the required ${quoteList(input.requiredScopes)}`));
    } else {
      const askedLess = input.requestedScope !== undefined && missing.some((scope) => !splitScopes(input.requestedScope).includes(scope));
      checks.push(
        fail(
          5,
          'token.scope',
          `${granted.length > 0 ? `scopes [${granted.join(' ')}] lack` : 'the token grants no scope, not even'} ${quoteList(missing)}, which the server requires (the challenge's scope)`,
          `${askedLess ? `--scope asked only for "${input.requestedScope}": ask for "${input.requiredScopes.join(' ')}". ` : ''}Allow ${quoteList(missing)} for this client in Scalekit (${SCALEKIT_DASHBOARD.scopes}); or, if the server demands too much, change REQUIRED_SCOPES and ${REDEPLOY} (${README.configuration}).`,
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

const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

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

async function listTools(target: Target, accessToken: string, timeoutMs: number): Promise<ToolsOutcome> {
  // The transport brings its own abort signal; the deadline is added to it, not put in its place.
  const timedFetch: typeof fetch = (url, init) => {
    const deadline = AbortSignal.timeout(timeoutMs);
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
    return describeToolsFailure(error, timeoutMs);
  } finally {
    await client.close().catch(() => undefined);
  }
}

function describeToolsFailure(error: unknown, timeoutMs: number): ToolsOutcome & { ok: false } {
  const message = preview(error instanceof Error ? error.message : String(error), 200);
  const name = (error as { name?: unknown })?.name;
  if (name === 'TimeoutError' || name === 'AbortError' || /timed out|timeout/i.test(message)) {
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

// ---------------------------------------------------------------------------------------------
// the whole run

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
