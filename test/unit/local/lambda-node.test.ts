/**
 * Lambda's Node major, locally (local/lambda-node.ts): `npm ci` installs it,
 * and the suite itself, started by `npm test`, runs on it, as the function
 * instances of every local stack in it do (worker threads of this process).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { LAMBDA_RUNTIME } from '../../../lib/bundling.js';
import { functionNodeNote, LAMBDA_NODE_MAJOR, PINNED_NODE, runsOnLambdaNode } from '../../../local/lambda-node.js';

test("the major is read from the functions' runtime", () => {
  expect(LAMBDA_RUNTIME).toBe(`nodejs${LAMBDA_NODE_MAJOR}.x`);
  expect(runsOnLambdaNode(`${LAMBDA_NODE_MAJOR}.1.0`)).toBe(true);
  expect(runsOnLambdaNode(`${LAMBDA_NODE_MAJOR - 2}.20.2`)).toBe(false);
});

test('npm ci installed it where npm run finds it first', () => {
  expect(existsSync(PINNED_NODE)).toBe(true);
  expect(execFileSync(PINNED_NODE, ['--version'], { encoding: 'utf8' })).toMatch(new RegExp(`^v${LAMBDA_NODE_MAJOR}\\.`));
});

test('the test suite and a worker thread (a local Lambda instance) run on it', async () => {
  expect(process.versions.node.split('.')[0]).toBe(String(LAMBDA_NODE_MAJOR));
  const worker = new Worker('require("node:worker_threads").parentPort.postMessage(process.versions.node)', { eval: true });
  const version = await new Promise<string>((resolve, reject) => worker.once('message', resolve).once('error', reject));
  await worker.terminate();
  expect(runsOnLambdaNode(version)).toBe(true);
});

test("the banner's note names the Node the instances run on, and what to do when it is not Lambda's", () => {
  expect(functionNodeNote('thread', `${LAMBDA_NODE_MAJOR}.23.2`)).toBe(`Node ${LAMBDA_NODE_MAJOR}.23.2, as Lambda's ${LAMBDA_RUNTIME}`);
  expect(functionNodeNote('thread', '20.20.2')).toBe(`Node 20.20.2, NOT Lambda's ${LAMBDA_RUNTIME}: start it with npm run (which puts ${PINNED_NODE} first on the PATH)`);
  expect(functionNodeNote('process', '20.20.2')).toMatch(
    new RegExp(`^Node ${LAMBDA_NODE_MAJOR}\\.\\d+\\.\\d+, as Lambda's ${LAMBDA_RUNTIME} \\(child processes of .+; this process runs Node 20\\.20\\.2\\)$`),
  );
});
