/**
 * Step 2: the protected resource metadata (RFC 9728), found as clients find it:
 * the challenge's `resource_metadata` first, then the well-known URLs. Its
 * `resource` must be one the MCP SDK client accepts for the endpoint it
 * connected to, `authorization_servers` must name the authorization server, and
 * its scopes must cover the challenge's.
 */
import { checkResourceAllowed } from '@modelcontextprotocol/sdk/shared/auth-utils.js';
import { isLoopbackHost } from '../../../lambda/shared/loopback.js';
import { MCP_PATH, PRM_PATH } from '../../../lambda/shared/routes.js';
import { fixForUnreachable, LOGS, README, REDEPLOY, SCALEKIT_DASHBOARD, wrongPathFix } from '../guidance.js';
import { getJsonObject, type Fetched, type HttpClient, type Json } from '../http.js';
import { fail, pass, warn, type CheckResult } from '../report.js';
import { quoteScopes, splitScopes } from '../scopes.js';
import type { Target } from '../target.js';
import type { Challenge } from './challenge.js';

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
          ? `API Gateway answers this document itself (a MOCK integration built at deploy time from SCALEKIT_ENVIRONMENT_URL, SCALEKIT_RESOURCE_ID and RESOURCE_IDENTIFIER): check them (${README.configuration}), ${REDEPLOY}, and look at ${LOGS.functions}.`
          : `GET ${PRM_PATH}${MCP_PATH} is one of the API's routes (lambda/shared/routes.ts); ${REDEPLOY}. The challenge must point at ${target.baseUrl}${PRM_PATH}${MCP_PATH}.`;
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
      : `Both well-known routes are in lambda/shared/routes.ts: ${REDEPLOY}, and check that no proxy or CDN in front drops /.well-known/ paths.`;
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
        `The metadata names {SCALEKIT_ENVIRONMENT_URL}/resources/{SCALEKIT_RESOURCE_ID}: set both (${SCALEKIT_DASHBOARD.environmentUrl}; the res_… id under ${SCALEKIT_DASHBOARD.mcpServer}) and ${REDEPLOY} (${README.configuration}).`,
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
    else checks.push(fail(2, 'resource-metadata.scopes', `scopes_supported [${supported.join(' ')}] lacks ${quoteScopes(absent)} from the challenge's scope`, scopesFix));
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
        `MCP sends tokens only in the Authorization header; this server's metadata says ["header"] (lambda/shared/protected-resource-metadata.ts): ${REDEPLOY}.`,
      ),
    );
  }
  return findings;
}
