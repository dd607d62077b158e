/** The metadata function: the API Gateway adapter around createMetadataCore. */
import { publicUrls } from '../../lib/routes.js';
import { proxyHandler } from '../shared/api-gateway.js';
import {
  authorizationServerMetadataUrl,
  createAuthorizationServerMetadataSource,
} from '../shared/authorization-server-metadata.js';
import { createOriginPolicy } from '../shared/cors.js';
import { createObservability } from '../shared/observability.js';
import { definitions as d, parseSettings } from '../shared/settings.js';
import { createMetadataCore, protectedResourceSettings } from './metadata.js';

const settings = parseSettings(
  {
    environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
    resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
    resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifier],
    requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
    toolScopes: ['TOOL_SCOPES', d.toolScopes],
    allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
    apiBaseUrl: ['API_BASE_URL', d.apiBaseUrl],
  },
  process.env,
  'metadata function configuration',
);

const observability = createObservability('metadata');

const core = createMetadataCore({
  protectedResource: protectedResourceSettings(settings),
  authorizationServerMetadata: createAuthorizationServerMetadataSource({
    url: authorizationServerMetadataUrl(settings.environmentUrl, settings.resourceId),
    onFailure: (error) => {
      observability.logger.warn('Upstream failure', { target: 'authorization_server_metadata', kind: error.kind });
      observability.count('UpstreamFailures', { Target: 'authorization_server_metadata' });
    },
  }),
  registrationUrl: publicUrls(settings.apiBaseUrl).registrationUrl,
});

export const handler = proxyHandler(core, {
  observability,
  originPolicy: createOriginPolicy(settings.allowedOrigins),
});
