/**
 * The one table of API Gateway's own responses: what a client gets when the
 * gateway answers instead of a function (no token, bad token, missing scope,
 * authorizer failure, unknown route). The CDK stack turns it into
 * `AWS::ApiGateway::GatewayResponse`s and the local gateway serves it as is.
 *
 * Challenges live here, not in the functions: API Gateway renames a
 * `WWW-Authenticate` header coming from a Lambda proxy integration to
 * `x-amzn-Remapped-WWW-Authenticate`. Gateway response headers are static
 * strings, so each challenge is assembled whole at synth time.
 */
import { EXPOSED_HEADERS } from './cors.js';

export type GatewayResponseType =
  | 'UNAUTHORIZED'
  | 'ACCESS_DENIED'
  | 'AUTHORIZER_FAILURE'
  | 'MISSING_AUTHENTICATION_TOKEN'
  | 'INTEGRATION_TIMEOUT'
  | 'THROTTLED'
  | 'DEFAULT_4XX'
  | 'DEFAULT_5XX';

export interface GatewayResponseSpec {
  readonly type: GatewayResponseType;
  /** Undefined: keep the status API Gateway chose (the DEFAULT_* families span many). */
  readonly statusCode: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: {
    readonly error: string;
    /** Undefined: API Gateway's own message for the failure (`$context.error.messageString`). */
    readonly error_description: string | undefined;
  };
}

/** Seconds a client should wait after a 503 from the authorizer (the keys were unreachable). */
export const AUTHORIZER_FAILURE_RETRY_AFTER_SECONDS = 5;

export interface ChallengeOptions {
  /** The path-suffixed RFC 9728 metadata URL of the MCP endpoint. */
  readonly protectedResourceMetadataUrl: string;
  readonly requiredScopes: readonly string[];
}

/** `WWW-Authenticate` for a request without a usable token (RFC 6750, RFC 9728 section 5.1). */
export function unauthorizedChallenge({ protectedResourceMetadataUrl, requiredScopes }: ChallengeOptions): string {
  return `Bearer resource_metadata="${protectedResourceMetadataUrl}", scope="${requiredScopes.join(' ')}"`;
}

/** `WWW-Authenticate` for a valid token without the required scopes: the client steps up. */
export function insufficientScopeChallenge({ protectedResourceMetadataUrl, requiredScopes }: ChallengeOptions): string {
  return `Bearer error="insufficient_scope", scope="${requiredScopes.join(' ')}", resource_metadata="${protectedResourceMetadataUrl}"`;
}

const JSON_CONTENT = { 'Content-Type': 'application/json' } as const;

export function gatewayResponses(options: ChallengeOptions): readonly GatewayResponseSpec[] {
  const scopes = options.requiredScopes.join(' ');
  return [
    {
      type: 'UNAUTHORIZED',
      statusCode: 401,
      headers: { ...JSON_CONTENT, 'WWW-Authenticate': unauthorizedChallenge(options) },
      body: {
        error: 'invalid_token',
        error_description: `A valid Bearer access token is required (missing, malformed, expired or not issued for this server). Discover how to get one at ${options.protectedResourceMetadataUrl}`,
      },
    },
    {
      type: 'ACCESS_DENIED',
      statusCode: 403,
      headers: { ...JSON_CONTENT, 'WWW-Authenticate': insufficientScopeChallenge(options) },
      body: {
        error: 'insufficient_scope',
        error_description: `The access token does not grant the required scope: ${scopes}. Authorize again requesting it.`,
      },
    },
    {
      type: 'AUTHORIZER_FAILURE',
      statusCode: 503,
      headers: { ...JSON_CONTENT, 'Retry-After': String(AUTHORIZER_FAILURE_RETRY_AFTER_SECONDS) },
      body: {
        error: 'temporarily_unavailable',
        error_description:
          "The access token could not be verified because the authorization server's signing keys are unreachable. Retry shortly.",
      },
    },
    {
      type: 'MISSING_AUTHENTICATION_TOKEN',
      statusCode: 404,
      headers: JSON_CONTENT,
      body: {
        error: 'not_found',
        error_description: 'No such route. The MCP endpoint is POST /web-search/mcp.',
      },
    },
    {
      type: 'INTEGRATION_TIMEOUT',
      statusCode: 504,
      headers: JSON_CONTENT,
      body: { error: 'timeout', error_description: 'The request took too long and was cut off. Retry, or ask for less.' },
    },
    {
      type: 'THROTTLED',
      statusCode: 429,
      headers: { ...JSON_CONTENT, 'Retry-After': '1' },
      body: { error: 'rate_limited', error_description: 'Too many requests. Slow down and retry.' },
    },
    {
      type: 'DEFAULT_4XX',
      statusCode: undefined,
      headers: JSON_CONTENT,
      body: { error: 'invalid_request', error_description: undefined },
    },
    {
      type: 'DEFAULT_5XX',
      statusCode: undefined,
      headers: JSON_CONTENT,
      body: { error: 'server_error', error_description: undefined },
    },
  ];
}

/**
 * CORS on gateway responses. API Gateway can only send a constant or copy a
 * request header here, not choose by origin: with `*` allowed the constant `*`;
 * with a list, the request's own Origin (these responses carry nothing but the
 * public challenge, and never credentials); with none, no CORS headers at all.
 */
export function gatewayResponseCors(allowedOrigins: readonly string[]):
  | { readonly allowOrigin: 'any' | 'request-origin'; readonly headers: Readonly<Record<string, string>> }
  | undefined {
  if (allowedOrigins.length === 0) return undefined;
  return {
    allowOrigin: allowedOrigins.includes('*') ? 'any' : 'request-origin',
    headers: { 'Access-Control-Expose-Headers': EXPOSED_HEADERS.join(', '), Vary: 'Origin' },
  };
}
