/**
 * The one adapter between research and the usage guard (quota/usage-guard.ts).
 *
 * The guard reserves and settles within one tool call. A research outlives the
 * call that starts it, so its money moves in two steps:
 * - the web_research call goes through the guard like any tool call: counted
 *   per minute, refused by name over a budget (no Tavily call then), and its
 *   worst case reserved by the tool's credit rule (tools/web-research.ts), which
 *   prices the start at that same worst case, so the guard leaves it reserved;
 * - when a later poll sees the research finish, `settle` hands the reservation
 *   to the guard's `settleReservation`, which brings the same items (the
 *   caller's identities and the server's, on the day it was reserved) down to
 *   what Tavily reported it cost. The items' keys and layout stay the guard's.
 */
import { settleReservation, windowsAt, type GuardedToolCall } from '../quota/usage-guard.js';
import { guardOptionsFrom, quotasEnabled, type UsageSettings } from '../quota/usage-settings.js';
import { createDynamoUsageStore, type UsageStore } from '../quota/usage-store.js';

/** Who a research is for, as the guard counts callers. */
export type Caller = GuardedToolCall['caller'];

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

export function createResearchCredits(options: {
  readonly settings: UsageSettings;
  /** Default: the usage table's DynamoDB store, when quotas are on. */
  readonly store?: UsageStore;
  readonly onSettleFailed?: (reason: string) => void;
}): ResearchCredits {
  const { limits } = guardOptionsFrom(options.settings);
  const counting = quotasEnabled(limits);
  const { usageTableName, usageTableEndpoint, usageStoreTimeoutMs } = options.settings;
  let store = options.store;
  const storeFor = () =>
    (store ??= usageTableName
      ? createDynamoUsageStore({
          tableName: usageTableName,
          ...(usageTableEndpoint ? { endpoint: usageTableEndpoint } : {}),
          ...(usageStoreTimeoutMs !== undefined ? { requestTimeoutMs: usageStoreTimeoutMs } : {}),
        })
      : undefined);

  return {
    reservationFor(worstCase, startedAt) {
      return counting ? { day: windowsAt(startedAt).day, credits: worstCase } : undefined;
    },

    async settle(caller, reservation, actual, signal) {
      const usage = storeFor();
      if (!usage) return;
      try {
        await settleReservation(usage, { caller, day: reservation.day, reserved: reservation.credits, charged: actual }, limits, { signal });
      } catch (error) {
        options.onSettleFailed?.((error as { reason?: string } | undefined)?.reason ?? 'Error');
      }
    },
  };
}
