/**
 * Research as work that outlives a request. Tavily runs a research on its own
 * (POST /research, then GET /research/{id} until it is done), so no function
 * waits for it: a research is a task item (task-store.ts) that a later request
 * looks at.
 *
 * - `session(...)` is one tool call's view, bound to its caller: web_research
 *   starts and records a research, and for a client without the tasks
 *   extension waits for it within the deadline; web_research_result finds the
 *   caller's research by id and waits the same way.
 * - `poll`, `cancel` and `resultOf` serve the tasks/* methods (task-methods.ts).
 *
 * A look at Tavily that finds the research finished keeps its result in the
 * task, once (the store's conditional update), and only that look settles its
 * credits (research-credits.ts). A client's polls ask Tavily at most once per
 * call and once per MIN_CHECK_INTERVAL_MS per task; quicker ones are answered
 * from the store. A research id is only ever found by the caller who started
 * it, while its task lives: an unknown id, another caller's and an expired one
 * are the same "not found".
 */
import { timingSafeEqual } from 'node:crypto';
import { reportedCredits } from '../quota/credits.js';
import { packResult, unpackResult } from '../quota/result-cache.js';
import type { StoreCall } from '../quota/usage-store.js';
import { TavilyError, type TavilyApi, type TavilyClient } from '../tavily.js';
import { leastResearchCredits } from '../tools/credits.js';
import type { TavilyRequest } from '../tools/tool.js';
import type { Caller, ResearchCredits } from './research-credits.js';
import { newTaskId, ownerOf, TASK_ID_PATTERN, TaskStoreError, type ResearchTask, type TaskStore } from './task-store.js';

/** How often a client should poll a task, and the least time between two looks at Tavily for one task. */
export const POLL_INTERVAL_MS = 5_000;
export const MIN_CHECK_INTERVAL_MS = 1_000;
/** Kept between the end of a wait and the deadline: the last look, recording a result, rendering the answer. */
export const WAIT_MARGIN_MS = 4_000;
/** The longest one look at Tavily may take. */
const CHECK_TIMEOUT_MS = 5_000;
/** The longest one store operation may take. */
const STORE_TIMEOUT_MS = 2_000;
/** The waits between looks while waiting: the first look at once, then 1 s, growing to 5 s. */
const FIRST_WAIT_MS = 1_000;
const LONGEST_WAIT_MS = 5_000;
/** About how long Tavily takes, per model (its own guidance), for telling a model when to look again. */
const TYPICAL_SECONDS: Readonly<Record<string, number>> = { mini: 30, pro: 90, auto: 60 };

/** A finished research's answer as the agent reads it (a CallToolResult's text and structured content). */
export interface StoredResult {
  readonly text: string;
  /** Empty when `isError`. */
  readonly structured: Record<string, unknown>;
  readonly isError: boolean;
}

/** What to start: what a tool asks Tavily, and what the task keeps of it. */
export interface ResearchStart {
  /** The POST /research body (web_research's `tavilyRequest`). */
  readonly request: TavilyRequest;
  readonly input: string;
  readonly model: string;
  /** The most it can cost: what the usage guard reserved for the call (its credit rule's estimate). */
  readonly worstCaseCredits: number;
}

/** One tool call's research, bound to its caller. */
export interface ResearchSession {
  /** Whether the call answers with a task (the client declared the tasks extension): then nothing waits. */
  readonly asTask: boolean;
  /** The research this call started and recorded, if any. */
  readonly created: ResearchTask | undefined;
  /** Starts it (through the call's metered Tavily client) and records it for the caller. */
  start(what: ResearchStart, call: { readonly tavily: TavilyClient; readonly signal: AbortSignal }): Promise<ResearchTask>;
  /** The caller's research by id; undefined if unknown, another caller's or expired (the same to the caller). */
  find(researchId: string): Promise<ResearchTask | undefined>;
  /** Looks at once, then now and then, until it finishes or this call's wait is over: the task as it then stands. */
  wait(task: ResearchTask, signal: AbortSignal): Promise<ResearchTask>;
  /** About when a model should look again at a research still running (web_research_result waits too). */
  checkAgainInSeconds(task: ResearchTask): number;
  /** A finished research's result, as it was kept. */
  resultOf(task: ResearchTask): Promise<StoredResult>;
}

export type ResearchEvent =
  | { readonly kind: 'started'; readonly model: string; readonly asTask: boolean }
  | { readonly kind: 'completed' | 'failed'; readonly model: string; readonly durationMs: number; readonly credits: number }
  | { readonly kind: 'cancelled'; readonly model: string }
  | { readonly kind: 'check_failed'; readonly errorKind: string };

export interface ResearchTasksOptions {
  readonly store: TaskStore;
  readonly tavily: TavilyApi;
  readonly credits: ResearchCredits;
  readonly ttlMs: number;
  /** How long a tool call waits for a report (RESEARCH_WAIT_SECONDS). */
  readonly waitMs: number;
  /** The tool output budget: a result is kept as the agent would get it. */
  readonly outputBudgetChars: number;
  /**
   * A finished research's answer made into what the agent reads, within `budgetChars`
   * (web_research's shaping and rendering: tools/web-research.ts).
   */
  readonly finish: (task: ResearchTask, answer: unknown, budgetChars: number) => Promise<StoredResult>;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly onEvent?: (event: ResearchEvent) => void;
}

const sleepFor = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

const sameOwner = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** What Tavily's answer to a started research must hold. */
const startedId = (answer: unknown) => {
  const id = (answer as { request_id?: unknown } | null | undefined)?.request_id;
  return typeof id === 'string' && id !== '' ? id : undefined;
};

/** The result kept when even the smallest rendering does not fit an item: short, and still an answer. */
const TOO_LARGE_TO_KEEP =
  'The research finished, but its report is too large for this server to keep. Start a narrower research (a more specific question, or model "mini").';

export function createResearchTasks(options: ResearchTasksOptions) {
  const { store, tavily, credits } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepFor;
  const report = (event: ResearchEvent) => options.onEvent?.(event);
  const storeCall = (deadline: number): StoreCall => ({ signal: AbortSignal.timeout(Math.max(1, Math.min(STORE_TIMEOUT_MS, deadline - now()))) });

  async function find(caller: Caller, taskId: string, deadline: number): Promise<ResearchTask | undefined> {
    if (!TASK_ID_PATTERN.test(taskId)) return undefined;
    const [task, owner] = await Promise.all([store.get(taskId, storeCall(deadline)), ownerOf(caller)]);
    if (!task || !sameOwner(task.owner, owner) || task.expiresAt * 1000 <= now()) return undefined;
    return task;
  }

  /** The result packed for the item: smaller renderings until one fits, then a short note that still answers. */
  async function keep(task: ResearchTask, answer: unknown) {
    for (let budget = options.outputBudgetChars; budget >= 5_000; budget = Math.floor(budget / 2)) {
      const result = await options.finish(task, answer, budget);
      const body = await packResult({ text: result.text, structured: result.structured });
      if (body) return { result, body };
    }
    const result: StoredResult = { text: TOO_LARGE_TO_KEEP, structured: {}, isError: true };
    return { result, body: (await packResult({ text: result.text, structured: {} }))! };
  }

  /** Records a finished research (once: a cancel, or another poll, may have got there first) and settles it. */
  async function finishWith(caller: Caller, task: ResearchTask, answer: unknown, deadline: number): Promise<ResearchTask> {
    const { result, body } = await keep(task, answer);
    const reported = reportedCredits(answer);
    // A failed research costs what Tavily says, or nothing. A completed one costs what Tavily says, or
    // what was reserved when it does not say, and never less than its model's documented floor: as for
    // the other tools, a figure below the price (0, say) is not trusted.
    const cost = result.isError
      ? (reported ?? 0)
      : Math.max(reported ?? task.reservation?.credits ?? 0, leastResearchCredits(task.model));
    const at = now();
    const finished = await store.finish(task.taskId, { result: { body, isError: result.isError }, credits: cost, at }, storeCall(deadline));
    if (!finished) return (await store.get(task.taskId, storeCall(deadline))) ?? task;
    report({ kind: result.isError ? 'failed' : 'completed', model: task.model, durationMs: at - task.createdAt, credits: cost });
    if (task.reservation) await credits.settle(caller, task.reservation, cost, storeCall(deadline).signal);
    return { ...task, status: 'completed', updatedAt: at, credits: cost, result: { body, isError: result.isError } };
  }

  /** One look at Tavily (the caller, to settle what it finds): the task as it then stands. */
  async function check(caller: Caller, task: ResearchTask, deadline: number, signal?: AbortSignal): Promise<ResearchTask> {
    let status;
    try {
      status = await tavily.researchStatus(task.requestId, { deadline: Math.min(deadline, now() + CHECK_TIMEOUT_MS), ...(signal ? { signal } : {}) });
    } catch (error) {
      if (error instanceof TavilyError && error.status === 404) {
        // Tavily no longer knows it: it will never finish.
        return finishWith(caller, task, { status: 'failed', error: 'Tavily no longer has this research.' }, deadline);
      }
      report({ kind: 'check_failed', errorKind: error instanceof TavilyError ? error.kind : 'internal' });
      return task;
    }
    if (status.running) return { ...task, checkedAt: now() };
    try {
      return await finishWith(caller, task, status.answer, deadline);
    } catch (error) {
      // Not recorded this time: the research is still Tavily's to answer, and the next look records it.
      if (!(error instanceof TaskStoreError)) throw error;
      report({ kind: 'check_failed', errorKind: 'task_store' });
      return task;
    }
  }

  async function resultOf(task: ResearchTask): Promise<StoredResult> {
    const kept = task.result && (await unpackResult(task.result.body));
    if (!task.result || !kept) throw new TaskStoreError('get', 'result unreadable');
    return { text: kept.text, structured: kept.structured, isError: task.result.isError };
  }

  function checkAgainInSeconds(task: ResearchTask): number {
    const elapsed = (now() - task.createdAt) / 1000;
    const left = (TYPICAL_SECONDS[task.model] ?? 60) - elapsed - options.waitMs / 1000;
    return Math.round(Math.min(60, Math.max(5, left)));
  }

  return {
    pollIntervalMs: POLL_INTERVAL_MS,

    session(caller: Caller, call: { readonly asTask: boolean; readonly startedAt: number; readonly deadline: number }): ResearchSession {
      let created: ResearchTask | undefined;
      // A wait ends in time for the answer, and at most RESEARCH_WAIT_SECONDS after the call began.
      const waitEnds = Math.min(call.deadline - WAIT_MARGIN_MS, call.startedAt + options.waitMs);
      return {
        asTask: call.asTask,
        get created() {
          return created;
        },

        async start(what, { tavily: metered, signal }) {
          const answer = await metered.call(what.request.endpoint, what.request.body, { deadline: call.deadline, signal });
          const requestId = startedId(answer);
          if (!requestId) throw new TavilyError('bad_response', 'Tavily started a research without naming it (no request_id)');
          const at = now();
          const task: ResearchTask = {
            taskId: newTaskId(),
            owner: await ownerOf(caller),
            requestId,
            input: what.input,
            model: what.model,
            status: 'working',
            createdAt: at,
            updatedAt: at,
            expiresAt: Math.ceil((at + options.ttlMs) / 1000),
            ttlMs: options.ttlMs,
            ...(() => {
              const reservation = credits.reservationFor(what.worstCaseCredits, call.startedAt);
              return reservation ? { reservation } : {};
            })(),
          };
          // Recorded before anyone is told of it: a task handle is only ever given for a task a poll finds.
          await store.create(task, storeCall(call.deadline));
          created = task;
          report({ kind: 'started', model: task.model, asTask: call.asTask });
          return task;
        },

        find: (researchId) => find(caller, researchId, call.deadline),

        async wait(task, signal) {
          let current = task;
          for (let pause = FIRST_WAIT_MS; ; pause = Math.min(LONGEST_WAIT_MS, Math.round(pause * 1.5))) {
            if (current.status !== 'working') return current;
            current = await check(caller, current, call.deadline, signal);
            if (current.status !== 'working' || signal.aborted || now() + pause > waitEnds) return current;
            await sleep(pause, signal);
          }
        },

        checkAgainInSeconds,
        resultOf,
      };
    },

    /** The caller's task, as tasks/* find it (see `find`). */
    find,

    /**
     * A client's poll: the task, after one look at Tavily if it is working and nobody has
     * looked in the last MIN_CHECK_INTERVAL_MS.
     */
    async poll(caller: Caller, task: ResearchTask, deadline: number): Promise<ResearchTask> {
      const at = now();
      if (task.status !== 'working' || (task.checkedAt !== undefined && at - task.checkedAt < MIN_CHECK_INTERVAL_MS)) return task;
      if (!(await store.claimCheck(task.taskId, at, at - MIN_CHECK_INTERVAL_MS, storeCall(deadline)))) {
        return (await store.get(task.taskId, storeCall(deadline))) ?? task;
      }
      return check(caller, { ...task, checkedAt: at }, deadline);
    },

    /**
     * Cancels a working task. Tavily cannot stop a research, so it runs on and is charged:
     * its reserved worst case stays on the budgets.
     */
    async cancel(task: ResearchTask, deadline: number): Promise<void> {
      if (task.status !== 'working') return;
      if (await store.cancel(task.taskId, now(), storeCall(deadline))) report({ kind: 'cancelled', model: task.model });
    },

    /** A finished task's result, as it was kept. */
    resultOf,
  };
}

export type ResearchTasks = ReturnType<typeof createResearchTasks>;
