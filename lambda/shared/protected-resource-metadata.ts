/**
 * This server's protected resource metadata (RFC 9728), the document every
 * client's discovery starts from. No function serves it: API Gateway answers it
 * itself with a MOCK integration built at synth time (lib/mock-integrations.ts),
 * and the local gateway serves the same answer. It lives with the functions'
 * shared code because it is a contract between the stack, the local gateway and
 * the authorizer's challenge, which names its URL.
 */
import { scopesSupported, type ToolScopes } from './settings.js';

export interface ProtectedResourceSettings {
  readonly environmentUrl: string;
  readonly resourceId: string;
  readonly resourceIdentifier: string;
  readonly scopesSupported: readonly string[];
}

export const RESOURCE_NAME = 'Web Search MCP';

/**
 * Discovery documents change only on redeploy, so clients and proxies may keep
 * them briefly. The proxied authorization server metadata sends the same.
 */
export const DISCOVERY_CACHE_CONTROL = { 'Cache-Control': 'public, max-age=300' } as const;

/**
 * The document's settings from the deployment's: a client that asks for every
 * scope in `scopes_supported` (Cursor does) must get the required scopes and
 * every tool's, each once.
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

/**
 * The document Scalekit's dashboard tells an MCP server to serve. The
 * authorization server is Scalekit's per-resource issuer, the one whose metadata
 * names this resource's registration and scopes.
 */
export function protectedResourceMetadata(settings: ProtectedResourceSettings) {
  return {
    resource: settings.resourceIdentifier,
    authorization_servers: [`${settings.environmentUrl}/resources/${settings.resourceId}`],
    scopes_supported: [...settings.scopesSupported],
    bearer_methods_supported: ['header'],
    resource_name: RESOURCE_NAME,
  };
}
