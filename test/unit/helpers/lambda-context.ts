/** A Lambda context as the Node.js runtime hands the authorizer one, for tests of log lines. */
import type { Context } from 'aws-lambda';

export function lambdaContext(awsRequestId: string): Context {
  return {
    awsRequestId,
    functionName: 'WebSearchMcp-Authorizer',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:WebSearchMcp-Authorizer',
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/WebSearchMcp-Authorizer',
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 3000,
    done() {},
    fail() {},
    succeed() {},
  };
}
