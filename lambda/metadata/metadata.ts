/**
 * OAuth discovery documents: this server's protected resource metadata
 * (RFC 9728), and the authorization server's metadata (RFC 8414) proxied from
 * Scalekit for clients on the 2025-03-26 revision, which look for it at this
 * server's origin.
 */
import { AS_METADATA_PATH, PRM_FOR_MCP_PATH, PRM_PATH } from '../../lib/routes.js';
import type { AuthorizationServerMetadataSource } from '../shared/authorization-server-metadata.js';
import { UpstreamError } from '../shared/authorization-server-metadata.js';
import { scopesSupported, type ToolScopes } from '../shared/settings.js';
import { errorResponse, jsonResponse, methodNotAllowed, textResponse } from '../shared/http.js';

export interface ProtectedResourceSettings {
  readonly environmentUrl: string;
  readonly resourceId: string;
  readonly resourceIdentifier: string;
  readonly scopesSupported: readonly string[];
}

export const RESOURCE_NAME = 'Web Search MCP';

/**
 * The document's settings from the function's: the scopes supported are the
 * required scopes and every tool's, once each. The metadata function and the
 * stack's PRM mock (lib/mock-integrations.ts) both derive them here.
 */
export function protectedResourceSettings(input: {
  readonly environmentUrl: string;
  readonly resourceId: string;
  readonly resourceIdentifier: string;
  readonly requiredScopes: readonly string[];
  readonly toolScopes: ToolScopes;
}): ProtectedResourceSettings {
  return {
    environmentUrl: input.environmentUrl,
    resourceId: input.resourceId,
    resourceIdentifier: input.resourceIdentifier,
    scopesSupported: scopesSupported(input.requiredScopes, input.toolScopes),
  };
}

/** The document Scalekit's dashboard tells an MCP server to serve, with the scopes this server uses. */
export function protectedResourceMetadata(settings: ProtectedResourceSettings) {
  return {
    resource: settings.resourceIdentifier,
    authorization_servers: [`${settings.environmentUrl}/resources/${settings.resourceId}`],
    scopes_supported: [...settings.scopesSupported],
    bearer_methods_supported: ['header'],
    resource_name: RESOURCE_NAME,
  };
}

/**
 * The proxied copy keeps the upstream's `issuer` untouched (tokens carry it, and
 * strict clients compare the two) and advertises this server's registration
 * proxy, so a client that found the metadata here registers here too.
 */
export function proxiedAuthorizationServerMetadata(upstream: Readonly<Record<string, unknown>>, registrationUrl: string) {
  return { ...upstream, registration_endpoint: registrationUrl };
}

/**
 * Discovery documents change only on redeploy; let clients and proxies keep them briefly.
 * The API Gateway mock serving the protected resource metadata sends it too (lib/mock-integrations.ts).
 */
export const DISCOVERY_CACHE_CONTROL = { 'Cache-Control': 'public, max-age=300' } as const;

export function createMetadataCore(options: {
  readonly protectedResource: ProtectedResourceSettings;
  readonly authorizationServerMetadata: AuthorizationServerMetadataSource;
  readonly registrationUrl: string;
}) {
  const prm = JSON.stringify(protectedResourceMetadata(options.protectedResource));

  return async function serveMetadata(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed(['GET']);
    if (path === PRM_PATH || path === PRM_FOR_MCP_PATH) {
      return textResponse(prm, { status: 200, headers: { 'Content-Type': 'application/json', ...DISCOVERY_CACHE_CONTROL } });
    }
    if (path === AS_METADATA_PATH) {
      try {
        const { metadata, stale } = await options.authorizationServerMetadata.get();
        return jsonResponse(200, proxiedAuthorizationServerMetadata(metadata, options.registrationUrl), {
          ...DISCOVERY_CACHE_CONTROL,
          ...(stale ? { Warning: '110 - "Response is stale"' } : {}),
        });
      } catch (error) {
        if (!(error instanceof UpstreamError)) throw error;
        return errorResponse(
          502,
          'temporarily_unavailable',
          `The authorization server's metadata could not be fetched (${error.message}). Check SCALEKIT_ENVIRONMENT_URL and SCALEKIT_RESOURCE_ID, then retry.`,
          { 'Retry-After': '5' },
        );
      }
    }
    return errorResponse(404, 'not_found', 'No such metadata document.');
  };
}
