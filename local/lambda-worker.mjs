/**
 * One Lambda instance of the local stack: a worker thread with its own module
 * state and its own process.env, that loads a function's bundle (its "init
 * phase") and then runs one invocation at a time, as Lambda does.
 *
 * Plain JavaScript on purpose: it runs the bundles esbuild produced, outside any
 * TypeScript loader or test runner.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

const { bundlePath, functionName, memoryMb } = workerData;

function describe(error) {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: typeof error, message: String(error) };
}

let handler;
try {
  const module = await import(pathToFileURL(bundlePath).href);
  handler = module.handler;
  if (typeof handler !== 'function') throw new Error(`${bundlePath} exports no handler function`);
  parentPort.postMessage({ type: 'ready' });
} catch (error) {
  // Lambda reports an init failure on every invocation of the instance; so does the pool.
  const { name, message } = describe(error);
  process.stderr.write(`${JSON.stringify({ level: 'ERROR', message: 'Function init failed', function: functionName, errorName: name, errorMessage: message })}\n`);
  parentPort.postMessage({ type: 'init-error', error: describe(error) });
}

parentPort.on('message', async (message) => {
  if (message.type !== 'invoke' || !handler) return;
  const { id, event, deadline, requestId } = message;
  const context = {
    awsRequestId: requestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    const result = await handler(event, context);
    parentPort.postMessage({ type: 'result', id, result });
  } catch (error) {
    parentPort.postMessage({ type: 'error', id, error: describe(error) });
  }
});
