/**
 * Per-caller quotas, the server's daily credit cap and the result cache, around
 * one tool call. The MCP server hands each validated tool call to
 * `aroundToolCall` (its one hook for this) with a function that runs the tool;
 * the guard decides whether it runs at all, with which Tavily client, and what
 * is remembered afterwards:
 *
 * 1. Calls per minute are counted for the token's `sub` and its `client_id`
 *    separately (once when they are the same: machine tokens), cache hits included.
 * 2. A cached answer to an identical call is served as it is, saying so: no credits.
 * 3. The call's estimated credits are reserved on the caller's daily budgets and the
 *    server's daily cap, each a conditional ADD that cannot go past its limit.
 * 4. The tool runs; Tavily reports what it charged (`include_usage`), and the
 *    reservation is corrected to that. A result that fits in an item is cached.
 *
 * A refusal is an `isError` result naming the limit, the figures and when it
 * resets, and Tavily is not called. When the store fails, QUOTA_ON_STORE_ERROR
 * decides (allow or deny), the cache is skipped, and an event says so. The store
 * never gets more than a short slice of the invocation's remaining time.
 */
import type { QuotaOverride } from '../../shared/settings.js';
import { TavilyError, type TavilyClient } from '../tavily.js';
import { actualCredits, estimateCredits } from './credits.js';
import { cacheKey, cacheLifetimeSeconds, packResult, unpackResult, type CacheScope } from './result-cache.js';
import { quotasEnabled } from './usage-settings.js';
import { UsageStoreError, type CounterUpdate, type UsageStore } from './usage-store.js';

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

export interface GuardedToolCall {
  readonly tool: string;
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
  const { store, limits } = options;
  const now = options.now ?? Date.now;
  const storeTimeoutMs = options.storeTimeoutMs ?? STORE_TIMEOUT_MS;
  const counting = quotasEnabled(limits);
  const override = (identity: Identity) => limits.overrides.find((each) => each.kind === identity.kind && each.id === identity.id);
  const callLimit = (identity: Identity) => override(identity)?.callsPerMinute ?? limits.callsPerMinute;
  const creditLimit = (identity: Identity) => override(identity)?.creditsPerDay ?? limits.creditsPerDay;

  return async function aroundToolCall(call, run) {
    const { tool, args, caller } = call;
    const who = { tool, sub: caller.sub, clientId: caller.clientId };
    const report = (event: UsageEvent) => options.onEvent?.(event);
    const storeSignal = () => AbortSignal.timeout(Math.max(1, Math.min(storeTimeoutMs, call.deadline - now() - TOOL_RESERVE_MS)));
    const started = now();
    const windows = windowsAt(started);
    const identities = identitiesOf(caller);
    const ttl = cacheLifetimeSeconds(tool, args, { seconds: options.cache.ttlSeconds, newsSeconds: options.cache.newsTtlSeconds });

    // 1. Calls per minute, and the cache lookup, at once.
    const checkSignal = storeSignal();
    const callCounters: CounterUpdate[] = identities
      .filter((identity) => callLimit(identity) > 0)
      .map((identity) => ({
        key: `calls#${windows.minute}#${identity.kind}#${identity.id}`,
        attribute: 'n',
        amount: 1,
        max: callLimit(identity),
        expiresAt: Math.floor(windows.minuteEnds / 1000) + 60,
        labels: { kind: identity.kind },
      }));
    const key = ttl > 0 ? await cacheKey(tool, args, options.cache.scope, caller) : undefined;
    const [callResults, cached] = await Promise.all([
      Promise.allSettled(callCounters.map((counter) => store.add(counter, { signal: checkSignal }))),
      key
        ? store.getCached(key, { signal: checkSignal }).catch((error: unknown) => {
            report({ kind: 'store_error', operation: 'get', reason: reasonOf(error), ...who, decision: 'cache_skipped' });
            return undefined;
          })
        : Promise.resolve(undefined),
    ]);

    const callFailure = callResults.find((result) => result.status === 'rejected');
    const callRefusal = callResults.findIndex((result) => result.status === 'fulfilled' && !result.value.counted);
    if (callRefusal >= 0 || (callFailure && limits.onStoreError === 'deny')) {
      // Give back what was counted, so that a refused call costs nobody a slot.
      const refunds = callCounters.filter((_, index) => {
        const result = callResults[index]!;
        return result.status === 'fulfilled' && result.value.counted;
      });
      await Promise.allSettled(refunds.map((counter) => store.add({ ...counter, amount: -1, max: undefined }, { signal: storeSignal() })));
    }
    if (callRefusal >= 0) {
      const counter = callCounters[callRefusal]!;
      const identity = counter.labels!.kind as Subject;
      report({ kind: 'refused', limit: 'calls_per_minute', subject: identity, ...who, max: counter.max! });
      return errorResult(refusalMessage('calls_per_minute', identity, counter.max!, undefined, 1, windows.minuteEnds));
    }
    if (callFailure) {
      const denied = limits.onStoreError === 'deny';
      report({ kind: 'store_error', operation: 'add', reason: reasonOf(callFailure.reason), ...who, decision: denied ? 'denied' : 'allowed' });
      if (denied) return errorResult(STORE_DENIED_MESSAGE);
    }

    // 2. An identical call answered recently.
    if (cached && cached.expiresAt * 1000 > started) {
      const entry = await unpackResult(cached.body);
      if (entry) {
        const ageSeconds = Math.max(0, Math.round((started - cached.storedAt) / 1000));
        report({ kind: 'call', ...who, cache: 'hit', credits: 0, estimatedCredits: 0 });
        return {
          // The answer first, as it was; the note after it, so that a client reading the first block reads the same.
          content: [
            { type: 'text', text: entry.text },
            { type: 'text', text: `(From this server's cache: the same call was answered ${ageSeconds} s ago; no Tavily credits used.)` },
          ],
          structuredContent: { ...entry.structured, cache: { hit: true, age_seconds: ageSeconds, stored_at: new Date(cached.storedAt).toISOString() } },
        };
      }
    }

    // 3. Reserve the estimate on every daily budget.
    const estimate = estimateCredits(tool, args);
    const dayExpires = Math.floor(windows.dayEnds / 1000) + 2 * 86_400;
    const creditCounters: Array<CounterUpdate & { subject: Subject }> = counting
      ? [
          ...identities.map((identity) => ({ subject: identity.kind as Subject, caller: identity.id, max: creditLimit(identity) })),
          { subject: 'total' as Subject, caller: '*', max: limits.creditsPerDayTotal },
        ].map(({ subject, caller: id, max }) => ({
          subject,
          key: `credits#${windows.day}#${subject}#${id}`,
          attribute: 'credits' as const,
          amount: estimate,
          ...(max > 0 ? { max } : {}),
          expiresAt: dayExpires,
          alsoAdd: { calls: 1 },
          labels: { day: windows.day, kind: subject, caller: id },
        }))
      : [];
    let reserved: Array<{ counter: (typeof creditCounters)[number]; value: number }> = [];
    if (creditCounters.length > 0) {
      const reserveSignal = storeSignal();
      const results = await Promise.allSettled(creditCounters.map((counter) => store.add(counter, { signal: reserveSignal })));
      reserved = results.flatMap((result, index) =>
        result.status === 'fulfilled' && result.value.counted ? [{ counter: creditCounters[index]!, value: result.value.value }] : [],
      );
      const refusal = results.findIndex((result) => result.status === 'fulfilled' && !result.value.counted);
      const failure = results.find((result) => result.status === 'rejected');
      if (refusal >= 0 || (failure && limits.onStoreError === 'deny')) {
        await Promise.allSettled(
          reserved.map(({ counter }) => store.add({ ...counter, amount: -estimate, max: undefined, alsoAdd: { calls: -1 } }, { signal: storeSignal() })),
        );
      }
      if (refusal >= 0) {
        const counter = creditCounters[refusal]!;
        const refused = results[refusal] as PromiseFulfilledResult<{ counted: false; value: number | undefined }>;
        const limit: LimitName = counter.subject === 'total' ? 'credits_per_day_total' : 'credits_per_day';
        report({ kind: 'refused', limit, subject: counter.subject, ...who, ...(refused.value.value !== undefined ? { used: refused.value.value } : {}), max: counter.max! });
        return errorResult(refusalMessage(limit, counter.subject, counter.max!, refused.value.value, estimate, windows.dayEnds));
      }
      if (failure) {
        const denied = limits.onStoreError === 'deny';
        report({ kind: 'store_error', operation: 'add', reason: reasonOf(failure.reason), ...who, decision: denied ? 'denied' : 'allowed' });
        if (denied) return errorResult(STORE_DENIED_MESSAGE);
      }
    }

    // 4. Run the tool, metering what Tavily charges.
    let charged = 0;
    let answered = false;
    const tavily: TavilyClient = counting
      ? {
          async call(endpoint, body, callOptions) {
            try {
              const answer = await call.tavily.call(endpoint, { ...body, include_usage: true }, callOptions);
              answered = true;
              charged += actualCredits(tool, args, answer);
              return answer;
            } catch (error) {
              if (mayHaveBeenCharged(error)) {
                answered = true;
                charged += estimate;
              }
              throw error;
            }
          },
        }
      : call.tavily;
    let result: ToolCallResult;
    try {
      result = await run(tavily);
    } catch (error) {
      await settle(answered ? charged : 0);
      throw error;
    }
    const credits = answered ? charged : 0;

    // 5. Correct the reservation, and remember the answer.
    const settleSignal = storeSignal();
    let cacheOutcome: 'miss' | 'off' | 'not_stored' = key ? 'miss' : 'off';
    const storing = async () => {
      if (!key || result.isError || !result.structuredContent) return;
      const text = result.content.flatMap((block) => (block.type === 'text' && block.text !== undefined ? [block.text] : [])).join('\n\n');
      const body = await packResult({ text, structured: result.structuredContent });
      if (!body) {
        cacheOutcome = 'not_stored';
        return;
      }
      const storedAt = now();
      await store.putCached(key, { body, storedAt, expiresAt: Math.floor(storedAt / 1000) + ttl }, { signal: settleSignal }).catch((error: unknown) => {
        cacheOutcome = 'not_stored';
        report({ kind: 'store_error', operation: 'put', reason: reasonOf(error), ...who, decision: 'cache_skipped' });
      });
    };
    const [totalToday] = await Promise.all([settle(credits, settleSignal), storing()]);
    report({ kind: 'call', ...who, cache: cacheOutcome, credits, estimatedCredits: estimate, ...(totalToday !== undefined ? { totalCreditsToday: totalToday } : {}) });
    return result;

    /** Move each reservation to the actual cost; the server's total after it, when known. */
    async function settle(actual: number, signal = storeSignal()): Promise<number | undefined> {
      const delta = actual - estimate;
      const total = reserved.find(({ counter }) => counter.subject === 'total');
      if (delta === 0) return total?.value;
      const results = await Promise.allSettled(
        reserved.map(({ counter }) => store.add({ ...counter, amount: delta, max: undefined, alsoAdd: {} }, { signal })),
      );
      const failed = results.find((each) => each.status === 'rejected');
      if (failed) report({ kind: 'store_error', operation: 'settle', reason: reasonOf(failed.reason), ...who, decision: 'not_settled' });
      const totalIndex = total ? reserved.indexOf(total) : -1;
      const settled = totalIndex >= 0 ? results[totalIndex] : undefined;
      return settled?.status === 'fulfilled' ? settled.value.value : total ? total.value + delta : undefined;
    }
  };
}

function reasonOf(error: unknown): string {
  if (error instanceof UsageStoreError) return error.reason;
  return (error as { name?: string })?.name ?? 'Error';
}
