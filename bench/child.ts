/**
 * Child processes of the benchmark: plain `node` (no TypeScript loader, none of
 * this process's NODE_OPTIONS), an environment like a Lambda instance's, and a
 * JSON report read from file descriptor 3, the function's logs (stdout, stderr)
 * on pipes that are read, as Lambda's runtime reads them, and, when `taskset`
 * is present, pinned to one core (Lambda's fraction of a vCPU is nearer one core
 * than two). BENCH_PIN=0 turns the pinning off.
 */
import { spawn, spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

let childNode: { path: string; version: string; note?: string } | undefined;

/**
 * The Node binary the children run: the major version of the Lambda runtime
 * (nodejs22.x), so that what is measured is what Lambda runs. BENCH_NODE names
 * one; otherwise npx fetches the `node@22` package (cached after the first time).
 * If that fails, this process's own Node, said so in the report.
 */
export function benchNode(): { path: string; version: string; note?: string } {
  if (childNode) return childNode;
  const versionOf = (path: string) => spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const requested = process.env.BENCH_NODE;
  if (requested) return (childNode = { path: requested, version: versionOf(requested) });
  if (process.version.startsWith('v22.')) return (childNode = { path: process.execPath, version: process.version });
  const found = spawnSync('npx', ['-y', '-p', 'node@22', 'node', '-p', 'process.execPath'], { encoding: 'utf8', timeout: 180_000 });
  const path = found.status === 0 ? found.stdout.trim().split('\n').pop()! : '';
  if (path && versionOf(path).startsWith('v22.')) return (childNode = { path, version: versionOf(path) });
  return (childNode = {
    path: process.execPath,
    version: process.version,
    note: `Node 22 could not be had (npx -p node@22 failed); children ran on ${process.version}, not Lambda's major version`,
  });
}

let pinning: { command: string[]; note: string } | undefined;

/** `taskset -c 0` when present (and BENCH_PIN is not 0): what every child is started under. */
export function cpuPinning(): { command: string[]; note: string } {
  if (pinning) return pinning;
  if (process.env.BENCH_PIN === '0') return (pinning = { command: [], note: 'not pinned (BENCH_PIN=0)' });
  const found = spawnSync('taskset', ['-c', '0', 'true'], { encoding: 'utf8' });
  return (pinning =
    found.status === 0 ? { command: ['taskset', '-c', '0'], note: 'children pinned to core 0 (taskset -c 0)' } : { command: [], note: 'not pinned (no taskset)' });
}

/** A Node binary by major version, from npx's cache (`npx -y -p node@N`); undefined when it cannot be had. */
export function nodeBinary(major: number): { path: string; version: string } | undefined {
  if (process.version.startsWith(`v${major}.`)) return { path: process.execPath, version: process.version };
  const found = spawnSync('npx', ['-y', '-p', `node@${major}`, 'node', '-p', 'process.execPath'], { encoding: 'utf8', timeout: 180_000 });
  const path = found.status === 0 ? found.stdout.trim().split('\n').pop()! : '';
  const version = path ? (spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '') : '';
  return version.startsWith(`v${major}.`) ? { path, version } : undefined;
}

/** The environment Lambda's Node.js runtime gives a function, plus the function's own variables. */
export function lambdaEnvironment(
  functionName: string,
  memoryMb: number,
  variables: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    // Stands in for the runtime's /var/runtime/node_modules, where the external AWS SDK comes from.
    NODE_PATH: fileURLToPath(new URL('../node_modules', import.meta.url)),
    ...variables,
  };
}

export interface ChildOutcome<Report> {
  readonly report: Report;
  /** From just before spawn to the process's exit, as seen by this process. */
  readonly wallMs: number;
}

export function runChild<Report>(
  script: URL,
  specFile: string,
  environment: Record<string, string>,
  nodeOptions: readonly string[] = [],
  node: string = benchNode().path,
): Promise<ChildOutcome<Report>> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const [command, ...prefix] = [...cpuPinning().command, node];
    const child = spawn(command!, [...prefix, ...nodeOptions, fileURLToPath(script), specFile], {
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let output = '';
    // The function's log lines: read as they come (a pipe nobody reads would block the writer once full).
    child.stdout!.on('data', () => {});
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    let wallMs = 0;
    child.on('exit', () => (wallMs = Number(process.hrtime.bigint() - started) / 1e6));
    child.on('error', reject);
    child.on('close', (code) => {
      const what = `${basename(fileURLToPath(script))} ${basename(specFile)}`;
      if (!output) return reject(new Error(`${what} exited with ${code} and no report.\n${stderr}`));
      const report = JSON.parse(output) as Report & { error?: string };
      if (report.error) return reject(new Error(`${what}: ${report.error}\n${stderr}`));
      resolve({ report, wallMs });
    });
  });
}

/** Wall time of `node -e ""`: what any Node process costs before a line of ours runs. */
export function bareNodeStart(node: string = benchNode().path): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const [command, ...prefix] = [...cpuPinning().command, node];
    const child = spawn(command!, [...prefix, '-e', ''], { env: { PATH: process.env.PATH ?? '' }, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`node -e "" exited with ${code}`)),
    );
  });
}

/** A child that takes requests over IPC, one at a time (bench/tool-call-child.mjs). */
export interface IpcChild {
  /** Send a message and wait for the child's one answer to it. */
  request<Answer>(message: unknown): Promise<Answer>;
  close(): Promise<void>;
}

/**
 * Start `script` with `specFile` as an IPC child: plain `node` (Lambda's major), pinned as the
 * others, the function's logs on pipes that are read. Resolves once the child says it is ready.
 */
export function startIpcChild(script: URL, specFile: string, environment: Record<string, string>): Promise<IpcChild> {
  return new Promise((resolve, reject) => {
    const [command, ...prefix] = [...cpuPinning().command, benchNode().path];
    const child = spawn(command!, [...prefix, fileURLToPath(script), specFile], { env: environment, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stderr = '';
    child.stdout!.on('data', () => {});
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    let waiting: { resolve: (answer: never) => void; reject: (error: Error) => void } | undefined;
    const what = `${basename(fileURLToPath(script))} ${basename(specFile)}`;
    child.on('exit', (code) => {
      const error = new Error(`${what} exited with ${code}.\n${stderr}`);
      if (waiting) waiting.reject(error);
      else reject(error);
      waiting = undefined;
    });
    child.on('message', (message: { ok: boolean; ready?: boolean; error?: string }) => {
      if (message.ready) {
        resolve({
          request: <Answer>(request: unknown) =>
            new Promise<Answer>((resolveAnswer, rejectAnswer) => {
              waiting = { resolve: resolveAnswer as (answer: never) => void, reject: rejectAnswer };
              child.send(request as object);
            }),
          close: () =>
            new Promise<void>((done) => {
              child.removeAllListeners('exit');
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.send({ kind: 'exit' });
            }),
        });
        return;
      }
      const pending = waiting;
      waiting = undefined;
      if (!message.ok) pending?.reject(new Error(`${what}: ${message.error}\n${stderr}`));
      else pending?.resolve(message as never);
    });
  });
}
