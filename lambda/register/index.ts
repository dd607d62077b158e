/** The register function: the API Gateway adapter around createRegistrationCore. */
import { proxyHandler } from '../shared/api-gateway.js';
import {
  authorizationServerMetadataUrl,
  createAuthorizationServerMetadataSource,
} from '../shared/authorization-server-metadata.js';
import { createOriginPolicy } from '../shared/cors.js';
import { createLogger } from '../shared/log.js';
import { definitions as d, parseSettings } from '../shared/settings.js';
import { createRegistrationCore } from './registration-proxy.js';

const settings = parseSettings(
  {
    environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
    resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
    allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
  },
  process.env,
  'register function configuration',
);

const core = createRegistrationCore({
  authorizationServerMetadata: createAuthorizationServerMetadataSource({
    url: authorizationServerMetadataUrl(settings.environmentUrl, settings.resourceId),
  }),
});

export const handler = proxyHandler(core, {
  logger: createLogger('register'),
  originPolicy: createOriginPolicy(settings.allowedOrigins),
});
