/**
 * The Node that Lambda runs the functions on, locally. `npm ci` installs it
 * (the optional `node-<platform>-<arch>` packages in package.json ship the
 * binary in their tarball), and npm puts node_modules/.bin first on the PATH of
 * every script, so `npm run dev`, `npm test` and the scripts run on it, and the
 * function instances with them (worker threads of that process), whatever Node
 * started npm. A stack started on another Node runs its instances as child
 * processes of this one (local/lambda-runtime.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LAMBDA_RUNTIME } from '../lib/bundling.js';

/** The major version of Lambda's runtime (`nodejs22.x`: 22). */
export const LAMBDA_NODE_MAJOR = Number(/^nodejs(\d+)\.x$/.exec(LAMBDA_RUNTIME)?.[1]);

/** The binary `npm ci` installed, where npm links it. */
export const PINNED_NODE = fileURLToPath(new URL(`../node_modules/.bin/${process.platform === 'win32' ? 'node.exe' : 'node'}`, import.meta.url));

export const runsOnLambdaNode = (version: string = process.versions.node) => Number(version.split('.')[0]) === LAMBDA_NODE_MAJOR;

/** Where a function instance runs: a worker thread of this process, or a child process of the pinned Node. */
export type InstanceRunner = 'thread' | 'process';

/** One line for the banner: the Node the function instances run on, and, when it is not Lambda's, what to do. */
export function functionNodeNote(runner: InstanceRunner = 'thread', version: string = process.versions.node): string {
  if (runner === 'process') {
    const pinned = execFileSync(PINNED_NODE, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
    return `Node ${pinned}, as Lambda's ${LAMBDA_RUNTIME} (child processes of ${PINNED_NODE}; this process runs Node ${version})`;
  }
  if (runsOnLambdaNode(version)) return `Node ${version}, as Lambda's ${LAMBDA_RUNTIME}`;
  const fix = existsSync(PINNED_NODE)
    ? `start it with npm run (which puts ${PINNED_NODE} first on the PATH)`
    : `run npm ci (it installs Node ${LAMBDA_NODE_MAJOR} for this platform, where one is published)`;
  return `Node ${version}, NOT Lambda's ${LAMBDA_RUNTIME}: ${fix}`;
}
