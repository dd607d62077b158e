/** The metadata function: the API Gateway adapter around createMetadataCore. */
import { proxyHandler } from '../shared/api-gateway.js';
import {
  authorizationServerMetadataUrl,
  createAuthorizationServerMetadataSource,
} from '../shared/authorization-server-metadata.js';
import { createOriginPolicy } from '../shared/cors.js';
import { createObservability } from '../shared/observability.js';
import { publicUrls } from '../shared/routes.js';
import { definitions as d, parseSettings } from '../shared/settings.js';
import { createMetadataCore } from './metadata.js';

const settings = parseSettings(
  {
    environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
    resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
    allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
    apiBaseUrl: ['API_BASE_URL', d.apiBaseUrl],
  },
  process.env,
  'metadata function configuration',
);

const observability = createObservability('metadata');

const core = createMetadataCore({
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
