/**
 * Cold starts: each run is a fresh `node` process that loads one bundle and
 * serves its first request(s) (bench/cold-start-child.mjs). Targets take turns,
 * round after round, so that a slow spell of the machine spreads over all of them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Invocation } from './events.js';
import { bareNodeStart, runChild } from './child.js';
import { summarize, type Summary } from './stats.js';
import { storeProfile, type StoreProfile, type UpstreamRequest } from './upstreams.js';

const CHILD = new URL('./cold-start-child.mjs', import.meta.url);

export interface ColdTarget {
  readonly name: string;
  readonly bundle: string;
  readonly environment: Record<string, string>;
  readonly invocations: readonly Invocation[];
  /** The Node binary to run it on (default: the bench's, Lambda's major). */
  readonly node?: string;
  /** Record each invocation's requests to Tavily, SSM and DynamoDB (bench/upstream-trace.mjs). */
  readonly traceUpstreams?: boolean;
}

/** What the child measures, in milliseconds (maxRssKb aside). */
interface ChildReport {
  readonly bootMs: number;
  readonly importMs: number;
  readonly requestsMs: readonly number[];
  readonly coldMs: number;
  readonly cpuMs: number;
  readonly maxRssKb: number;
  readonly resourceUsageMaxRssKb: number;
  readonly notServed?: string;
  readonly upstreams?: readonly (readonly UpstreamRequest[])[];
}

export interface ColdStartResult {
  readonly runs: number;
  /** Node's own start: process start to the child's first line. */
  readonly bootMs: Summary;
  /** Loading the bundle: from require() to the handler in hand. */
  readonly importMs: Summary;
  /** Each first request on its own, in order (e.g. initialize, tools/list). */
  readonly requestsMs: readonly { readonly label: string; readonly ms: Summary }[];
  /** Each run's request times, in order: for figures over several requests. */
  readonly requestsRuns: readonly (readonly number[])[];
  /** Import plus the first request(s): the figure above Node's boot, which the budgets use. */
  readonly coldMs: Summary;
  /** Each run's coldMs, in round order (round i of every target ran back to back): for pairing targets. */
  readonly coldMsRuns: readonly number[];
  /** The process's CPU time (user + system, Node's boot included) to its last answer. */
  readonly cpuMs: Summary;
  /** Process start to the first answer(s): Node's boot plus coldMs, so that neither hides the other. */
  readonly startToAnswerMs: Summary;
  /** The request this bundle cannot serve (answered with the case's not-served status), if any: then n/a. */
  readonly notServed?: string;
  /** The whole process, spawn to exit, from the parent. */
  readonly wallMs: Summary;
  /** Peak resident memory of the process (VmHWM, in MB). */
  readonly peakRssMb: Summary;
  /** process.resourceUsage().maxRSS in MB: on Linux it includes the spawning parent's size, as execve keeps it. */
  readonly resourceUsageMaxRssMb: Summary;
  /** With `traceUpstreams`: each invocation's requests to the upstreams, in the last run. */
  readonly upstreams?: readonly { readonly label: string; readonly profile: StoreProfile }[];
}

export async function measureColdStarts(
  targets: readonly ColdTarget[],
  { runs, workDir, onRun }: { runs: number; workDir: string; onRun?: (name: string, run: number) => void },
): Promise<Record<string, ColdStartResult>> {
  const specs = targets.map((target) => {
    const file = join(workDir, `cold-${target.name}.json`);
    writeFileSync(file, JSON.stringify({ bundle: target.bundle, invocations: target.invocations, traceUpstreams: target.traceUpstreams ?? false }));
    return { target, file };
  });
  const outcomes = new Map<string, Array<ChildReport & { wallMs: number }>>(targets.map((target) => [target.name, []]));
  // One unrecorded run each first: it pages the bundle in from disk, as any later run finds it.
  for (const { target, file } of specs) await runChild<ChildReport>(CHILD, file, target.environment, [], target.node);
  // Round after round, every target once (A B C … A B C …): a slow spell of the machine spreads over all.
  for (let run = 1; run <= runs; run++) {
    for (const { target, file } of specs) {
      onRun?.(target.name, run);
      const { report, wallMs } = await runChild<ChildReport>(CHILD, file, target.environment, [], target.node);
      outcomes.get(target.name)!.push({ ...report, wallMs });
    }
  }
  return Object.fromEntries(
    targets.map((target) => {
      const reports = outcomes.get(target.name)!;
      const result: ColdStartResult = {
        runs: reports.length,
        bootMs: summarize(reports.map((r) => r.bootMs)),
        importMs: summarize(reports.map((r) => r.importMs)),
        requestsMs: target.invocations.map((invocation, index) => ({
          label: invocation.label,
          ms: summarize(reports.map((r) => r.requestsMs[index]!)),
        })),
        requestsRuns: reports.map((r) => r.requestsMs),
        coldMs: summarize(reports.map((r) => r.coldMs)),
        coldMsRuns: reports.map((r) => r.coldMs),
        cpuMs: summarize(reports.map((r) => r.cpuMs)),
        startToAnswerMs: summarize(reports.map((r) => r.bootMs + r.coldMs)),
        ...(reports.some((r) => r.notServed) ? { notServed: reports.find((r) => r.notServed)!.notServed } : {}),
        wallMs: summarize(reports.map((r) => r.wallMs)),
        peakRssMb: summarize(reports.map((r) => r.maxRssKb / 1024)),
        resourceUsageMaxRssMb: summarize(reports.map((r) => r.resourceUsageMaxRssKb / 1024)),
        ...(reports.at(-1)?.upstreams
          ? {
              upstreams: reports.at(-1)!.upstreams!.map((requests, index) => ({
                label: target.invocations[index]!.label,
                profile: storeProfile(requests),
              })),
            }
          : {}),
      };
      return [target.name, result];
    }),
  );
}

export async function measureBareNode(runs: number, node?: string): Promise<Summary> {
  await bareNodeStart(node);
  const walls: number[] = [];
  for (let run = 0; run < runs; run++) walls.push(await bareNodeStart(node));
  return summarize(walls);
}
