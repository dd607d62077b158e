/**
 * Lambda, as far as the local stack needs it: each function is bundled with the
 * stack's own esbuild options, and runs in instances (each with its own module
 * state and environment) that take one invocation at a time. A request that
 * finds every instance busy gets a new instance (a cold start), up to a
 * concurrency limit; an invocation that outlives the function's timeout kills
 * its instance, as Lambda does.
 *
 * Instances run on Lambda's Node major (local/lambda-node.ts): as worker threads
 * when this process is on it (`npm run` puts the Node 22 of `npm ci` first on the
 * PATH), otherwise as child processes of that Node 22.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { buildLazyFiles, esbuildOptions, lazyImports } from '../lib/bundling.js';
import { functionSpecs, type FunctionSpec } from '../lib/functions.js';
import type { FunctionName } from '../lambda/shared/routes.js';
import { PINNED_NODE, runsOnLambdaNode, type InstanceRunner } from './lambda-node.js';

export type { InstanceRunner } from './lambda-node.js';

const WORKER_URL = new URL('./lambda-worker.mjs', import.meta.url);

export type BundlePaths = Readonly<Record<FunctionName, string>>;

let bundling: Promise<BundlePaths> | undefined;

/**
 * Where bundles go: inside the project, so that the externals (the tracer)
 * resolve from its node_modules as they resolve from the layer on Lambda.
 */
const BUNDLES_ROOT = fileURLToPath(new URL('../.local/bundles/', import.meta.url));

/** Bundle the four functions once per process (into a fresh folder of its own). */
export function buildBundles(): Promise<BundlePaths> {
  bundling ??= (async () => {
    mkdirSync(BUNDLES_ROOT, { recursive: true });
    const outDir = mkdtempSync(BUNDLES_ROOT);
    process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
    const entries = await Promise.all(
      Object.values(functionSpecs).map(async (spec) => {
        const outfile = join(outDir, spec.name, 'index.cjs');
        await build(esbuildOptions(spec.entry, outfile, lazyImports(spec.name)));
        // Its lazily loaded files, named as the entry requires them (.js): CommonJS here too, as on Lambda.
        writeFileSync(join(outDir, spec.name, 'package.json'), '{"type":"commonjs"}\n');
        await buildLazyFiles(spec.name, join(outDir, spec.name));
        return [spec.name, outfile] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<FunctionName, string>;
  })();
  return bundling;
}

export type InvocationOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly kind: 'error' | 'init_error' | 'timeout' | 'crash'; readonly message: string };

/** Threads when this process runs on Lambda's major (or no other Node is installed); else processes of the pinned one. */
export function defaultRunner(): InstanceRunner {
  return runsOnLambdaNode() || !existsSync(PINNED_NODE) ? 'thread' : 'process';
}

/** An instance as the pool drives it, whichever runner holds it. */
interface InstanceChannel {
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  post(message: unknown): void;
  onMessage(listener: (message: any) => void): void;
  onError(listener: (error: Error) => void): void;
  onExit(listener: (code: number | null) => void): void;
  terminate(): Promise<void>;
}

interface InstanceData {
  readonly bundlePath: string;
  readonly functionName: FunctionName;
  readonly memoryMb: number;
}

function threadInstance(data: InstanceData, env: Record<string, string>): InstanceChannel {
  const worker = new Worker(WORKER_URL, { workerData: data, env, stdout: true, stderr: true });
  return {
    stdout: worker.stdout,
    stderr: worker.stderr,
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => void worker.on('message', listener),
    onError: (listener) => void worker.on('error', listener),
    onExit: (listener) => void worker.on('exit', listener),
    terminate: async () => void (await worker.terminate()),
  };
}

function processInstance(data: InstanceData, env: Record<string, string>): InstanceChannel {
  // The function's environment only, and no loader flags of this process: the bundle is plain JavaScript, as on Lambda.
  const child = fork(fileURLToPath(WORKER_URL), [JSON.stringify(data)], {
    execPath: PINNED_NODE,
    execArgv: [],
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    stdout: child.stdout!,
    stderr: child.stderr!,
    post: (message) => void child.send(message as never),
    onMessage: (listener) => void child.on('message', listener),
    onError: (listener) => void child.on('error', listener),
    onExit: (listener) => void child.on('exit', (code) => listener(code)),
    terminate: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface FunctionPoolOptions {
  readonly spec: FunctionSpec;
  readonly bundlePath: string;
  readonly environment: Readonly<Record<string, string>>;
  /** Most instances alive at once; beyond, invocations wait for one to be free. */
  readonly maxInstances?: number;
  /** Where the instances' log lines go (one call per line). */
  readonly onLog?: (functionName: FunctionName, line: string) => void;
  /** Default: `defaultRunner()`. */
  readonly runner?: InstanceRunner;
}

interface Instance {
  readonly channel: InstanceChannel;
  readonly ready: Promise<{ ok: true } | { ok: false; message: string }>;
  busy: boolean;
  settle?: (outcome: InvocationOutcome) => void;
  pendingId?: string;
}

function forwardLines(stream: NodeJS.ReadableStream, emit: (line: string) => void) {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      emit(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  });
  stream.on('end', () => {
    if (buffer) emit(buffer);
  });
}

export class FunctionPool {
  private readonly instances = new Set<Instance>();
  private readonly waiting: Array<() => void> = [];
  private closed = false;
  /** How many instances were ever started: each one is a cold start. */
  coldStarts = 0;

  constructor(private readonly options: FunctionPoolOptions) {}

  get name(): FunctionName {
    return this.options.spec.name;
  }

  /** Where this pool's instances run. */
  get runner(): InstanceRunner {
    return this.options.runner ?? defaultRunner();
  }

  private startInstance(): Instance {
    const { spec, bundlePath, environment, onLog } = this.options;
    const data = { bundlePath, functionName: spec.name, memoryMb: spec.memoryMb };
    const env = {
      AWS_LAMBDA_FUNCTION_NAME: spec.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
      AWS_REGION: 'local',
      TZ: 'UTC',
      ...environment,
    };
    const channel = this.runner === 'process' ? processInstance(data, env) : threadInstance(data, env);
    const emit = (line: string) => (onLog ? onLog(spec.name, line) : process.stdout.write(`[${spec.name}] ${line}\n`));
    forwardLines(channel.stdout, emit);
    forwardLines(channel.stderr, emit);
    this.coldStarts += 1;

    let resolveReady!: (value: { ok: true } | { ok: false; message: string }) => void;
    const instance: Instance = { channel, busy: false, ready: new Promise((resolve) => (resolveReady = resolve)) };
    channel.onMessage((message: { type: string; id?: string; result?: unknown; error?: { name: string; message: string } }) => {
      if (message.type === 'ready') resolveReady({ ok: true });
      else if (message.type === 'init-error') resolveReady({ ok: false, message: message.error?.message ?? 'init failed' });
      else if ((message.type === 'result' || message.type === 'error') && message.id === instance.pendingId) {
        const settle = instance.settle;
        instance.settle = undefined;
        instance.pendingId = undefined;
        settle?.(
          message.type === 'result'
            ? { ok: true, result: message.result }
            : { ok: false, kind: 'error', message: message.error?.message ?? 'error' },
        );
      }
    });
    const onGone = (message: string) => {
      resolveReady({ ok: false, message });
      this.instances.delete(instance);
      const settle = instance.settle;
      instance.settle = undefined;
      settle?.({ ok: false, kind: 'crash', message });
      this.wakeOne();
    };
    channel.onError((error) => onGone(`instance crashed: ${error.message}`));
    channel.onExit((code) => onGone(`instance exited with code ${code}`));
    this.instances.add(instance);
    return instance;
  }

  private wakeOne() {
    this.waiting.shift()?.();
  }

  private async acquire(): Promise<Instance> {
    for (;;) {
      if (this.closed) throw new Error('The local stack is shutting down');
      const idle = [...this.instances].find((instance) => !instance.busy);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (this.instances.size < (this.options.maxInstances ?? 10)) {
        const fresh = this.startInstance();
        fresh.busy = true;
        return fresh;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(instance: Instance) {
    instance.busy = false;
    this.wakeOne();
  }

  /** Invoke the function with an event, as Lambda's synchronous Invoke does. */
  async invoke(event: unknown, requestId: string = randomUUID()): Promise<InvocationOutcome> {
    const instance = await this.acquire();
    const ready = await instance.ready;
    if (!ready.ok) {
      // Like Lambda after a failed init: this sandbox is discarded; the next invocation starts another.
      this.instances.delete(instance);
      await instance.channel.terminate();
      this.wakeOne();
      return { ok: false, kind: 'init_error', message: ready.message };
    }
    const timeoutMs = this.options.spec.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const id = randomUUID();
    const outcome = await new Promise<InvocationOutcome>((resolve) => {
      const timer = setTimeout(() => {
        instance.settle = undefined;
        resolve({ ok: false, kind: 'timeout', message: `Task timed out after ${this.options.spec.timeoutSeconds} seconds` });
        this.instances.delete(instance);
        void instance.channel.terminate();
      }, timeoutMs);
      instance.pendingId = id;
      instance.settle = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
      instance.channel.post({ type: 'invoke', id, event, deadline, requestId });
    });
    if (this.instances.has(instance)) this.release(instance);
    else this.wakeOne();
    return outcome;
  }

  /** Retire every instance, as Lambda does after idling: the next invocation is a cold start. */
  async recycle(): Promise<void> {
    const retiring = [...this.instances];
    this.instances.clear();
    await Promise.all(retiring.map((instance) => instance.channel.terminate()));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all([...this.instances].map((instance) => instance.channel.terminate()));
    this.instances.clear();
  }
}
