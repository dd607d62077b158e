/**
 * Lambda REQUEST authorizer for the MCP endpoint: the adapter around
 * verifyAccessToken. Settings are parsed and the key source built once per
 * instance; the keys it fetches serve every later invocation.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { createObservability } from '../shared/observability.js';
import { definitions as d, parseSettings } from '../shared/settings.js';
import { cacheDecisions } from './decision-cache.js';
import { toAuthorizerResult } from './policy.js';
import { createSigningKeySource } from './signing-keys.js';
import { createAccessTokenVerifier, type Decision } from './verify-access-token.js';

const settings = parseSettings(
  {
    environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
    resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
    resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifier],
    requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
  },
  process.env,
  'authorizer configuration',
);

const observability = createObservability('authorizer');

const verifyAccessToken = cacheDecisions(createAccessTokenVerifier({
  // Scalekit issues tokens as the environment, or as the environment's resource.
  issuers: [settings.environmentUrl, `${settings.environmentUrl}/resources/${settings.resourceId}`],
  audiences: [settings.resourceIdentifier, settings.resourceId],
  requiredScopes: settings.requiredScopes,
  keys: createSigningKeySource({ jwksUrl: `${settings.environmentUrl}/keys` }),
}));

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
  }
  if (decision.outcome === 'unavailable') observability.logger.warn('Authorization decision', attributes);
  // A decision served from the instance's cache repeats one logged in full when it was made;
  // API Gateway's access log still records the request.
  else if (decision.cached) observability.logger.debug('Authorization decision', attributes);
  else observability.logger.info('Authorization decision', attributes);
  observability.count('AuthorizerDecisions', { Outcome: decision.outcome });
}

export async function handler(event: APIGatewayRequestAuthorizerEvent, context?: Context): Promise<APIGatewayAuthorizerResult> {
  return observability.invocation(event?.requestContext?.requestId ?? context?.awsRequestId ?? 'unknown', context, async () => {
    const decision = await verifyAccessToken(authorizationHeader(event));
    recordDecision(decision);
    return toAuthorizerResult(decision, event.methodArn);
  });
}
