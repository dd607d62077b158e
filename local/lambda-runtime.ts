/**
 * Lambda, as far as the local stack needs it: each function is bundled with the
 * stack's own esbuild options, and runs in instances (worker threads, each with
 * its own module state and environment) that take one invocation at a time. A
 * request that finds every instance busy gets a new instance (a cold start),
 * up to a concurrency limit; an invocation that outlives the function's timeout
 * kills its instance, as Lambda does.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { buildLazyFiles, esbuildOptions, lazyImports } from '../lib/bundling.js';
import { functionSpecs, type FunctionSpec } from '../lib/functions.js';
import type { FunctionName } from '../lambda/shared/routes.js';

const WORKER_URL = new URL('./lambda-worker.mjs', import.meta.url);

export type BundlePaths = Readonly<Record<FunctionName, string>>;

let bundling: Promise<BundlePaths> | undefined;

/**
 * Where bundles go: inside the project, so that the externals (the AWS SDK)
 * resolve from its node_modules as they resolve from the runtime on Lambda.
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

export interface FunctionPoolOptions {
  readonly spec: FunctionSpec;
  readonly bundlePath: string;
  readonly environment: Readonly<Record<string, string>>;
  /** Most instances alive at once; beyond, invocations wait for one to be free. */
  readonly maxInstances?: number;
  /** Where the instances' log lines go (one call per line). */
  readonly onLog?: (functionName: FunctionName, line: string) => void;
}

interface Instance {
  readonly worker: Worker;
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

  private startInstance(): Instance {
    const { spec, bundlePath, environment, onLog } = this.options;
    const worker = new Worker(WORKER_URL, {
      workerData: { bundlePath, functionName: spec.name, memoryMb: spec.memoryMb },
      env: {
        AWS_LAMBDA_FUNCTION_NAME: spec.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
        AWS_REGION: 'local',
        TZ: 'UTC',
        ...environment,
      },
      stdout: true,
      stderr: true,
    });
    const emit = (line: string) => (onLog ? onLog(spec.name, line) : process.stdout.write(`[${spec.name}] ${line}\n`));
    forwardLines(worker.stdout, emit);
    forwardLines(worker.stderr, emit);
    this.coldStarts += 1;

    let resolveReady!: (value: { ok: true } | { ok: false; message: string }) => void;
    const instance: Instance = { worker, busy: false, ready: new Promise((resolve) => (resolveReady = resolve)) };
    worker.on('message', (message: { type: string; id?: string; result?: unknown; error?: { name: string; message: string } }) => {
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
    worker.on('error', (error) => onGone(`instance crashed: ${error.message}`));
    worker.on('exit', (code) => onGone(`instance exited with code ${code}`));
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
      await instance.worker.terminate();
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
        void instance.worker.terminate();
      }, timeoutMs);
      instance.pendingId = id;
      instance.settle = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
      instance.worker.postMessage({ type: 'invoke', id, event, deadline, requestId });
    });
    if (this.instances.has(instance)) this.release(instance);
    else this.wakeOne();
    return outcome;
  }

  /** Retire every instance, as Lambda does after idling: the next invocation is a cold start. */
  async recycle(): Promise<void> {
    const retiring = [...this.instances];
    this.instances.clear();
    await Promise.all(retiring.map((instance) => instance.worker.terminate()));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all([...this.instances].map((instance) => instance.worker.terminate()));
    this.instances.clear();
  }
}
