/**
 * Decisions in the form API Gateway understands. This table is the only place
 * that knows how each outcome reaches the client:
 *
 * | decision           | authorizer returns      | API Gateway answers                |
 * | ------------------ | ----------------------- | ---------------------------------- |
 * | allow              | Allow policy + context  | the integration runs               |
 * | insufficient_scope | Deny policy             | 403 ACCESS_DENIED (step-up)        |
 * | unauthorized       | throws "Unauthorized"   | 401 UNAUTHORIZED + challenge       |
 * | unavailable        | throws anything else    | AUTHORIZER_FAILURE, served as 503  |
 *
 * API Gateway caches the returned policy per Authorization value for the TTL and
 * applies it to every route of the stage, so its resource is a wildcard over the
 * stage: a policy naming only the first route would deny the others from cache.
 */
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { callerContext } from '../shared/caller.js';
import { WebSearchMcpError } from '../shared/errors.js';
import type { Decision } from './verify-access-token.js';

/** The message API Gateway turns into its UNAUTHORIZED (401) response. Exactly this text. */
export const UNAUTHORIZED = 'Unauthorized';

/** Thrown for an outage: API Gateway answers any error but `Unauthorized` with AUTHORIZER_FAILURE, served as 503. */
export class AuthorizerUnavailableError extends WebSearchMcpError {
  readonly code = 'ERR_AUTHORIZER_UNAVAILABLE' as const;
}

/** `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{method}/{path}` to `…:{api}/{stage}/*` + `/*`. */
export function stageWildcardArn(methodArn: string): string {
  if (typeof methodArn !== 'string') throw new AuthorizerUnavailableError('methodArn is not an execute-api ARN');
  const [apiAndStagePrefix, stage] = methodArn.split('/');
  if (!apiAndStagePrefix || !stage) throw new AuthorizerUnavailableError('methodArn is not an execute-api ARN');
  return `${apiAndStagePrefix}/${stage}/*/*`;
}

export function toAuthorizerResult(decision: Decision, methodArn: string): APIGatewayAuthorizerResult {
  switch (decision.outcome) {
    case 'allow':
    case 'insufficient_scope': {
      const { caller } = decision;
      return {
        principalId: caller.sub || caller.clientId || 'unknown',
        policyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Action: 'execute-api:Invoke',
              Effect: decision.outcome === 'allow' ? 'Allow' : 'Deny',
              Resource: stageWildcardArn(methodArn),
            },
          ],
        },
        // Context values must be strings, numbers or booleans; the integration reads them as strings.
        context: callerContext(caller),
      };
    }
    case 'unauthorized':
      throw new Error(UNAUTHORIZED);
    case 'unavailable':
      throw new AuthorizerUnavailableError(decision.reason === 'denylist_unavailable' ? 'Revocation denylist unavailable' : 'Signing keys unavailable');
  }
}
