/**
 * API Gateway REST API (v1) payloads, as the local gateway builds and reads
 * them: the REQUEST authorizer event, the proxy integration event, IAM policy
 * evaluation for an authorizer's answer, and the proxy result's validation.
 */
import { randomUUID } from 'node:crypto';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
} from 'aws-lambda';

export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_API_ID = 'local';
export const LOCAL_REGION = 'local';
/** The local API is served at the root, as behind a custom domain mapped at the root; this is its stage. */
export const LOCAL_STAGE = 'local';

/** What the gateway read off the wire. */
export interface IncomingRequest {
  readonly method: string;
  /** The path as requested, percent-encoding kept. */
  readonly path: string;
  /** The route's path template (`resource` in the event). */
  readonly resource: string;
  /** Header names as sent, every value kept. */
  readonly rawHeaders: readonly (readonly [string, string])[];
  readonly query: URLSearchParams;
  readonly body: Buffer;
  readonly sourceIp: string;
  readonly requestId: string;
  readonly host: string;
}

function headerMaps(rawHeaders: IncomingRequest['rawHeaders']) {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of rawHeaders) {
    headers[name] = value; // API Gateway keeps the last value in `headers`
    (multiValueHeaders[name] ??= []).push(value);
  }
  return { headers, multiValueHeaders };
}

function queryMaps(query: URLSearchParams) {
  if ([...query.keys()].length === 0) return { queryStringParameters: null, multiValueQueryStringParameters: null };
  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [name, value] of query) {
    queryStringParameters[name] = value;
    (multiValueQueryStringParameters[name] ??= []).push(value);
  }
  return { queryStringParameters, multiValueQueryStringParameters };
}

export function methodArn(request: Pick<IncomingRequest, 'method' | 'path'>): string {
  return `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${LOCAL_API_ID}/${LOCAL_STAGE}/${request.method}${request.path}`;
}

function requestContext(request: IncomingRequest) {
  return {
    accountId: LOCAL_ACCOUNT_ID,
    apiId: LOCAL_API_ID,
    domainName: request.host,
    domainPrefix: request.host.split('.')[0] ?? request.host,
    httpMethod: request.method,
    path: request.path,
    protocol: 'HTTP/1.1',
    requestId: request.requestId,
    requestTimeEpoch: Date.now(),
    resourceId: request.resource,
    resourcePath: request.resource,
    stage: LOCAL_STAGE,
    extendedRequestId: request.requestId,
    identity: {
      sourceIp: request.sourceIp,
      userAgent: request.rawHeaders.find(([name]) => name.toLowerCase() === 'user-agent')?.[1] ?? null,
      accessKey: null,
      accountId: null,
      apiKey: null,
      apiKeyId: null,
      caller: null,
      clientCert: null,
      cognitoAuthenticationProvider: null,
      cognitoAuthenticationType: null,
      cognitoIdentityId: null,
      cognitoIdentityPoolId: null,
      principalOrgId: null,
      user: null,
      userArn: null,
    },
  };
}

export function authorizerEvent(request: IncomingRequest): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: methodArn(request),
    resource: request.resource,
    path: request.path,
    httpMethod: request.method,
    ...headerMaps(request.rawHeaders),
    ...queryMaps(request.query),
    pathParameters: {},
    stageVariables: {},
    requestContext: requestContext(request) as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The proxy event. API Gateway passes text bodies as strings; bytes that are not
 * UTF-8 arrive base64-encoded with `isBase64Encoded`.
 */
export function proxyEvent(
  request: IncomingRequest,
  authorizer: Readonly<Record<string, string>> | undefined,
): APIGatewayProxyEvent {
  let body: string | null = null;
  let isBase64Encoded = false;
  if (request.body.byteLength > 0) {
    try {
      body = utf8.decode(request.body);
    } catch {
      body = request.body.toString('base64');
      isBase64Encoded = true;
    }
  }
  return {
    resource: request.resource,
    path: request.path,
    httpMethod: request.method,
    ...headerMaps(request.rawHeaders),
    ...queryMaps(request.query),
    pathParameters: null,
    stageVariables: null,
    requestContext: { ...requestContext(request), authorizer: authorizer ?? null } as APIGatewayProxyEvent['requestContext'],
    body,
    isBase64Encoded,
  };
}

/** IAM's wildcard matching for execute-api resources: `*` spans anything, `?` one character. */
function arnMatches(pattern: string, arn: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return regex.test(arn);
}

export type PolicyVerdict = 'allow' | 'deny' | 'invalid';

/** Explicit Deny wins, then Allow; no matching statement is a deny, as in IAM. */
export function evaluatePolicy(result: unknown, arn: string): PolicyVerdict {
  const policy = (result as APIGatewayAuthorizerResult | undefined)?.policyDocument;
  if (!result || typeof (result as APIGatewayAuthorizerResult).principalId !== 'string' || !policy || !Array.isArray(policy.Statement)) {
    return 'invalid';
  }
  let allowed = false;
  for (const statement of policy.Statement as unknown as Array<Record<string, unknown>>) {
    const actions = [statement.Action].flat();
    if (!actions.some((action) => action === 'execute-api:Invoke' || action === 'execute-api:*' || action === '*')) continue;
    const resources = [statement.Resource].flat().filter((resource): resource is string => typeof resource === 'string');
    if (!resources.some((resource) => arnMatches(resource, arn))) continue;
    if (statement.Effect === 'Deny') return 'deny';
    if (statement.Effect === 'Allow') allowed = true;
  }
  return allowed ? 'allow' : 'deny';
}

/**
 * What integrations receive in `requestContext.authorizer`: the principal and
 * the context, every value a string (or the authorizer's answer is refused).
 */
export function authorizerContext(result: unknown): Record<string, string> | undefined {
  const { principalId, context } = result as APIGatewayAuthorizerResult;
  const values: Record<string, string> = { principalId: String(principalId) };
  for (const [key, value] of Object.entries(context ?? {})) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') values[key] = String(value);
    else return undefined; // API Gateway answers AUTHORIZER_CONFIGURATION_ERROR for nested values
  }
  return values;
}

/** A proxy result API Gateway accepts, or undefined for a malformed one (502). */
export function validProxyResult(result: unknown): APIGatewayProxyResult | undefined {
  if (!result || typeof result !== 'object') return undefined;
  const { statusCode, body } = result as APIGatewayProxyResult;
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return undefined;
  if (body !== undefined && body !== null && typeof body !== 'string') return undefined;
  return result as APIGatewayProxyResult;
}

export const newRequestId = () => randomUUID();
