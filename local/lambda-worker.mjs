/**
 * One Lambda instance of the local stack: a worker thread (or, when the stack
 * runs on another Node than Lambda's major, a child process of that Node) with
 * its own module state and its own process.env, that loads a function's bundle
 * (its "init phase") and then runs one invocation at a time, as Lambda does.
 *
 * Plain JavaScript on purpose: it runs the bundles esbuild produced, outside any
 * TypeScript loader or test runner.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

// The same messages either way: the thread's port, or the child process's IPC channel.
const channel = parentPort ?? { postMessage: (message) => process.send(message), on: (event, listener) => process.on(event, listener) };
const { bundlePath, functionName, memoryMb } = workerData ?? JSON.parse(process.argv[2]);
// A child process ends with the stack that started it.
if (!parentPort) process.on('disconnect', () => process.exit(0));

function describe(error) {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: typeof error, message: String(error) };
}

let handler;
try {
  const module = await import(pathToFileURL(bundlePath).href);
  handler = module.handler;
  if (typeof handler !== 'function') throw new Error(`${bundlePath} exports no handler function`);
  channel.postMessage({ type: 'ready' });
} catch (error) {
  // Lambda reports an init failure on every invocation of the instance; so does the pool.
  const { name, message } = describe(error);
  process.stderr.write(`${JSON.stringify({ level: 'ERROR', message: 'Function init failed', function: functionName, errorName: name, errorMessage: message })}\n`);
  channel.postMessage({ type: 'init-error', error: describe(error) });
}

channel.on('message', async (message) => {
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
    channel.postMessage({ type: 'result', id, result });
  } catch (error) {
    channel.postMessage({ type: 'error', id, error: describe(error) });
  }
});
