import { AuthorizerUnavailableError, stageWildcardArn, toAuthorizerResult, UNAUTHORIZED } from '../../../lambda/authorizer/policy.js';
import type { Caller, Decision } from '../../../lambda/authorizer/verify-access-token.js';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/prod/POST/web-search/mcp';
const STAGE_WILDCARD = 'arn:aws:execute-api:eu-west-1:123456789012:abc123def4/prod/*/*';

const caller: Caller = {
  sub: 'usr_123',
  clientId: 'skc_abc',
  scopes: ['web-search:read', 'profile'],
  exp: 1_900_000_000,
  tokenId: 'tkn_1',
};

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('stageWildcardArn', () => {
  test('covers every method and path of the stage', () => {
    expect(stageWildcardArn(METHOD_ARN)).toBe(STAGE_WILDCARD);
    expect(stageWildcardArn('arn:aws:execute-api:us-east-1:1:api/$default/GET/')).toBe('arn:aws:execute-api:us-east-1:1:api/$default/*/*');
  });

  test.each(['', 'not-an-arn', 'arn:aws:execute-api:eu-west-1:1:api', 'arn:aws:execute-api:eu-west-1:1:api/'])(
    '%j is not an execute-api method ARN: AuthorizerUnavailableError',
    (arn) => {
      const error = thrown(() => stageWildcardArn(arn));
      expect(error).toBeInstanceOf(AuthorizerUnavailableError);
      expect(error.message).toBe('methodArn is not an execute-api ARN');
    },
  );
});

describe('toAuthorizerResult', () => {
  test('allow: an Allow policy over the stage, and the caller as a flat context', () => {
    const result = toAuthorizerResult({ outcome: 'allow', caller }, METHOD_ARN);
    expect(result).toEqual({
      principalId: 'usr_123',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: STAGE_WILDCARD }],
      },
      context: { sub: 'usr_123', clientId: 'skc_abc', scopes: '["web-search:read","profile"]', exp: 1_900_000_000, tokenId: 'tkn_1' },
    });
    for (const value of Object.values(result.context!)) expect(['string', 'number']).toContain(typeof value);
  });

  test('insufficient_scope: the same policy with Deny (API Gateway answers 403)', () => {
    const result = toAuthorizerResult({ outcome: 'insufficient_scope', caller, missingScopes: ['web-search:crawl'] }, METHOD_ARN);
    expect(result.policyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: STAGE_WILDCARD }],
    });
    expect(result.principalId).toBe('usr_123');
    expect(result.context).toEqual({
      sub: 'usr_123',
      clientId: 'skc_abc',
      scopes: '["web-search:read","profile"]',
      exp: 1_900_000_000,
      tokenId: 'tkn_1',
    });
  });

  test('the principal falls back to the client id (client credentials), then "unknown"', () => {
    expect(toAuthorizerResult({ outcome: 'allow', caller: { ...caller, sub: '' } }, METHOD_ARN).principalId).toBe('skc_abc');
    expect(toAuthorizerResult({ outcome: 'allow', caller: { ...caller, sub: '', clientId: '' } }, METHOD_ARN).principalId).toBe('unknown');
  });

  test.each(['missing', 'malformed', 'bad_signature', 'expired', 'not_yet_valid', 'wrong_audience', 'wrong_issuer'] as const)(
    'unauthorized (%s): throws exactly "Unauthorized", which API Gateway turns into its 401',
    (reason) => {
      const error = thrown(() => toAuthorizerResult({ outcome: 'unauthorized', reason, tokenId: 'abc' }, METHOD_ARN));
      expect(error.message).toBe('Unauthorized');
      expect(error.message).toBe(UNAUTHORIZED);
      expect(error).not.toBeInstanceOf(AuthorizerUnavailableError);
    },
  );

  test('unavailable: throws something other than "Unauthorized", so API Gateway answers AUTHORIZER_FAILURE', () => {
    const decision: Decision = { outcome: 'unavailable', reason: 'jwks_unavailable' };
    const error = thrown(() => toAuthorizerResult(decision, METHOD_ARN));
    expect(error).toBeInstanceOf(AuthorizerUnavailableError);
    expect(error.name).toBe('AuthorizerUnavailableError');
    expect(error.message).toBe('Signing keys unavailable');
    expect(error.message).not.toBe(UNAUTHORIZED);
  });

  test('an allow with a method ARN that is not one is not silently allowed', () => {
    expect(() => toAuthorizerResult({ outcome: 'allow', caller }, 'garbage')).toThrow(AuthorizerUnavailableError);
  });
});
