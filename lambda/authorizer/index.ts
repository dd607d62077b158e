/**
 * Lambda REQUEST authorizer for the MCP endpoint: the adapter around
 * verifyAccessToken. Settings are parsed and the key source built once per
 * instance; the keys it fetches serve every later invocation.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createLogger } from '../shared/log.js';
import { definitions as d, parseSettings } from '../shared/settings.js';
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

const logger = createLogger('authorizer');

const verifyAccessToken = createAccessTokenVerifier({
  // Scalekit issues tokens as the environment, or as the environment's resource.
  issuers: [settings.environmentUrl, `${settings.environmentUrl}/resources/${settings.resourceId}`],
  audiences: [settings.resourceIdentifier, settings.resourceId],
  requiredScopes: settings.requiredScopes,
  keys: createSigningKeySource({ jwksUrl: `${settings.environmentUrl}/keys` }),
});

/** The single Authorization header; two of them are as good as a malformed one. */
function authorizationHeader(event: APIGatewayRequestAuthorizerEvent): string | undefined {
  const values: string[] = [];
  for (const [name, list] of Object.entries(event.multiValueHeaders ?? {})) {
    if (name.toLowerCase() === 'authorization') values.push(...(list ?? []));
  }
  if (values.length === 0) {
    for (const [name, value] of Object.entries(event.headers ?? {})) {
      if (name.toLowerCase() === 'authorization' && typeof value === 'string') values.push(value);
    }
  }
  if (values.length > 1) return 'multiple';
  return values[0];
}

function logDecision(decision: Decision, requestId: string | undefined) {
  const attributes: Record<string, unknown> = { requestId, outcome: decision.outcome };
  if (decision.outcome === 'allow' || decision.outcome === 'insufficient_scope') {
    attributes.reason = decision.outcome === 'allow' ? 'ok' : 'insufficient_scope';
    attributes.sub = decision.caller.sub;
    attributes.client_id = decision.caller.clientId;
    attributes.token = decision.caller.tokenId;
  } else {
    attributes.reason = decision.reason;
    if (decision.tokenId) attributes.token = decision.tokenId;
  }
  (decision.outcome === 'unavailable' ? logger.warn : logger.info)('Authorization decision', attributes);
}

export async function handler(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const decision = await verifyAccessToken(authorizationHeader(event));
  logDecision(decision, event.requestContext?.requestId);
  return toAuthorizerResult(decision, event.methodArn);
}
