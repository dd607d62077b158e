/**
 * The naive authorizer of issue 14's budgets: plain jose, `createRemoteJWKSet`
 * and `jwtVerify`, in a REQUEST-authorizer handler that returns an Allow policy
 * (Deny when the token does not verify), as public samples write one. Same
 * issuers and audiences as ours. Not product code: only `npm run bench` builds it.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const environmentUrl = process.env.SCALEKIT_ENVIRONMENT_URL ?? '';
const resourceId = process.env.SCALEKIT_RESOURCE_ID ?? '';
const jwks = createRemoteJWKSet(new URL(`${environmentUrl}/keys`));

const policy = (effect: 'Allow' | 'Deny', principalId: string, resource: string): APIGatewayAuthorizerResult => ({
  principalId,
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
});

export const handler = async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const header = event.headers?.Authorization ?? event.headers?.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : '';
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer: [environmentUrl, `${environmentUrl}/resources/${resourceId}`],
      audience: [process.env.RESOURCE_IDENTIFIER ?? '', resourceId],
    });
    return { ...policy('Allow', String(payload.sub), event.methodArn), context: { sub: String(payload.sub), scope: String(payload.scope ?? '') } };
  } catch {
    return policy('Deny', 'anonymous', event.methodArn);
  }
};
