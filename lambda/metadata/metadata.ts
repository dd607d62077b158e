/**
 * The authorization server's metadata (RFC 8414), proxied from Scalekit for
 * clients on the 2025-03-26 revision, which look for it at this server's origin.
 * The protected resource metadata is not served here: API Gateway answers it
 * itself (lambda/shared/protected-resource-metadata.ts).
 */
import { UpstreamError, type AuthorizationServerMetadataSource } from '../shared/authorization-server-metadata.js';
import { errorResponse, jsonResponse, methodNotAllowed } from '../shared/http.js';
import { DISCOVERY_CACHE_CONTROL } from '../shared/protected-resource-metadata.js';
import { AS_METADATA_PATH } from '../shared/routes.js';

/**
 * The proxied copy keeps the upstream's `issuer` untouched (tokens carry it, and
 * strict clients compare the two) and advertises this server's registration
 * proxy, so a client that found the metadata here registers here too.
 */
export function proxiedAuthorizationServerMetadata(upstream: Readonly<Record<string, unknown>>, registrationUrl: string) {
  return { ...upstream, registration_endpoint: registrationUrl };
}

export function createMetadataCore(options: {
  readonly authorizationServerMetadata: AuthorizationServerMetadataSource;
  readonly registrationUrl: string;
}) {
  return async function serveMetadata(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed(['GET']);
    if (path !== AS_METADATA_PATH) return errorResponse(404, 'not_found', 'No such metadata document.');
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
  };
}
