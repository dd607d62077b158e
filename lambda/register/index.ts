/** The register function: the API Gateway adapter around createRegistrationCore. */
import { proxyHandler } from '../shared/api-gateway.js';
import {
  authorizationServerMetadataUrl,
  createAuthorizationServerMetadataSource,
} from '../shared/authorization-server-metadata.js';
import { createOriginPolicy } from '../shared/cors.js';
import { createObservability } from '../shared/observability.js';
import { definitions as d, parseSettings, scopesSupported } from '../shared/settings.js';
import { createRegistrationCore } from './registration-proxy.js';

const settings = parseSettings(
  {
    environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
    resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
    allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
    requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
    toolScopes: ['TOOL_SCOPES', d.toolScopes],
  },
  process.env,
  'register function configuration',
);

const observability = createObservability('register');
const upstreamFailure = (target: string, kind: string) => {
  observability.logger.warn('Upstream failure', { target, kind });
  observability.count('UpstreamFailures', { Target: target });
};

const core = createRegistrationCore({
  authorizationServerMetadata: createAuthorizationServerMetadataSource({
    url: authorizationServerMetadataUrl(settings.environmentUrl, settings.resourceId),
    onFailure: (error) => upstreamFailure('authorization_server_metadata', error.kind),
  }),
  // The scopes the protected resource metadata lists: a client registers for those, or for none.
  scopesSupported: scopesSupported(settings.requiredScopes, settings.toolScopes),
  onUpstreamFailure: (kind) => upstreamFailure('registration_endpoint', kind),
});

export const handler = proxyHandler(core, {
  observability,
  originPolicy: createOriginPolicy(settings.allowedOrigins),
});
