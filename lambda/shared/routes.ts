/**
 * The one route table. The CDK stack builds API Gateway from it and the local
 * gateway serves from it, so the two cannot drift. No CDK imports here: the local
 * gateway and the functions load this file too.
 */

export const MCP_PATH = '/web-search/mcp';
export const PRM_PATH = '/.well-known/oauth-protected-resource';
export const PRM_FOR_MCP_PATH = `${PRM_PATH}${MCP_PATH}`;
export const AS_METADATA_PATH = '/.well-known/oauth-authorization-server';
export const REGISTER_PATH = '/oauth/register';

/** The functions behind the API; `authorizer` guards routes instead of serving them. */
export type FunctionName = 'authorizer' | 'metadata' | 'register' | 'mcp';
export type IntegrationFunctionName = Exclude<FunctionName, 'authorizer'>;
export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/**
 * Documents API Gateway answers itself (a MOCK integration), fixed at synth time:
 * lib/mock-integrations.ts builds each one for the stack and the local gateway.
 */
export type MockDocument = 'protected-resource-metadata';

interface RouteBase {
  readonly method: HttpMethod;
  readonly path: string;
  /** Whether the Lambda REQUEST authorizer must allow the request first. */
  readonly authorized: boolean;
  /** Per-method throttling tighter than the stage's, where a route invites abuse. */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
}

/** A Lambda proxy integration: the function serves the request. */
export interface LambdaRoute extends RouteBase {
  readonly integration: 'lambda';
  readonly function: IntegrationFunctionName;
}

/** A MOCK integration: API Gateway answers with a document built at synth time, and no function runs. */
export interface MockRoute extends RouteBase {
  readonly integration: 'mock';
  readonly document: MockDocument;
  readonly function?: never;
}

export type Route = LambdaRoute | MockRoute;

export const routes: readonly Route[] = [
  // The first request of every client's discovery: answered by API Gateway, no Lambda invoked.
  { method: 'GET', path: PRM_PATH, integration: 'mock', document: 'protected-resource-metadata', authorized: false },
  { method: 'GET', path: PRM_FOR_MCP_PATH, integration: 'mock', document: 'protected-resource-metadata', authorized: false },
  { method: 'GET', path: AS_METADATA_PATH, integration: 'lambda', function: 'metadata', authorized: false },
  // Registration creates state at Scalekit for anyone who asks: kept well below the stage's rate.
  {
    method: 'POST',
    path: REGISTER_PATH,
    integration: 'lambda',
    function: 'register',
    authorized: false,
    throttle: { rateLimit: 5, burstLimit: 10 },
  },
  { method: 'POST', path: MCP_PATH, integration: 'lambda', function: 'mcp', authorized: true },
  // A stateless server has no SSE stream and no session to delete: the MCP
  // function answers these with 405 and never needs a token to say so.
  { method: 'GET', path: MCP_PATH, integration: 'lambda', function: 'mcp', authorized: false },
  { method: 'DELETE', path: MCP_PATH, integration: 'lambda', function: 'mcp', authorized: false },
];

/** Every path of the table once, in order; each gets an OPTIONS (CORS preflight) method. */
export const routePaths: readonly string[] = [...new Set(routes.map((route) => route.path))];

export function methodsAt(path: string): readonly HttpMethod[] {
  return routes.filter((route) => route.path === path).map((route) => route.method);
}

export function findRoute(method: string, path: string): Route | undefined {
  return routes.find((route) => route.method === method && route.path === path);
}

/** Public URLs derived from the API's base URL (custom domain, or execute-api with its stage). */
export function publicUrls(apiBaseUrl: string) {
  const base = apiBaseUrl.replace(/\/+$/, '');
  return {
    mcpUrl: `${base}${MCP_PATH}`,
    /** RFC 9728 path-suffixed metadata URL for the MCP endpoint: what the 401 challenge points at. */
    protectedResourceMetadataUrl: `${base}${PRM_FOR_MCP_PATH}`,
    registrationUrl: `${base}${REGISTER_PATH}`,
  };
}
