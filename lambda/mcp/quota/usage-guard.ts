/**
 * Per-caller quotas, the server's daily credit cap and the result cache, around
 * one tool call. The MCP server hands each validated tool call to
 * `aroundToolCall` (its one hook for this) with a function that runs the tool;
 * the guard decides whether it runs at all, with which Tavily client, and what
 * is remembered afterwards. `createUsageGuard` composes these steps, in order:
 *
 * 1. `admit`, and `lookUpCache` at the same time (one round of store requests
 *    before Tavily is called): one conditional update per counted identity (the
 *    token's client, its user when that is someone else, and the server), each
 *    counting one more call this minute and reserving the most the call can cost
 *    by the tool's credit rule, within every limit of that identity or not at all.
 * 2. `judge`: a refusal by name (what was counted for it is given back), or on.
 * 3. `serveFromCache`: a cached answer to an identical call is served as it is,
 *    saying so, for no credits: its reservation is given back, and its call
 *    still counts against calls per minute.
 * 4. `runMetered`: the tool runs; Tavily reports what it charged (`include_usage`).
 * 5. `settle`: each reservation is brought down to what the call was charged
 *    (quota/credits.ts: never more than was reserved), and a result that fits in
 *    an item is cached for as long as the tool's cache rule says.
 *
 * A refusal is an `isError` result naming the limit, the figures and when it
 * resets, and Tavily is not called. When the store is down or slow,
 * QUOTA_ON_STORE_ERROR decides (allow or deny), the cache is skipped, and an
 * event says so. When the store rejects a request as malformed (a bug, not an
 * outage), the call is refused whatever that setting says. The store never gets
 * the time the tool itself needs before the invocation's deadline.
 */
import type { Caller } from '../../shared/caller.js';
import type { QuotaOverride } from '../../shared/settings.js';
import { TavilyError, type TavilyClient } from '../tavily.js';
import type { AnyTool } from '../tools/tool.js';
import { chargedCredits } from './credits.js';
import { cacheKey, cacheScopeOf, packResult, unpackResult, type CachedResult, type CacheScope, type CacheScopeOfCall } from './result-cache.js';
import { quotasEnabled } from './usage-settings.js';
import { UsageStoreError, type CachedItem, type CountResult, type StoreCall, type StoreFault, type UsageCount, type UsageCounters, type UsageStore } from './usage-store.js';
import { callerLabel, usageItemKey } from './usage-table.js';

/** Kept for the tool itself: the store only gets what is left beyond this before the deadline. */
const TOOL_RESERVE_MS = 2_000;
/** The longest a timer can wait (setTimeout's limit); a deadline further away is as good as none. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** A tool result, as far as the guard needs to know it (MCP's CallToolResult fits). */
export interface ToolCallResult {
  content: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** What the guard reads of a tool module: its name, what it costs, how long it is cached, and what it asks Tavily. */
export type GuardedTool = Pick<AnyTool, 'name' | 'credits' | 'cache' | 'tavilyRequest'>;

export interface GuardedToolCall {
  readonly tool: GuardedTool;
  /** The validated arguments, defaults filled in. */
  readonly args: Readonly<Record<string, unknown>>;
  /** From the authorizer (lambda/shared/caller.ts). */
  readonly caller: Pick<Caller, 'sub' | 'clientId' | 'organizationId'>;
  /** Absolute time (ms since the epoch) by which the answer must be ready. */
  readonly deadline: number;
  readonly tavily: TavilyClient;
}

/** The MCP server's hook: run the call (with the Tavily client given), or answer without running it. */
export type AroundToolCall = (
  call: GuardedToolCall,
  run: (tavily: TavilyClient) => Promise<ToolCallResult>,
) => Promise<ToolCallResult>;

export type LimitName = 'calls_per_minute' | 'credits_per_day' | 'credits_per_day_total';
export type Subject = 'client' | 'sub' | 'total';

export type UsageEvent =
  | {
      readonly kind: 'refused';
      readonly limit: LimitName;
      readonly subject: Subject;
      readonly tool: string;
      readonly sub: string;
      readonly clientId: string;
      readonly used?: number;
      readonly max: number;
      /** What the call needed: 1 call, or the credits its arguments may cost. */
      readonly needed: number;
    }
  | {
      readonly kind: 'store_error';
      readonly operation: 'count' | 'get' | 'put' | 'settle';
      readonly reason: string;
      /** `outage`: the store could not answer; `rejected`: it refused the request itself (a bug). */
      readonly fault: StoreFault;
      readonly tool: string;
      readonly sub: string;
      readonly clientId: string;
      /**
       * What happened to the call: went ahead with its limits unchecked (QUOTA_ON_STORE_ERROR=allow),
       * refused, or only the cache was skipped, or its credits were left at the reservation.
       */
      readonly decision: 'allowed' | 'denied' | 'cache_skipped' | 'not_settled';
    }
  | {
      readonly kind: 'call';
      readonly tool: string;
      readonly sub: string;
      readonly clientId: string;
      readonly cache: 'hit' | 'miss' | 'off' | 'not_stored';
      readonly credits: number;
      /** The most the call could cost, held on the budgets while it ran. */
      readonly reservedCredits: number;
      /** Tavily's own figure, when it differs from what was charged (outside the documented prices). */
      readonly reportedCredits?: number;
      /** The server's credits today after this call, when the daily counters ran. */
      readonly totalCreditsToday?: number;
    };

export interface QuotaLimits {
  /** 0: off. */
  readonly callsPerMinute: number;
  readonly creditsPerDay: number;
  readonly creditsPerDayTotal: number;
  readonly overrides: readonly QuotaOverride[];
  readonly onStoreError: 'allow' | 'deny';
}

export interface CacheSettings {
  /** 0: off. */
  readonly ttlSeconds: number;
  readonly newsTtlSeconds: number;
  readonly scope: CacheScope;
}

export interface UsageGuardOptions {
  readonly store: UsageStore;
  readonly limits: QuotaLimits;
  readonly cache: CacheSettings;
  readonly now?: () => number;
  readonly onEvent?: (event: UsageEvent) => void;
}

interface Identity {
  readonly kind: 'client' | 'sub';
  readonly id: string;
}

/**
 * Who a call counts against. A user's token (a `sub` that is not the client) counts against the
 * user; a client acting for itself (no `sub`, or `sub` = `client_id`: a machine token) against the
 * client. A user's token counts against its client as well only when QUOTA_OVERRIDES names that
 * client: a public client (Claude, ChatGPT, Cursor...) has one `client_id` for all of its users,
 * and a default per-client limit would be one limit all of them share.
 */
export function identitiesOf(caller: GuardedToolCall['caller'], overrides: QuotaLimits['overrides']): Identity[] {
  const user = caller.sub !== '' && caller.sub !== caller.clientId;
  if (!user) return caller.clientId ? [{ kind: 'client', id: caller.clientId }] : [];
  const clientNamed = caller.clientId !== '' && overrides.some((each) => each.kind === 'client' && each.id === caller.clientId);
  return [...(clientNamed ? [{ kind: 'client' as const, id: caller.clientId }] : []), { kind: 'sub', id: caller.sub }];
}

const WHO: Readonly<Record<Subject, string>> = { client: 'client', sub: 'user', total: 'server' };
const pad = (value: number) => String(value).padStart(2, '0');
const clock = (ms: number) => {
  const date = new Date(ms);
  return `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
};

/** The fixed windows a moment falls in: its UTC minute and its UTC day, with when each ends. */
export function windowsAt(nowMs: number) {
  const iso = new Date(nowMs).toISOString();
  const minuteEnds = Math.floor(nowMs / 60_000) * 60_000 + 60_000;
  const dayEnds = Math.floor(nowMs / 86_400_000) * 86_400_000 + 86_400_000;
  return { minute: iso.slice(0, 16), minuteEnds, day: iso.slice(0, 10), dayEnds };
}

/** The refusal for a limit: which budget, its figures, what the call needed, and when it resets. */
export function refusalMessage(limit: LimitName, subject: Subject, max: number, used: number | undefined, needed: number, resetsAt: number): string {
  const who = WHO[subject];
  if (limit === 'calls_per_minute') {
    return `Tool call rate limit for this ${who} reached (${max}/${max} calls per minute); resets at ${clock(resetsAt)} UTC. No search was made: wait until then, or make fewer calls.`;
  }
  const budget = limit === 'credits_per_day_total' ? 'Daily Tavily credit budget for this server' : `Daily Tavily credit budget for this ${who}`;
  if (needed > max) {
    return `${budget} is ${max} credits, and this call may cost up to ${needed}: it can never fit. No search was made: ask for less (fewer URLs or pages, a basic depth, no instructions).`;
  }
  const figure = used === undefined ? `${max} credits` : `${Math.min(used, max)}/${max} used`;
  return `${budget} reached (${figure}; this call needs up to ${needed}); resets at 00:00 UTC. No search was made.`;
}

export const STORE_DENIED_MESSAGE =
  'Usage limits cannot be checked right now (the usage store is unavailable), so no search was made. Try again in a minute.';

export const STORE_REJECTED_MESSAGE =
  "Usage limits cannot be checked for this call (the usage store refused the server's request; the operator has been told), so no search was made.";

const errorResult = (text: string): ToolCallResult => ({ content: [{ type: 'text', text }], isError: true });

/** Tavily bills answers, not failures; an answer that arrived too late (or garbled) may still have been billed. */
function mayHaveBeenCharged(error: unknown): boolean {
  return error instanceof TavilyError && (error.kind === 'timeout' || error.kind === 'bad_response');
}

export function createUsageGuard(options: UsageGuardOptions): AroundToolCall {
  const guard = guardFrom(options);
  // The store's first request would make its client; make it now, while this call's own work goes on.
  options.store.warm?.();
  return async function aroundToolCall(call, run) {
    const current = await begin(guard, call);
    const [outcomes, cached] = await Promise.all([admit(current), lookUpCache(current)]);
    const counted = countedIn(outcomes);
    const refusal = judge(current, outcomes, cached !== undefined);
    if (refusal) {
      await changeCounters(current, counted, { minuteCall: -1, credits: -current.reserved, calls: -1 });
      return refusal;
    }
    if (cached) return serveFromCache(current, outcomes, cached);
    const { result, credits, reported } = await runMetered(current, counted, run);
    return settle(current, counted, result, credits, reported);
  };
}

/** The guard's settings, as every call's steps read them. */
interface Guard {
  readonly store: UsageStore;
  readonly limits: QuotaLimits;
  readonly cache: CacheSettings;
  /** Whether any quota is on: only then are calls counted, credits reserved and Tavily's charges metered. */
  readonly counting: boolean;
  readonly now: () => number;
  readonly onEvent?: (event: UsageEvent) => void;
}

function guardFrom(options: UsageGuardOptions): Guard {
  return {
    store: options.store,
    limits: options.limits,
    cache: options.cache,
    counting: quotasEnabled(options.limits),
    now: options.now ?? Date.now,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  };
}

const overrideFor = (limits: QuotaLimits, identity: Identity) =>
  limits.overrides.find((each) => each.kind === identity.kind && each.id === identity.id);
const callLimit = (limits: QuotaLimits, identity: Identity) => overrideFor(limits, identity)?.callsPerMinute ?? limits.callsPerMinute;
const creditLimit = (limits: QuotaLimits, identity: Identity) => overrideFor(limits, identity)?.creditsPerDay ?? limits.creditsPerDay;

/** One identity's usage item for the day, with its limits (unset: none). */
interface Budget {
  readonly subject: Subject;
  /** The identity as the token gave it (`*` for the server). */
  readonly id: string;
  readonly key: string;
  readonly callsMax?: number;
  readonly creditsMax?: number;
}

/** One call as its steps see it: the guard, the call, and what was worked out about it once. */
interface CurrentCall {
  readonly guard: Guard;
  readonly call: GuardedToolCall;
  /** Who and what, as every event names them. */
  readonly who: { readonly tool: string; readonly sub: string; readonly clientId: string };
  readonly started: number;
  readonly windows: ReturnType<typeof windowsAt>;
  /** The items counted for this call (none when no quota is on). */
  readonly budgets: readonly Budget[];
  /** The most the call can cost by the tool's credit rule: reserved on every budget while it runs. */
  readonly reserved: number;
  /** How long its answer may be cached (0: not at all), with whom, and under which key. */
  readonly cacheLifetime: number;
  readonly cacheScope: CacheScopeOfCall | undefined;
  readonly cacheKey: string | undefined;
  report(event: UsageEvent): void;
  /** A signal for one store step: it never runs into the time the tool itself needs. */
  storeSignal(): AbortSignal;
}

async function budgetsOf(limits: QuotaLimits, identities: readonly Identity[], day: string): Promise<Budget[]> {
  const positive = (limit: number) => (limit > 0 ? limit : undefined);
  const callers = await Promise.all(
    identities.map(async (identity): Promise<Budget> => {
      const callsMax = positive(callLimit(limits, identity));
      const creditsMax = positive(creditLimit(limits, identity));
      return {
        subject: identity.kind,
        id: identity.id,
        key: await usageItemKey(day, identity.kind, identity.id),
        ...(callsMax !== undefined ? { callsMax } : {}),
        ...(creditsMax !== undefined ? { creditsMax } : {}),
      };
    }),
  );
  // The server's item only holds a cap. Without one it would be a write on every call to one item,
  // which every instance contends for; the TavilyCredits metric already sums the server's credits.
  const totalMax = positive(limits.creditsPerDayTotal);
  if (totalMax === undefined) return callers;
  return [...callers, { subject: 'total', id: '*', key: await usageItemKey(day, 'total', '*'), creditsMax: totalMax }];
}

async function begin(guard: Guard, call: GuardedToolCall): Promise<CurrentCall> {
  const { tool, args, caller } = call;
  const started = guard.now();
  const windows = windowsAt(started);
  const cacheLifetime =
    guard.cache.ttlSeconds > 0 ? tool.cache.lifetimeSeconds(args, { seconds: guard.cache.ttlSeconds, newsSeconds: guard.cache.newsTtlSeconds }) : 0;
  const [budgets, cacheScope] = await Promise.all([
    guard.counting ? budgetsOf(guard.limits, identitiesOf(caller, guard.limits.overrides), windows.day) : [],
    cacheLifetime > 0 ? cacheScopeOf(guard.cache.scope, caller) : undefined,
  ]);
  return {
    guard,
    call,
    who: { tool: tool.name, sub: caller.sub, clientId: caller.clientId },
    started,
    windows,
    budgets,
    reserved: tool.credits.estimate(args),
    cacheLifetime,
    cacheScope,
    cacheKey: cacheScope ? await cacheKey(tool.name, tool.tavilyRequest(args), cacheScope) : undefined,
    report: (event) => guard.onEvent?.(event),
    storeSignal: () => AbortSignal.timeout(Math.max(1, Math.min(LONGEST_TIMER_MS, call.deadline - guard.now() - TOOL_RESERVE_MS))),
  };
}

/** A change to a budget's counters: this minute's calls, today's credits and calls. */
interface CounterChange {
  readonly minuteCall: number;
  readonly credits: number;
  readonly calls: number;
}

/** The store's update for a change to one budget; its limits apply to whatever the change adds. */
function usageCount(windows: ReturnType<typeof windowsAt>, budget: Budget, change: CounterChange): UsageCount {
  return {
    key: budget.key,
    expiresAt: Math.floor(windows.dayEnds / 1000) + 2 * 86_400,
    labels: { day: windows.day, kind: budget.subject, caller: callerLabel(budget.id) },
    ...(budget.callsMax !== undefined && change.minuteCall !== 0
      ? { minuteCalls: { minute: windows.minute, amount: change.minuteCall, max: budget.callsMax } }
      : {}),
    credits: change.credits,
    ...(budget.creditsMax !== undefined ? { creditsMax: budget.creditsMax } : {}),
    calls: change.calls,
  };
}

interface Outcome {
  readonly budget: Budget;
  readonly result: PromiseSettledResult<CountResult>;
}

interface Counted {
  readonly budget: Budget;
  readonly counters: UsageCounters;
}

const countedIn = (outcomes: readonly Outcome[]): Counted[] =>
  outcomes.flatMap(({ budget, result }) => (result.status === 'fulfilled' && result.value.counted ? [{ budget, counters: result.value.counters }] : []));

/** Step 1: one conditional update per budget: a call this minute, and the call's most credits, within its limits or not at all. */
async function admit(current: CurrentCall): Promise<Outcome[]> {
  const { budgets, guard } = current;
  if (budgets.length === 0) return [];
  const signal = current.storeSignal();
  const change = { minuteCall: 1, credits: current.reserved, calls: 1 };
  const results = await Promise.allSettled(budgets.map((budget) => guard.store.count(usageCount(current.windows, budget, change), { signal })));
  return budgets.map((budget, index) => ({ budget, result: results[index]! }));
}

/** The same change on several budgets, unconditionally (giving back, settling); a failure is reported, not thrown. */
async function changeCounters(current: CurrentCall, counted: readonly Counted[], change: CounterChange): Promise<Array<PromiseSettledResult<CountResult>>> {
  if (counted.length === 0 || (change.minuteCall === 0 && change.credits === 0 && change.calls === 0)) return [];
  const signal = current.storeSignal();
  const results = await Promise.allSettled(
    counted.map(({ budget }) => current.guard.store.count(usageCount(current.windows, budget, change), { signal })),
  );
  const failed = results.find((each) => each.status === 'rejected');
  if (failed) current.report({ kind: 'store_error', operation: 'settle', ...faultOf(failed.reason), ...current.who, decision: 'not_settled' });
  return results;
}

/** What a reservation left by an earlier call is settled with (`settleReservation`). */
export interface HeldReservation {
  /** The caller whose call reserved it. */
  readonly caller: GuardedToolCall['caller'];
  /** The UTC day it was reserved on (`YYYY-MM-DD`, as `windowsAt` names it). */
  readonly day: string;
  /** What was reserved: the tool's credit rule's estimate. */
  readonly reserved: number;
  /** What it turned out to cost. */
  readonly charged: number;
}

/**
 * Step 5 for a reservation that outlives its call (a research is charged when it finishes, after the
 * call that started it: tasks/research-credits.ts): brought down to what it cost, never more than was
 * reserved, on the items the guard reserved it on under `limits` (the caller's identities, and the
 * server's under a total cap, that day).
 * No limit applies, as in `settle`: what was spent is spent. Throws the store's error when any item
 * could not be changed (the others are changed all the same).
 */
export async function settleReservation(store: UsageStore, reservation: HeldReservation, limits: QuotaLimits, call: StoreCall): Promise<void> {
  const credits = Math.min(reservation.charged, reservation.reserved) - reservation.reserved;
  if (credits === 0) return;
  const windows = windowsAt(Date.parse(`${reservation.day}T00:00:00Z`));
  // The items the guard reserved on under these limits (the server's only under a total cap), settled with none.
  const budgets = (await budgetsOf(limits, identitiesOf(reservation.caller, limits.overrides), reservation.day)).map(
    ({ subject, id, key }): Budget => ({ subject, id, key }),
  );
  const results = await Promise.allSettled(budgets.map((budget) => store.count(usageCount(windows, budget, { minuteCall: 0, credits, calls: 0 }), call)));
  const failed = results.find((each) => each.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Step 2: the refusal the outcomes call for, or undefined to go on. A cached answer needs no credits, so no credit budget refuses it. */
function judge(current: CurrentCall, outcomes: readonly Outcome[], cached: boolean): ToolCallResult | undefined {
  const failures = outcomes.flatMap(({ result }) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  const rejected = failures.find((failure) => faultOf(failure).fault === 'rejected');
  if (rejected !== undefined) {
    current.report({ kind: 'store_error', operation: 'count', ...faultOf(rejected), ...current.who, decision: 'denied' });
    return errorResult(STORE_REJECTED_MESSAGE);
  }
  const refusals = outcomes.flatMap(({ budget, result }) =>
    result.status === 'fulfilled' && !result.value.counted ? [{ budget, over: result.value.over, counters: result.value.counters }] : [],
  );
  const overCalls = refusals.find((refusal) => refusal.over === 'calls_per_minute');
  if (overCalls) return refuse(current, 'calls_per_minute', overCalls.budget, undefined, 1);
  if (failures.length > 0 && current.guard.limits.onStoreError === 'deny') {
    current.report({ kind: 'store_error', operation: 'count', ...faultOf(failures[0]), ...current.who, decision: 'denied' });
    return errorResult(STORE_DENIED_MESSAGE);
  }
  const overCredits = refusals.find((refusal) => refusal.over === 'credits_per_day');
  if (overCredits && !cached) {
    const limit: LimitName = overCredits.budget.subject === 'total' ? 'credits_per_day_total' : 'credits_per_day';
    return refuse(current, limit, overCredits.budget, overCredits.counters?.credits, current.reserved);
  }
  if (failures.length > 0) {
    // QUOTA_ON_STORE_ERROR=allow: the call goes on, counted where the store could count it. Said once, loudly.
    current.report({ kind: 'store_error', operation: 'count', ...faultOf(failures[0]), ...current.who, decision: 'allowed' });
  }
  return undefined;
}

function refuse(current: CurrentCall, limit: LimitName, budget: Budget, used: number | undefined, needed: number): ToolCallResult {
  const max = limit === 'calls_per_minute' ? budget.callsMax! : budget.creditsMax!;
  const { windows } = current;
  current.report({ kind: 'refused', limit, subject: budget.subject, ...current.who, ...(used !== undefined ? { used } : {}), max, needed });
  return errorResult(refusalMessage(limit, budget.subject, max, used, needed, limit === 'calls_per_minute' ? windows.minuteEnds : windows.dayEnds));
}

/** The answer to an identical call, if one is stored and still fresh. A store failure only skips the cache. */
async function lookUpCache(current: CurrentCall): Promise<{ entry: CachedResult; item: CachedItem } | undefined> {
  if (!current.cacheKey) return undefined;
  const item = await current.guard.store.getCached(current.cacheKey, { signal: current.storeSignal() }).catch((error: unknown) => {
    current.report({ kind: 'store_error', operation: 'get', ...faultOf(error), ...current.who, decision: 'cache_skipped' });
    return undefined;
  });
  if (!item || item.expiresAt * 1000 <= current.started) return undefined;
  const entry = await unpackResult(item.body);
  return entry && { entry, item };
}

/**
 * Step 3: a hit costs no credits: what was reserved for it is given back, and where a credit budget
 * refused the reservation, the call is counted against the minute alone. The hit's age is told only
 * when the entry can be nobody's but this caller's: elsewhere it would tell one caller when another
 * asked the same question.
 */
async function serveFromCache(current: CurrentCall, outcomes: readonly Outcome[], { entry, item }: { entry: CachedResult; item: CachedItem }): Promise<ToolCallResult> {
  const refusedCredits = outcomes.flatMap(({ budget, result }) =>
    result.status === 'fulfilled' && !result.value.counted && budget.callsMax !== undefined ? [budget] : [],
  );
  const signal = current.storeSignal();
  const [, minuteOnly] = await Promise.all([
    changeCounters(current, countedIn(outcomes), { minuteCall: 0, credits: -current.reserved, calls: -1 }),
    Promise.allSettled(refusedCredits.map((budget) => current.guard.store.count(usageCount(current.windows, budget, { minuteCall: 1, credits: 0, calls: 0 }), { signal }))),
  ]);
  const overCalls = minuteOnly.findIndex((result) => result.status === 'fulfilled' && !result.value.counted);
  if (overCalls >= 0) {
    // Another call took this minute's last slot in between: this one is refused after all, and gives its slots back.
    const minuteCounted = refusedCredits.flatMap((budget, index) => {
      const result = minuteOnly[index]!;
      return result.status === 'fulfilled' && result.value.counted ? [{ budget, counters: result.value.counters }] : [];
    });
    await changeCounters(current, [...countedIn(outcomes), ...minuteCounted], { minuteCall: -1, credits: 0, calls: 0 });
    return refuse(current, 'calls_per_minute', refusedCredits[overCalls]!, undefined, 1);
  }

  current.report({ kind: 'call', ...current.who, cache: 'hit', credits: 0, reservedCredits: 0 });
  const oneCaller = current.cacheScope?.oneCaller === true;
  const ageSeconds = Math.max(0, Math.round((current.started - item.storedAt) / 1000));
  return {
    // The answer first, as it was; the note after it, so that a client reading the first block reads the same.
    content: [
      { type: 'text', text: entry.text },
      {
        type: 'text',
        text: oneCaller
          ? `(From this server's cache: you made the same call ${ageSeconds} s ago; no Tavily credits used.)`
          : "(From this server's cache; no Tavily credits used.)",
      },
    ],
    structuredContent: {
      ...entry.structured,
      cache: oneCaller ? { hit: true, age_seconds: ageSeconds, stored_at: new Date(item.storedAt).toISOString() } : { hit: true },
    },
  };
}

/** Step 4: the tool, run with a Tavily client that meters what each answer cost (when quotas count). */
async function runMetered(
  current: CurrentCall,
  counted: readonly Counted[],
  run: (tavily: TavilyClient) => Promise<ToolCallResult>,
): Promise<{ result: ToolCallResult; credits: number; reported: number | undefined }> {
  const { guard, call } = current;
  let charged = 0;
  let reported: number | undefined;
  let answered = false;
  const tavily: TavilyClient = guard.counting
    ? {
        async call(endpoint, body, callOptions) {
          try {
            const answer = await call.tavily.call(endpoint, { ...body, include_usage: true }, callOptions);
            answered = true;
            const charge = chargedCredits(call.tool.credits, call.args, answer);
            charged += charge.credits;
            if (charge.reported !== undefined) reported = (reported ?? 0) + charge.reported;
            return answer;
          } catch (error) {
            if (mayHaveBeenCharged(error)) {
              answered = true;
              charged += current.reserved;
            }
            throw error;
          }
        },
      }
    : call.tavily;
  // Never more than was reserved: that is what every budget was checked for.
  const credits = () => (answered ? Math.min(charged, current.reserved) : 0);
  try {
    const result = await run(tavily);
    return { result, credits: credits(), reported };
  } catch (error) {
    await changeCounters(current, counted, { minuteCall: 0, credits: credits() - current.reserved, calls: 0 });
    throw error;
  }
}

/** Step 5: the reservation brought down to what the call was charged, and its answer cached; then the call's one event. */
async function settle(
  current: CurrentCall,
  counted: readonly Counted[],
  result: ToolCallResult,
  credits: number,
  reported: number | undefined,
): Promise<ToolCallResult> {
  const signal = current.storeSignal();
  const [settled, cache] = await Promise.all([
    changeCounters(current, counted, { minuteCall: 0, credits: credits - current.reserved, calls: 0 }),
    storeInCache(current, result, signal),
  ]);
  const total = counted.findIndex(({ budget }) => budget.subject === 'total');
  const totalSettled = settled[total];
  const totalToday =
    total < 0 ? undefined : totalSettled?.status === 'fulfilled' ? totalSettled.value.counters?.credits : counted[total]!.counters.credits + credits - current.reserved;
  current.report({
    kind: 'call',
    ...current.who,
    cache,
    credits,
    reservedCredits: current.guard.counting ? current.reserved : 0,
    ...(reported !== undefined && reported !== credits ? { reportedCredits: reported } : {}),
    ...(totalToday !== undefined ? { totalCreditsToday: totalToday } : {}),
  });
  return result;
}

/** A successful answer, stored for the tool's cache lifetime if it fits in an item; what became of it. */
async function storeInCache(current: CurrentCall, result: ToolCallResult, signal: AbortSignal): Promise<'miss' | 'off' | 'not_stored'> {
  const key = current.cacheKey;
  if (!key) return 'off';
  if (result.isError || !result.structuredContent) return 'miss';
  const text = result.content.flatMap((block) => (block.type === 'text' && block.text !== undefined ? [block.text] : [])).join('\n\n');
  const body = await packResult({ text, structured: result.structuredContent });
  if (!body) return 'not_stored';
  const storedAt = current.guard.now();
  try {
    await current.guard.store.putCached(key, { body, storedAt, expiresAt: Math.floor(storedAt / 1000) + current.cacheLifetime }, { signal });
    return 'miss';
  } catch (error) {
    current.report({ kind: 'store_error', operation: 'put', ...faultOf(error), ...current.who, decision: 'cache_skipped' });
    return 'not_stored';
  }
}

/** A store failure as events name it: a short reason, and whether it was an outage or a rejected request. */
function faultOf(error: unknown): { reason: string; fault: StoreFault } {
  if (error instanceof UsageStoreError) return { reason: error.reason, fault: error.fault };
  return { reason: (error as { name?: string })?.name ?? 'Error', fault: 'outage' };
}
