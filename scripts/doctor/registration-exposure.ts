/**
 * What the authorization server's own metadata lets any client do, whatever this
 * server's registration policy says: that policy binds only clients registering
 * through `POST /oauth/register`. A client that follows the protected resource
 * metadata to Scalekit registers there, under Scalekit's settings. The doctor
 * reports them so that an operator sees the door this server does not guard.
 */
import type { CheckResult } from './report.js';

type Json = Readonly<Record<string, unknown>>;

const list = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);

export function registrationExposure(metadata: Json, dashboardRegistration: string): CheckResult {
  const dcr = typeof metadata.registration_endpoint === 'string' && metadata.registration_endpoint !== '';
  const cimd = metadata.client_id_metadata_document_supported === true;
  const grants = list(metadata.grant_types_supported);
  const authMethods = list(metadata.token_endpoint_auth_methods_supported);
  const direct = [dcr ? 'dynamic client registration' : undefined, cimd ? 'client ID metadata documents' : undefined].filter(Boolean);
  const summary =
    `the authorization server itself allows ${direct.length > 0 ? direct.join(' and ') : 'no self-registration'}` +
    `${grants.length > 0 ? `, grants ${grants.join(', ')}` : ''}` +
    `${authMethods.length > 0 ? `, client authentication ${authMethods.join(', ')}` : ''}` +
    ': this server\'s registration policy binds only clients registering through it';
  return {
    step: 3,
    id: 'authorization-server.registration-exposure',
    status: 'pass',
    summary,
    details: {
      dynamicClientRegistration: dcr,
      clientIdMetadataDocuments: cimd,
      grantTypes: grants,
      tokenEndpointAuthMethods: authMethods,
      ...(direct.length > 0
        ? { consider: `Clients registering at the authorization server directly are bound by its settings only: ${dashboardRegistration}, its allowed redirect URIs and allowed clients (README, Security).` }
        : {}),
    },
  };
}
