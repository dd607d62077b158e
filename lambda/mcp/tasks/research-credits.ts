/**
 * The one adapter between research and the usage guard (quota/usage-guard.ts).
 *
 * The guard reserves and settles within one tool call. A research outlives the
 * call that starts it, so its money moves in two steps:
 * - the web_research call goes through the guard like any tool call: counted
 *   per minute, refused by name over a budget (no Tavily call then), and its
 *   worst case reserved by the tool's credit rule (tools/web-research.ts), which
 *   prices the start at that same worst case, so the guard leaves it reserved;
 * - when a later poll sees the research finish, `settle` moves the same daily
 *   counters from the worst case to what Tavily reported it cost.
 *
 * The guard's interface has no settlement after its call, so the counters'
 * keys are written here as the guard writes them (its `reserveCredits`), with
 * its own `identitiesOf` and `windowsAt`: when the guard offers a deferred
 * settlement, this module is what changes, and nothing else.
 */
import { identitiesOf, windowsAt } from '../quota/usage-guard.js';
import { guardOptionsFrom, quotasEnabled, type UsageSettings } from '../quota/usage-settings.js';
import { createDynamoUsageStore, type UsageStore } from '../quota/usage-store.js';

export interface Caller {
  readonly sub: string;
  readonly clientId: string;
}

/** What a research holds on the daily budgets until it settles. */
export interface CreditReservation {
  /** The UTC day the guard reserved on (`YYYY-MM-DD`). */
  readonly day: string;
  readonly credits: number;
}

export interface ResearchCredits {
  /** What the guard reserved for a research started at `startedAt` costing at most `worstCase`; undefined when quotas are off (nothing). */
  reservationFor(worstCase: number, startedAt: number): CreditReservation | undefined;
  /** The reservation moved to `actual`, on every budget it was made on. Never throws: a failure is reported. */
  settle(caller: Caller, reservation: CreditReservation, actual: number, signal: AbortSignal): Promise<void>;
}

/** The guard's daily credit counters a caller's reservation is on: the caller's identities, and the server's total. */
function counterKeys(caller: Caller, day: string): string[] {
  return [...identitiesOf(caller).map((identity) => `credits#${day}#${identity.kind}#${identity.id}`), `credits#${day}#total#*`];
}

export function createResearchCredits(options: {
  readonly settings: UsageSettings;
  /** Default: the usage table's DynamoDB store, when quotas are on. */
  readonly store?: UsageStore;
  readonly onSettleFailed?: (reason: string) => void;
}): ResearchCredits {
  const counting = quotasEnabled(guardOptionsFrom(options.settings).limits);
  const { usageTableName, usageTableEndpoint } = options.settings;
  let store = options.store;
  const storeFor = () =>
    (store ??= usageTableName ? createDynamoUsageStore({ tableName: usageTableName, ...(usageTableEndpoint ? { endpoint: usageTableEndpoint } : {}) }) : undefined);

  return {
    reservationFor(worstCase, startedAt) {
      return counting ? { day: windowsAt(startedAt).day, credits: worstCase } : undefined;
    },

    async settle(caller, reservation, actual, signal) {
      const delta = actual - reservation.credits;
      const usage = storeFor();
      if (delta === 0 || !usage) return;
      // As the guard's own settlement: no limit (what was spent is spent), the window's expiry kept.
      const expiresAt = Math.floor(Date.parse(`${reservation.day}T00:00:00Z`) / 1000) + 3 * 86_400;
      const results = await Promise.allSettled(
        counterKeys(caller, reservation.day).map((key) => usage.add({ key, attribute: 'credits', amount: delta, expiresAt }, { signal })),
      );
      const failed = results.find((result) => result.status === 'rejected');
      if (failed) options.onSettleFailed?.((failed.reason as { reason?: string })?.reason ?? 'Error');
    },
  };
}
