/**
 * Step 3: the authorization server's metadata (RFC 8414 or OpenID discovery),
 * found at the URLs the MCP SDK tries, in its order. It must carry the endpoints
 * and PKCE method clients need, name the issuer it was discovered from, and offer
 * clients a way to register. This server's proxied copy is checked too.
 */
import { buildDiscoveryUrls } from '@modelcontextprotocol/sdk/client/auth.js';
import { AS_METADATA_PATH, REGISTER_PATH } from '../../../lambda/shared/routes.js';
import { authorizationServerFix, README, REDEPLOY, SCALEKIT_DASHBOARD } from '../guidance.js';
import { getJsonObject, type Fetched, type HttpClient, type Json } from '../http.js';
import { registrationExposure } from '../registration-exposure.js';
import { fail, pass, warn, type CheckResult } from '../report.js';
import type { Target } from '../target.js';

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

  // What the authorization server lets clients do directly, past this server's registration policy.
  checks.push(registrationExposure(metadata, SCALEKIT_DASHBOARD.registration));

  // This server's copy, for clients on the 2025-03-26 revision, which look at the MCP server's own origin.
  const proxiedUrl = `${target.baseUrl}${AS_METADATA_PATH}`;
  const proxied = await getJsonObject(http, proxiedUrl);
  const compatNote = 'Only clients on the 2025-03-26 revision of MCP read this copy.';
  if (!proxied.ok) {
    const fix =
      proxied.status === 502
        ? `The metadata function cannot fetch the authorization server's metadata: check SCALEKIT_ENVIRONMENT_URL and SCALEKIT_RESOURCE_ID as deployed (${README.configuration}). ${compatNote}`
        : `${compatNote} GET ${AS_METADATA_PATH} is in lambda/shared/routes.ts: ${REDEPLOY}.`;
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
