/**
 * Step 1: POST the MCP endpoint without a token, as every client's first
 * request does. The answer must be a 401 whose Bearer challenge names the
 * protected resource metadata (`resource_metadata`) and the scope; anything else
 * says what stands in the way (no authorizer, a wrong path or stage, a proxy, a
 * challenge renamed by API Gateway). Browser clients also need CORS for it.
 */
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { isLoopbackHost } from '../../../lambda/shared/loopback.js';
import { MCP_PATH, PRM_PATH } from '../../../lambda/shared/routes.js';
import { fixForUnreachable, LOGS, MCP_INSPECTOR_ORIGIN, README, REDEPLOY, wrongPathFix } from '../guidance.js';
import { describeErrorBody, isRedirect, preview, type HttpClient, type Json } from '../http.js';
import { fail, pass, warn, type CheckResult } from '../report.js';
import { isExecuteApi, type Target } from '../target.js';
import { parseWwwAuthenticate, sdkReadsChallenge } from '../www-authenticate.js';

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
  return `POST ${MCP_PATH} must go through the Lambda REQUEST authorizer (lambda/shared/routes.ts marks it authorized): ${REDEPLOY}, then in the API Gateway console check ${new URL(target.mcpUrl).pathname} → POST → Method request → Authorization names the authorizer. Until then anyone can call the tools on your Tavily key.`;
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
  const gatewayResponseFix = `The challenge comes from the UNAUTHORIZED gateway response (lambda/shared/gateway-responses.ts), never from a function: ${REDEPLOY}, then check API Gateway console → Gateway responses → Unauthorized carries WWW-Authenticate.`;
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
      warn(1, 'challenge', `${what} → 401 with a Bearer challenge, but not as the header's first challenge`, `The MCP SDK client reads only the first challenge and will fall back to guessing well-known URLs: put Bearer first (lambda/shared/gateway-responses.ts) and ${REDEPLOY}.`, details),
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
      `A browser client then cannot read resource_metadata. The gateway responses must send Access-Control-Expose-Headers: WWW-Authenticate (gatewayResponseCors in lambda/shared/gateway-responses.ts); ${REDEPLOY}.`,
    );
  }
  return pass(1, id, `browser clients: ${origin} (MCP Inspector) passes the CORS preflight and can read the challenge`);
}
