/**
 * Warm tool calls, as a deployed instance serves them: the MCP bundle `cdk synth`
 * uploads, through its handler, with each configuration's environment (quotas
 * and the result cache off, the cache alone as deployed, quotas alone, both),
 * Tavily, SSM and the usage table on loopback (bench/upstreams.ts). One process
 * per configuration (bench/tool-call-child.mjs); the configurations take turns,
 * batch after batch, so that all see the machine in the same state. Beside them,
 * the same search sent to Tavily with `fetch` alone: what a call costs above it
 * is what the function adds.
 *
 * Per case: wall time per call, the function process's CPU per call, calls per
 * second, and from a few traced calls the DynamoDB requests and their sequential
 * phases (before Tavily, and in all), read from the child's own HTTP client events.
 *
 * Runs inside `npm run bench`, or alone: `npx tsx bench/usage.ts`. dynalite is
 * not DynamoDB: it does a few ms of work per request, in the bench's process;
 * DynamoDB answers in a few ms in-region. Requests and phases are the figures
 * that carry over; the times are this machine's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_HOST } from './bundles.js';
import { lambdaEnvironment, startIpcChild, type IpcChild } from './child.js';
import { mcpToolCallEvent, RUN_MARKER, type Expectation } from './events.js';
import { setUp, type BenchSetup } from './setup.js';
import { summarize } from './stats.js';
import { storeProfile, type StoreProfile, type UpstreamRequest } from './upstreams.js';

const CHILD = new URL('./tool-call-child.mjs', import.meta.url);
const ROUNDS = Number(process.env.BENCH_TOOL_CALL_ROUNDS ?? 15);
const BATCH = 20;
const WARMUP = 30;
const TRACED = 5;

export interface ToolCallCase {
  readonly name: string;
  readonly configuration: string;
  readonly calls: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  /** Median minus the fetch-alone median: what the function adds to Tavily's round trip. */
  readonly aboveFetchMs: number;
  /** The function process's CPU (user + system) per call, median. */
  readonly cpuMs: number;
  readonly perSecond: number;
  /** From the traced calls (the most of each figure among them); absent for the reference. */
  readonly store?: StoreProfile;
}

export interface ToolCallResults {
  readonly rounds: number;
  readonly cases: readonly ToolCallCase[];
  readonly loadAverage: { readonly start: number; readonly end: number };
  readonly note: string;
}

/** One process: an environment of the MCP function, and the cases it serves. */
interface Configuration {
  readonly name: string;
  /** Undefined: the reference process, which loads no bundle. */
  readonly variables?: Record<string, string>;
  readonly cases: ReadonlyArray<{ readonly name: string; readonly spec: object }>;
}

interface CallsAnswer {
  readonly wallUs: number[];
  readonly cpuUs: number[];
  readonly batchUs: number;
  readonly upstreams?: UpstreamRequest[][];
}

/** The configurations compared, as names for the report's rows. */
export const TOOL_CALL_CASES = {
  fetch: 'Tavily round trip, fetch alone',
  off: 'quotas and cache off',
  cacheMiss: 'cache on (as deployed), miss',
  cacheHit: 'cache on (as deployed), hit',
  quotas: 'quotas on, cache off',
  bothMiss: 'quotas and cache on, miss',
  bothHit: 'quotas and cache on, hit',
} as const;

function configurations(setup: BenchSetup): Configuration[] {
  const { token, caller } = setup.mcpCaller;
  const expect: Expectation = { kind: 'proxy', statusCode: 200, bodyIncludes: '"structuredContent"' };
  const miss = (name: string) => ({ name, spec: { name, event: mcpToolCallEvent(API_HOST, token, caller, `warm ${RUN_MARKER}`), expect } });
  const hit = (name: string, query: string) => ({ name, spec: { name, event: mcpToolCallEvent(API_HOST, token, caller, query), expect } });
  const { deployed, quotas } = setup.mcpEnvironments;
  const tavily = setup.upstreams.tavily;
  return [
    {
      name: 'reference',
      cases: [
        {
          name: TOOL_CALL_CASES.fetch,
          spec: { name: TOOL_CALL_CASES.fetch, fetch: { url: `${tavily.url}/search`, key: tavily.apiKey, body: { query: 'warm fetch', max_results: 5 } } },
        },
      ],
    },
    { name: 'off', variables: { ...deployed, CACHE_TTL_SECONDS: '0' }, cases: [miss(TOOL_CALL_CASES.off)] },
    { name: 'cache', variables: deployed, cases: [miss(TOOL_CALL_CASES.cacheMiss), hit(TOOL_CALL_CASES.cacheHit, 'the same question')] },
    { name: 'quotas', variables: { ...quotas, CACHE_TTL_SECONDS: '0' }, cases: [miss(TOOL_CALL_CASES.quotas)] },
    { name: 'both', variables: quotas, cases: [miss(TOOL_CALL_CASES.bothMiss), hit(TOOL_CALL_CASES.bothHit, 'the same question again')] },
  ];
}

/** The most of each figure over the traced calls: a budget on them holds for every call. */
function worstProfile(profiles: readonly StoreProfile[]): StoreProfile {
  const most = (pick: (profile: StoreProfile) => number) => profiles.reduce((max, profile) => (pick(profile) > pick(max) ? profile : max));
  const byRequests = most((profile) => profile.dynamoDbRequests);
  return {
    ...byRequests,
    phases: Math.max(...profiles.map((profile) => profile.phases)),
    phasesBeforeTavily: Math.max(...profiles.map((profile) => profile.phasesBeforeTavily)),
    ssmRequests: Math.max(...profiles.map((profile) => profile.ssmRequests)),
    tavilyRequests: Math.max(...profiles.map((profile) => profile.tavilyRequests)),
  };
}

export async function measureToolCalls(setup: BenchSetup, workDir: string): Promise<ToolCallResults> {
  const start = loadavg()[0]!;
  const mcp = setup.functions.mcp;
  const running: Array<{ configuration: Configuration; child: IpcChild }> = [];
  try {
    for (const configuration of configurations(setup)) {
      const file = join(workDir, `tool-calls-${configuration.name}.json`);
      writeFileSync(file, JSON.stringify({ bundle: configuration.variables ? mcp.path : undefined }));
      const environment = lambdaEnvironment('mcp', mcp.memoryMb, configuration.variables ?? setup.mcpEnvironments.deployed);
      running.push({ configuration, child: await startIpcChild(CHILD, file, environment) });
    }
    const calls = (child: IpcChild, spec: object, count: number, trace = false) =>
      child.request<CallsAnswer>({ kind: 'calls', case: spec, calls: count, trace });

    for (const { configuration, child } of running) for (const each of configuration.cases) await calls(child, each.spec, WARMUP);
    const samples = new Map<string, { wallUs: number[]; cpuUs: number[]; batchUs: number }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const { configuration, child } of running) {
        for (const each of configuration.cases) {
          const answer = await calls(child, each.spec, BATCH);
          const sample = samples.get(each.name) ?? { wallUs: [], cpuUs: [], batchUs: 0 };
          sample.wallUs.push(...answer.wallUs);
          sample.cpuUs.push(...answer.cpuUs);
          sample.batchUs += answer.batchUs;
          samples.set(each.name, sample);
        }
      }
    }
    const profiles = new Map<string, StoreProfile>();
    for (const { configuration, child } of running) {
      if (!configuration.variables) continue;
      for (const each of configuration.cases) {
        const answer = await calls(child, each.spec, TRACED, true);
        profiles.set(each.name, worstProfile(answer.upstreams!.map(storeProfile)));
      }
    }

    const fetchMs = summarize(samples.get(TOOL_CALL_CASES.fetch)!.wallUs).median / 1000;
    const cases = running.flatMap(({ configuration }) =>
      configuration.cases.map((each): ToolCallCase => {
        const sample = samples.get(each.name)!;
        const sorted = [...sample.wallUs].sort((a, b) => a - b);
        const medianMs = summarize(sample.wallUs).median / 1000;
        const store = profiles.get(each.name);
        return {
          name: each.name,
          configuration: configuration.name,
          calls: sample.wallUs.length,
          medianMs,
          p90Ms: sorted[Math.floor(sorted.length * 0.9)]! / 1000,
          aboveFetchMs: medianMs - fetchMs,
          cpuMs: summarize(sample.cpuUs).median / 1000,
          perSecond: sample.wallUs.length / (sample.batchUs / 1e6),
          ...(store ? { store } : {}),
        };
      }),
    );
    return {
      rounds: ROUNDS,
      cases,
      loadAverage: { start, end: loadavg()[0]! },
      note:
        'dynalite (the usage table) runs in the bench process on loopback and does a few ms of work per request; DynamoDB answers in a few ms in-region. ' +
        'Requests and phases carry over; times are this machine\'s.',
    };
  } finally {
    await Promise.all(running.map(({ child }) => child.close()));
  }
}

const ms = (value: number) => `${value.toFixed(2)} ms`;

export function formatToolCallReport(results: ToolCallResults): string {
  const rows = [['warm tools/call (web_search)', 'median', 'above fetch', 'p90', 'CPU/call', 'calls/s', 'DynamoDB requests', 'store phases (before Tavily)', 'round trips, in order (+: at once)']];
  for (const each of results.cases) {
    const store = each.store;
    rows.push([
      each.name,
      ms(each.medianMs),
      store ? ms(each.aboveFetchMs) : '',
      ms(each.p90Ms),
      ms(each.cpuMs),
      Math.round(each.perSecond).toLocaleString('en-US'),
      store ? String(store.dynamoDbRequests) : '',
      store ? `${store.phases} (${store.phasesBeforeTavily})` : '',
      store ? store.sequence.map((phase) => phase.join(' + ')).join(' → ') : '',
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const right = new Set([1, 2, 3, 4, 5, 6, 7]);
  const table = rows.map((row) => row.map((cell, column) => (right.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd());
  return [
    `Warm tools/call through the MCP bundle's handler, configurations alternating (${results.rounds} rounds of batches; load ${results.loadAverage.start.toFixed(2)} → ${results.loadAverage.end.toFixed(2)}):`,
    ...table,
    `(above fetch = median − the fetch-alone median; CPU = the function process's user + system time per call; requests and phases from ${TRACED} traced calls, the most of each; ${results.note})`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const workDir = mkdtempSync(join(tmpdir(), 'bench-tool-calls-'));
  setUp(workDir)
    .then(async (setup) => {
      try {
        process.stdout.write(`${formatToolCallReport(await measureToolCalls(setup, workDir))}\n`);
      } finally {
        await setup.close();
      }
    })
    .catch((error: unknown) => {
      process.stderr.write(`bench: could not measure tool calls: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    })
    .finally(() => rmSync(workDir, { recursive: true, force: true }));
}
