/**
 * Lambda REQUEST authorizer for the MCP endpoint: the adapter around
 * verifyAccessToken. Settings are parsed and the key source built once per
 * instance; the keys it fetches serve every later invocation.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { createObservability } from '../shared/observability.js';
import { loadParameterReader } from '../shared/parameters.js';
import { definitions as d, parseSettings } from '../shared/settings.js';
import { cacheDecisions } from './decision-cache.js';
import { createDecisionLog } from './decision-log.js';
import { createDenylistSource, deniedBy, DenylistUnavailableError, type DenylistSource } from './denylist.js';
import { toAuthorizerResult } from './policy.js';
import { createSigningKeySource } from './signing-keys.js';
import { createAccessTokenVerifier, type Decision } from './verify-access-token.js';

const settings = parseSettings(
  {
    environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
    resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
    resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifier],
    requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
    denylistParameter: ['REVOCATION_DENYLIST_PARAMETER', d.revocationDenylistParameter],
    denylistMaxAgeSeconds: ['REVOCATION_DENYLIST_MAX_AGE_SECONDS', d.revocationDenylistMaxAgeSeconds],
  },
  process.env,
  'authorizer configuration',
);

// The per-decision line is decision-log.ts's; the Powertools Logger writes the rest (warnings, errors)
// and gets an invocation's correlation keys only when one of those is written.
const observability = createObservability('authorizer', { correlation: 'on-first-use' });
const decisionLog = createDecisionLog(observability.logger, 'web-search-mcp-authorizer', () => observability.logger);

const verifyAccessToken = cacheDecisions(createAccessTokenVerifier({
  // Scalekit issues tokens as the environment, or as the environment's resource.
  issuers: [settings.environmentUrl, `${settings.environmentUrl}/resources/${settings.resourceId}`],
  audiences: [settings.resourceIdentifier, settings.resourceId],
  requiredScopes: settings.requiredScopes,
  keys: createSigningKeySource({
    jwksUrl: `${settings.environmentUrl}/keys`,
    onSkippedKey: (kid, reason) => observability.logger.warn('Signing key skipped', { kid: kid ?? null, reason }),
  }),
}));

const denylist: DenylistSource | undefined = settings.denylistParameter
  ? createDenylistSource({
      parameterName: settings.denylistParameter,
      maxAgeSeconds: settings.denylistMaxAgeSeconds,
      onProblem: (problem, stale) =>
        observability.logger.error('Revocation denylist problem', { parameter: settings.denylistParameter, problem, using: stale ? 'last good list' : 'none' }),
    })
  : undefined;

// An instance initialized for provisioned concurrency has no client waiting on its init: it loads
// the denylist's SSM reader there (reading nothing: the init must leave no request in flight).
// Everything else the first call needs is loaded at init anyway; its signing keys are fetched then.
if (denylist && process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'provisioned-concurrency') loadParameterReader().catch(() => {});

/**
 * The denylist, checked on every invocation, after the instance's decision cache:
 * a decision cached before an entry was added must not outlive the entry.
 */
async function withDenylist(decision: Decision & { cached?: boolean }): Promise<Decision & { cached?: boolean }> {
  if (!denylist || (decision.outcome !== 'allow' && decision.outcome !== 'insufficient_scope')) return decision;
  try {
    const kind = deniedBy(await denylist.current(), decision.caller);
    if (kind === undefined) return decision;
    return { outcome: 'unauthorized', reason: 'revoked', tokenId: decision.caller.tokenId, caller: decision.caller, deniedBy: kind };
  } catch (error) {
    if (!(error instanceof DenylistUnavailableError)) throw error;
    return { outcome: 'unavailable', reason: 'denylist_unavailable', tokenId: decision.caller.tokenId };
  }
}

/** The single Authorization header; two of them are as good as a malformed one. */
function authorizationHeader(event: APIGatewayRequestAuthorizerEvent): string | undefined {
  const values: string[] = [];
  for (const [name, list] of Object.entries(event?.multiValueHeaders ?? {})) {
    if (name.toLowerCase() !== 'authorization') continue;
    // Not a list of strings: no header API Gateway sends, so it is refused like a malformed one.
    if (!Array.isArray(list) || list.some((value) => typeof value !== 'string')) return 'malformed';
    values.push(...list);
  }
  if (values.length === 0) {
    for (const [name, value] of Object.entries(event?.headers ?? {})) {
      if (name.toLowerCase() === 'authorization' && typeof value === 'string') values.push(value);
    }
  }
  if (values.length > 1) return 'multiple';
  return values[0];
}

/** One log line and one metric per decision: outcome, reason, who, and which token (by jti or short hash). */
function recordDecision(decision: Decision & { cached?: boolean }) {
  const attributes: Record<string, unknown> = { outcome: decision.outcome };
  if (decision.cached) attributes.cached = true;
  if (decision.outcome === 'allow' || decision.outcome === 'insufficient_scope') {
    attributes.reason = decision.outcome === 'allow' ? 'ok' : 'insufficient_scope';
    attributes.sub = decision.caller.sub;
    attributes.client_id = decision.caller.clientId;
    attributes.token = decision.caller.tokenId;
    if (decision.outcome === 'insufficient_scope') attributes.missing_scopes = decision.missingScopes.join(' ');
  } else {
    attributes.reason = decision.reason;
    if (decision.tokenId) attributes.token = decision.tokenId;
    if (decision.outcome === 'unauthorized' && decision.caller) {
      attributes.sub = decision.caller.sub;
      attributes.client_id = decision.caller.clientId;
    }
    if (decision.outcome === 'unauthorized' && decision.deniedBy) attributes.denied_by = decision.deniedBy;
  }
  if (decision.outcome === 'unavailable') observability.logger.warn('Authorization decision', attributes);
  // A decision served from the instance's cache repeats one logged in full when it was made;
  // API Gateway's access log still records the request.
  else if (decision.cached) decisionLog.write('DEBUG', 'Authorization decision', attributes);
  else decisionLog.write('INFO', 'Authorization decision', attributes);
  observability.count('AuthorizerDecisions', { Outcome: decision.outcome });
}

export async function handler(event: APIGatewayRequestAuthorizerEvent, context?: Context): Promise<APIGatewayAuthorizerResult> {
  const requestId = event?.requestContext?.requestId ?? context?.awsRequestId ?? 'unknown';
  return observability.invocation(requestId, context, async () => {
    decisionLog.begin(requestId, context);
    const decision = await withDenylist(await verifyAccessToken(authorizationHeader(event)));
    recordDecision(decision);
    return toAuthorizerResult(decision, event.methodArn);
  });
}
