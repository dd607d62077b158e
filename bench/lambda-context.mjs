/**
 * The Lambda context the bench's children hand a handler, as Lambda's runtime
 * builds it from the function's variables. `remainingMs` is what
 * getRemainingTimeInMillis answers: a fixed 30 s for warm loops that reuse one
 * context, or a countdown for a cold start's one invocation.
 */
export function lambdaContext(requestId, remainingMs = () => 30_000) {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  return {
    awsRequestId: requestId,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'bench',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: remainingMs,
    done() {},
    fail() {},
    succeed() {},
  };
}
