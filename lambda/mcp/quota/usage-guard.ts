/**
 * Per-caller quotas, the server's daily credit cap and the result cache, around
 * one tool call. The MCP server hands each validated tool call to
 * `aroundToolCall` (its one hook for this) with a function that runs the tool;
 * the guard decides whether it runs at all, with which Tavily client, and what
 * is remembered afterwards. `createUsageGuard` composes these steps, in order:
 *
 * 1. `countCall`: calls per minute are counted for the token's `sub` and its
 *    `client_id` separately (once when they are the same: machine tokens), cache
 *    hits included.
 * 2. `lookUpCache` (at the same time): a cached answer to an identical call is
 *    served as it is, saying so, for no credits (`serveFromCache`).
 * 3. `reserveCredits`: the most the call can cost, by the tool's credit rule, is
 *    reserved on the caller's daily budgets and the server's daily cap, each a
 *    conditional ADD that cannot go past its limit.
 * 4. `runMetered`: the tool runs; Tavily reports what it charged (`include_usage`).
 * 5. `settle`: the reservation is corrected to that, and a result that fits in an
 *    item is cached for as long as the tool's cache rule says.
 *
 * A refusal is an `isError` result naming the limit, the figures and when it
 * resets, and Tavily is not called. When the store fails, QUOTA_ON_STORE_ERROR
 * decides (allow or deny), the cache is skipped, and an event says so. The store
 * never gets more than a short slice of the invocation's remaining time.
 */
import type { QuotaOverride } from '../../shared/settings.js';
import { TavilyError, type TavilyClient } from '../tavily.js';
import type { AnyTool } from '../tools/tool.js';
import { chargedCredits } from './credits.js';
import { cacheKey, packResult, unpackResult, type CachedResult, type CacheScope } from './result-cache.js';
import { quotasEnabled } from './usage-settings.js';
import { UsageStoreError, type CachedItem, type CounterUpdate, type UsageStore } from './usage-store.js';

/** The longest the store may take per step (check, then settle): calls never hang on it. */
export const STORE_TIMEOUT_MS = 1_000;
/** Kept for the tool itself: the store only gets what is left beyond this before the deadline. */
const TOOL_RESERVE_MS = 2_000;

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
  readonly caller: { readonly sub: string; readonly clientId: string };
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
    }
  | {
      readonly kind: 'store_error';
      readonly operation: string;
      readonly reason: string;
      readonly tool: string;
      readonly sub: string;
      readonly clientId: string;
      /** What happened to the call: counted nothing and went ahead, refused, or only the cache was skipped. */
      readonly decision: 'allowed' | 'denied' | 'cache_skipped' | 'not_settled';
    }
  | {
      readonly kind: 'call';
      readonly tool: string;
      readonly sub: string;
      readonly clientId: string;
      readonly cache: 'hit' | 'miss' | 'off' | 'not_stored';
      readonly credits: number;
      readonly estimatedCredits: number;
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
  readonly storeTimeoutMs?: number;
  readonly onEvent?: (event: UsageEvent) => void;
}

interface Identity {
  readonly kind: 'client' | 'sub';
  readonly id: string;
}

/** The counted identities of a caller: `client_id` and `sub`, once if they are the same (a machine token). */
export function identitiesOf(caller: GuardedToolCall['caller']): Identity[] {
  const identities: Identity[] = [];
  if (caller.clientId) identities.push({ kind: 'client', id: caller.clientId });
  if (caller.sub && caller.sub !== caller.clientId) identities.push({ kind: 'sub', id: caller.sub });
  return identities;
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

export function refusalMessage(limit: LimitName, subject: Subject, max: number, used: number | undefined, needed: number, resetsAt: number): string {
  const who = WHO[subject];
  if (limit === 'calls_per_minute') {
    return `Tool call rate limit for this ${who} reached (${max}/${max} calls per minute); resets at ${clock(resetsAt)} UTC. No search was made: wait until then, or make fewer calls.`;
  }
  const figure = used === undefined ? `${max}` : `${Math.min(used, max)}/${max}`;
  const need = used !== undefined && used < max ? `; this call needs up to ${needed}` : '';
  const what = limit === 'credits_per_day_total' ? 'Daily Tavily credit budget for this server' : `Daily Tavily credit budget for this ${who}`;
  return `${what} reached (${figure}${need}); resets at 00:00 UTC. No search was made.`;
}

export const STORE_DENIED_MESSAGE =
  'Usage limits cannot be checked right now (the usage store is unavailable), so no search was made. Try again in a minute.';

const errorResult = (text: string): ToolCallResult => ({ content: [{ type: 'text', text }], isError: true });

/** Tavily bills answers, not failures; an answer that arrived too late (or garbled) may still have been billed. */
function mayHaveBeenCharged(error: unknown): boolean {
  return error instanceof TavilyError && (error.kind === 'timeout' || error.kind === 'bad_response');
}

export function createUsageGuard(options: UsageGuardOptions): AroundToolCall {
  const guard = guardFrom(options);
  return async function aroundToolCall(call, run) {
    const current = await begin(guard, call);
    const [refusal, cached] = await Promise.all([countCall(current), lookUpCache(current)]);
    if (refusal) return refusal;
    if (cached) return serveFromCache(current, cached);
    const reservation = await reserveCredits(current);
    if ('refusal' in reservation) return reservation.refusal;
    const { result, credits } = await runMetered(current, reservation, run);
    return settle(current, reservation, result, credits);
  };
}

/** The guard's settings, as every call's steps read them. */
interface Guard {
  readonly store: UsageStore;
  readonly limits: QuotaLimits;
  readonly cache: CacheSettings;
  /** Whether any quota is on: only then are credits reserved and Tavily's charges metered. */
  readonly counting: boolean;
  readonly now: () => number;
  readonly storeTimeoutMs: number;
  readonly onEvent?: (event: UsageEvent) => void;
}

function guardFrom(options: UsageGuardOptions): Guard {
  return {
    store: options.store,
    limits: options.limits,
    cache: options.cache,
    counting: quotasEnabled(options.limits),
    now: options.now ?? Date.now,
    storeTimeoutMs: options.storeTimeoutMs ?? STORE_TIMEOUT_MS,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  };
}

const overrideFor = (limits: QuotaLimits, identity: Identity) =>
  limits.overrides.find((each) => each.kind === identity.kind && each.id === identity.id);
const callLimit = (limits: QuotaLimits, identity: Identity) => overrideFor(limits, identity)?.callsPerMinute ?? limits.callsPerMinute;
const creditLimit = (limits: QuotaLimits, identity: Identity) => overrideFor(limits, identity)?.creditsPerDay ?? limits.creditsPerDay;

/** One call as its steps see it: the guard, the call, and what was worked out about it once. */
interface CurrentCall {
  readonly guard: Guard;
  readonly call: GuardedToolCall;
  /** Who and what, as every event names them. */
  readonly who: { readonly tool: string; readonly sub: string; readonly clientId: string };
  readonly started: number;
  readonly windows: ReturnType<typeof windowsAt>;
  readonly identities: readonly Identity[];
  /** How long its answer may be cached (0: not at all), and under which key. */
  readonly cacheLifetime: number;
  readonly cacheKey: string | undefined;
  report(event: UsageEvent): void;
  /** A signal for one store step: at most the store's timeout, and never into the time the tool itself needs. */
  storeSignal(): AbortSignal;
}

async function begin(guard: Guard, call: GuardedToolCall): Promise<CurrentCall> {
  const { tool, args, caller } = call;
  const started = guard.now();
  const cacheLifetime =
    guard.cache.ttlSeconds > 0 ? tool.cache.lifetimeSeconds(args, { seconds: guard.cache.ttlSeconds, newsSeconds: guard.cache.newsTtlSeconds }) : 0;
  return {
    guard,
    call,
    who: { tool: tool.name, sub: caller.sub, clientId: caller.clientId },
    started,
    windows: windowsAt(started),
    identities: identitiesOf(caller),
    cacheLifetime,
    cacheKey: cacheLifetime > 0 ? await cacheKey(tool.name, tool.tavilyRequest(args), guard.cache.scope, caller) : undefined,
    report: (event) => guard.onEvent?.(event),
    storeSignal: () => AbortSignal.timeout(Math.max(1, Math.min(guard.storeTimeoutMs, call.deadline - guard.now() - TOOL_RESERVE_MS))),
  };
}

/** Step 1: one more call this minute for each identity with a limit. A refusal, or undefined to go on. */
async function countCall(current: CurrentCall): Promise<ToolCallResult | undefined> {
  const { guard, who, windows } = current;
  const { store, limits } = guard;
  const signal = current.storeSignal();
  const counters: CounterUpdate[] = current.identities
    .filter((identity) => callLimit(limits, identity) > 0)
    .map((identity) => ({
      key: `calls#${windows.minute}#${identity.kind}#${identity.id}`,
      attribute: 'n',
      amount: 1,
      max: callLimit(limits, identity),
      expiresAt: Math.floor(windows.minuteEnds / 1000) + 60,
      labels: { kind: identity.kind },
    }));
  const results = await Promise.allSettled(counters.map((counter) => store.add(counter, { signal })));

  const failure = results.find((result) => result.status === 'rejected');
  const refused = results.findIndex((result) => result.status === 'fulfilled' && !result.value.counted);
  if (refused >= 0 || (failure && limits.onStoreError === 'deny')) {
    // Give back what was counted, so that a refused call costs nobody a slot.
    const counted = counters.filter((_, index) => {
      const result = results[index]!;
      return result.status === 'fulfilled' && result.value.counted;
    });
    await Promise.allSettled(counted.map((counter) => store.add({ ...counter, amount: -1, max: undefined }, { signal: current.storeSignal() })));
  }
  if (refused >= 0) {
    const counter = counters[refused]!;
    const subject = counter.labels!.kind as Subject;
    current.report({ kind: 'refused', limit: 'calls_per_minute', subject, ...who, max: counter.max! });
    return errorResult(refusalMessage('calls_per_minute', subject, counter.max!, undefined, 1, windows.minuteEnds));
  }
  if (failure) return storeFailed(current, failure.reason);
  return undefined;
}

/** Step 2: the answer to an identical call, if one is stored and still fresh. A store failure only skips the cache. */
async function lookUpCache(current: CurrentCall): Promise<{ entry: CachedResult; item: CachedItem } | undefined> {
  if (!current.cacheKey) return undefined;
  const item = await current.guard.store.getCached(current.cacheKey, { signal: current.storeSignal() }).catch((error: unknown) => {
    current.report({ kind: 'store_error', operation: 'get', reason: reasonOf(error), ...current.who, decision: 'cache_skipped' });
    return undefined;
  });
  if (!item || item.expiresAt * 1000 <= current.started) return undefined;
  const entry = await unpackResult(item.body);
  return entry && { entry, item };
}

function serveFromCache(current: CurrentCall, { entry, item }: { entry: CachedResult; item: CachedItem }): ToolCallResult {
  const ageSeconds = Math.max(0, Math.round((current.started - item.storedAt) / 1000));
  current.report({ kind: 'call', ...current.who, cache: 'hit', credits: 0, estimatedCredits: 0 });
  return {
    // The answer first, as it was; the note after it, so that a client reading the first block reads the same.
    content: [
      { type: 'text', text: entry.text },
      { type: 'text', text: `(From this server's cache: the same call was answered ${ageSeconds} s ago; no Tavily credits used.)` },
    ],
    structuredContent: { ...entry.structured, cache: { hit: true, age_seconds: ageSeconds, stored_at: new Date(item.storedAt).toISOString() } },
  };
}

type CreditCounter = CounterUpdate & { readonly subject: Subject };

/** The credits a call holds on each daily budget until it settles. */
interface Reservation {
  /** The tool's estimate for the call: the most its arguments can cost. */
  readonly estimate: number;
  /** The budgets it was counted on, with the value each stood at after. */
  readonly reserved: ReadonlyArray<{ readonly counter: CreditCounter; readonly value: number }>;
}

/** Step 3: the tool's estimate, taken from every daily budget at once, or from none. A refusal, or the reservation. */
async function reserveCredits(current: CurrentCall): Promise<Reservation | { refusal: ToolCallResult }> {
  const { guard, call, who, windows } = current;
  const { store, limits } = guard;
  const estimate = call.tool.credits.estimate(call.args);
  if (!guard.counting) return { estimate, reserved: [] };

  const dayExpires = Math.floor(windows.dayEnds / 1000) + 2 * 86_400;
  const budgets = [
    ...current.identities.map((identity) => ({ subject: identity.kind as Subject, caller: identity.id, max: creditLimit(limits, identity) })),
    { subject: 'total' as Subject, caller: '*', max: limits.creditsPerDayTotal },
  ];
  const counters: CreditCounter[] = budgets.map(({ subject, caller, max }) => ({
    subject,
    key: `credits#${windows.day}#${subject}#${caller}`,
    attribute: 'credits',
    amount: estimate,
    ...(max > 0 ? { max } : {}),
    expiresAt: dayExpires,
    alsoAdd: { calls: 1 },
    labels: { day: windows.day, kind: subject, caller },
  }));
  const signal = current.storeSignal();
  const results = await Promise.allSettled(counters.map((counter) => store.add(counter, { signal })));
  const reserved = results.flatMap((result, index) =>
    result.status === 'fulfilled' && result.value.counted ? [{ counter: counters[index]!, value: result.value.value }] : [],
  );

  const refused = results.findIndex((result) => result.status === 'fulfilled' && !result.value.counted);
  const failure = results.find((result) => result.status === 'rejected');
  if (refused >= 0 || (failure && limits.onStoreError === 'deny')) {
    await Promise.allSettled(
      reserved.map(({ counter }) => store.add({ ...counter, amount: -estimate, max: undefined, alsoAdd: { calls: -1 } }, { signal: current.storeSignal() })),
    );
  }
  if (refused >= 0) {
    const counter = counters[refused]!;
    const used = (results[refused] as PromiseFulfilledResult<{ counted: false; value: number | undefined }>).value.value;
    const limit: LimitName = counter.subject === 'total' ? 'credits_per_day_total' : 'credits_per_day';
    current.report({ kind: 'refused', limit, subject: counter.subject, ...who, ...(used !== undefined ? { used } : {}), max: counter.max! });
    return { refusal: errorResult(refusalMessage(limit, counter.subject, counter.max!, used, estimate, windows.dayEnds)) };
  }
  if (failure) {
    const refusal = storeFailed(current, failure.reason);
    if (refusal) return { refusal };
  }
  return { estimate, reserved };
}

/** Step 4: the tool, run with a Tavily client that meters what each answer cost (when quotas count). */
async function runMetered(
  current: CurrentCall,
  reservation: Reservation,
  run: (tavily: TavilyClient) => Promise<ToolCallResult>,
): Promise<{ result: ToolCallResult; credits: number }> {
  const { guard, call } = current;
  let charged = 0;
  let answered = false;
  const tavily: TavilyClient = guard.counting
    ? {
        async call(endpoint, body, callOptions) {
          try {
            const answer = await call.tavily.call(endpoint, { ...body, include_usage: true }, callOptions);
            answered = true;
            charged += chargedCredits(call.tool.credits, call.args, answer);
            return answer;
          } catch (error) {
            if (mayHaveBeenCharged(error)) {
              answered = true;
              charged += reservation.estimate;
            }
            throw error;
          }
        },
      }
    : call.tavily;
  try {
    const result = await run(tavily);
    return { result, credits: answered ? charged : 0 };
  } catch (error) {
    await settleCredits(current, reservation, answered ? charged : 0, current.storeSignal());
    throw error;
  }
}

/** Step 5: the reservation moved to what the call cost, and its answer cached; then the call's one event. */
async function settle(current: CurrentCall, reservation: Reservation, result: ToolCallResult, credits: number): Promise<ToolCallResult> {
  const signal = current.storeSignal();
  const [totalToday, cache] = await Promise.all([settleCredits(current, reservation, credits, signal), storeInCache(current, result, signal)]);
  current.report({
    kind: 'call',
    ...current.who,
    cache,
    credits,
    estimatedCredits: reservation.estimate,
    ...(totalToday !== undefined ? { totalCreditsToday: totalToday } : {}),
  });
  return result;
}

/** Each budget moved by the difference between the estimate and `actual`; the server's total after it, when known. */
async function settleCredits(current: CurrentCall, reservation: Reservation, actual: number, signal: AbortSignal): Promise<number | undefined> {
  const { estimate, reserved } = reservation;
  const delta = actual - estimate;
  const total = reserved.find(({ counter }) => counter.subject === 'total');
  if (delta === 0) return total?.value;
  const results = await Promise.allSettled(
    reserved.map(({ counter }) => current.guard.store.add({ ...counter, amount: delta, max: undefined, alsoAdd: {} }, { signal })),
  );
  const failed = results.find((each) => each.status === 'rejected');
  if (failed) current.report({ kind: 'store_error', operation: 'settle', reason: reasonOf(failed.reason), ...current.who, decision: 'not_settled' });
  const settled = total ? results[reserved.indexOf(total)] : undefined;
  return settled?.status === 'fulfilled' ? settled.value.value : total ? total.value + delta : undefined;
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
    current.report({ kind: 'store_error', operation: 'put', reason: reasonOf(error), ...current.who, decision: 'cache_skipped' });
    return 'not_stored';
  }
}

/** A counter the store could not update: QUOTA_ON_STORE_ERROR says whether the call goes on (undefined) or is refused. */
function storeFailed(current: CurrentCall, error: unknown): ToolCallResult | undefined {
  const denied = current.guard.limits.onStoreError === 'deny';
  current.report({ kind: 'store_error', operation: 'add', reason: reasonOf(error), ...current.who, decision: denied ? 'denied' : 'allowed' });
  return denied ? errorResult(STORE_DENIED_MESSAGE) : undefined;
}

function reasonOf(error: unknown): string {
  if (error instanceof UsageStoreError) return error.reason;
  return (error as { name?: string })?.name ?? 'Error';
}
