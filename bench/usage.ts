/**
 * What quotas and the result cache add to a tool call: the usage guard's
 * DynamoDB round trips (dynalite on loopback, through the real AWS SDK) around
 * the real web_search tool calling the fake Tavily over loopback HTTP, beside
 * the same call without them, and beside a cache hit.
 *
 * Runs inside `npm run bench`, or alone: `npx tsx bench/usage.ts`. dynalite is
 * not DynamoDB: its figures are its own (pure JS, a few ms of work per request,
 * one request at a time); DynamoDB in the function's region answers in a few ms,
 * and answers the guard's parallel updates in parallel.
 */
import { createUsageGuard, type AroundToolCall, type ToolCallResult } from '../lambda/mcp/quota/usage-guard.js';
import { createDynamoUsageStore } from '../lambda/mcp/quota/usage-store.js';
import { createTavilyClient, type TavilyClient } from '../lambda/mcp/tavily.js';
import webSearch from '../lambda/mcp/tools/web-search.js';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { createTableInput } from '../lambda/mcp/quota/usage-table.js';
import { startFakeTavily } from '../test/fixtures/fake-tavily.js';
import { summarize } from './stats.js';

export interface UsageCase {
  readonly name: string;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly calls: number;
}

export interface UsageResults {
  readonly cases: readonly UsageCase[];
  /** Quotas and cache on, a miss, minus the same call without them. */
  readonly addedByQuotasAndCacheMs: number;
  readonly note: string;
}

/**
 * dynalite in a process of its own, as `npm run dev` has it beside the functions' worker threads:
 * in the bench's own process its per-request work (several ms of CPU) would stall the caller's event loop.
 */
async function startDynaliteProcess() {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const cli = createRequire(import.meta.url).resolve('dynalite/cli.js');
  const child = spawn(process.execPath, [cli, '--host', '127.0.0.1', '--port', String(port), '--createTableMs', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`dynalite exited (${code})`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const tableName = 'bench-usage';
  const { DynamoDBClient, CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  client.destroy();
  return {
    endpoint,
    tableName,
    close: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

const CALLS = Number(process.env.BENCH_USAGE_CALLS ?? 300);
const WARMUP = 50;
const NO_LIMIT = 1_000_000_000;

export async function measureUsageCosts(): Promise<UsageResults> {
  const tavilyFake = await startFakeTavily();
  const store = await startDynaliteProcess();
  try {
    const tavily = createTavilyClient({ baseUrl: tavilyFake.url, apiKey: async () => tavilyFake.apiKey });
    const caller = { sub: 'usr_bench', clientId: 'client-bench' };
    const callTool = (client: TavilyClient, query: string): Promise<ToolCallResult> =>
      webSearch
        .run(webSearch.input.parse({ query }), { tavily: client, deadline: Date.now() + 20_000, signal: new AbortController().signal })
        .then((result) => ({ content: [{ type: 'text', text: webSearch.render(result) }], structuredContent: result as Record<string, unknown> }));
    const guard = (limits: boolean, cacheTtl: number): AroundToolCall =>
      createUsageGuard({
        store: createDynamoUsageStore({ tableName: store.tableName, endpoint: store.endpoint }),
        limits: limits
          ? { callsPerMinute: NO_LIMIT, creditsPerDay: NO_LIMIT, creditsPerDayTotal: NO_LIMIT, overrides: [], onStoreError: 'deny' }
          : { callsPerMinute: 0, creditsPerDay: 0, creditsPerDayTotal: 0, overrides: [], onStoreError: 'deny' },
        cache: { ttlSeconds: cacheTtl, newsTtlSeconds: 60, scope: 'shared' },
      });
    let counter = 0;
    const guarded = (around: AroundToolCall, query: () => string) => () => {
      const text = query();
      return around({ tool: webSearch, args: webSearch.input.parse({ query: text }), caller, deadline: Date.now() + 20_000, tavily }, (client) =>
        callTool(client, text),
      );
    };

    const cases: Array<[string, () => Promise<unknown>]> = [
      ['tool call, fake Tavily round trip (no quotas, no cache)', () => callTool(tavily, `plain ${counter++}`)],
      ['+ quotas (calls/min, credits/day per caller and total)', guarded(guard(true, 0), () => `quotas ${counter++}`)],
      ['+ quotas and cache, a miss (lookup, counters, store)', guarded(guard(true, 600), () => `miss ${counter++}`)],
      ['cache hit (calls/min counted, no Tavily)', guarded(guard(true, 600), () => 'the same question')],
      ['cache hit, cache only (no quotas)', guarded(guard(false, 600), () => 'the same question again')],
    ];
    const results: UsageCase[] = [];
    for (const [name, call] of cases) {
      for (let i = 0; i < WARMUP; i++) await call();
      const times: number[] = [];
      for (let i = 0; i < CALLS; i++) {
        const started = process.hrtime.bigint();
        const result = (await call()) as ToolCallResult;
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (result.isError) throw new Error(`${name}: the call failed: ${JSON.stringify(result.content).slice(0, 200)}`);
      }
      const sorted = [...times].sort((a, b) => a - b);
      results.push({ name, medianMs: summarize(times).median, p90Ms: sorted[Math.floor(sorted.length * 0.9)]!, calls: CALLS });
    }
    return {
      cases: results,
      addedByQuotasAndCacheMs: results[2]!.medianMs - results[0]!.medianMs,
      note: 'dynalite, in its own process on loopback, does a few ms of work per request, one at a time; DynamoDB answers in a few ms in-region, the guard\'s parallel updates in parallel: two batches, plus the cache write on a miss',
    };
  } finally {
    await store.close();
    await tavilyFake.close();
  }
}

export function formatUsageReport(usage: UsageResults): string {
  const width = Math.max(...usage.cases.map((each) => each.name.length));
  return [
    'Quotas and result cache (web_search; median and p90 per call):',
    ...usage.cases.map((each) => `  ${each.name.padEnd(width)}  ${each.medianMs.toFixed(2).padStart(7)} ms  p90 ${each.p90Ms.toFixed(2).padStart(7)} ms`),
    `  added by quotas and cache on a miss: ${usage.addedByQuotasAndCacheMs.toFixed(2)} ms (${usage.note})`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  measureUsageCosts()
    .then((usage) => process.stdout.write(`${formatUsageReport(usage)}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`bench: could not measure quotas and cache: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    });
}
