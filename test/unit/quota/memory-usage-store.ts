/**
 * The usage store's contract in memory, for tests of what the guard decides:
 * an identity's counters in one item, changed all at once or not at all; a
 * count refused, changing nothing, when any of its limits would be passed; a
 * new minute starting its count again; a call given back only to the minute it
 * was counted in; as the DynamoDB store's conditional update does (usage-store.ts).
 */
import type { CachedItem, CountResult, UsageCount, UsageCounters, UsageStore } from '../../../lambda/mcp/quota/usage-store.js';

export interface MemoryUsageStore extends UsageStore {
  /** Each usage item's counters, by key. */
  readonly items: Map<string, UsageCounters>;
  /** Each usage item's labels (day, kind, caller), by key. */
  readonly labels: Map<string, Readonly<Record<string, string>>>;
  readonly cached: Map<string, CachedItem>;
  /** Every count asked for, in order. */
  readonly counts: UsageCount[];
}

export function memoryUsageStore(): MemoryUsageStore {
  const items = new Map<string, UsageCounters>();
  const labels = new Map<string, Readonly<Record<string, string>>>();
  const cached = new Map<string, CachedItem>();
  const counts: UsageCount[] = [];
  return {
    items,
    labels,
    cached,
    counts,
    async count(update): Promise<CountResult> {
      counts.push(update);
      if (update.minuteCalls?.max !== undefined && update.minuteCalls.amount > update.minuteCalls.max) return { counted: false, over: 'calls_per_minute', counters: undefined };
      if (update.creditsMax !== undefined && update.credits > update.creditsMax) return { counted: false, over: 'credits_per_day', counters: undefined };
      const item = items.get(update.key);
      const counters: UsageCounters = item ?? { credits: 0, calls: 0, minuteCalls: 0 };
      let { minute, minuteCalls } = counters;
      if (update.minuteCalls) {
        const { amount, max } = update.minuteCalls;
        if (amount > 0) {
          if (minute === undefined || minute < update.minuteCalls.minute) {
            minute = update.minuteCalls.minute;
            minuteCalls = 0;
          }
          if (max !== undefined && minuteCalls + amount > max) return { counted: false, over: 'calls_per_minute', counters: item };
          minuteCalls += amount;
        } else if (minute === update.minuteCalls.minute) {
          minuteCalls += amount;
        }
      }
      if (update.creditsMax !== undefined && update.credits > 0 && counters.credits + update.credits > update.creditsMax) {
        return { counted: false, over: 'credits_per_day', counters: item };
      }
      const next = {
        credits: counters.credits + update.credits,
        calls: counters.calls + update.calls,
        ...(minute !== undefined ? { minute } : {}),
        minuteCalls,
      };
      items.set(update.key, next);
      labels.set(update.key, update.labels);
      return { counted: true, counters: next };
    },
    async getCached(key) {
      return cached.get(key);
    },
    async putCached(key, item) {
      cached.set(key, item);
    },
  };
}
