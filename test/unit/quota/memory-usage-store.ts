/**
 * The usage store's contract in memory, for tests of what the guard decides:
 * a counter refuses, changing nothing, an amount that would take it past its
 * `max`, as the DynamoDB store's conditional ADD does (usage-store.ts).
 */
import type { CachedItem, CounterUpdate, UsageStore } from '../../../lambda/mcp/quota/usage-store.js';

export interface MemoryUsageStore extends UsageStore {
  /** Each counter item's attributes, by key. */
  readonly counters: Map<string, Record<string, number>>;
  readonly cached: Map<string, CachedItem>;
}

export function memoryUsageStore(): MemoryUsageStore {
  const counters = new Map<string, Record<string, number>>();
  const cached = new Map<string, CachedItem>();
  return {
    counters,
    cached,
    async add(update: CounterUpdate) {
      const item = counters.get(update.key) ?? {};
      const current = item[update.attribute];
      if (update.max !== undefined && update.amount > update.max) return { counted: false, value: undefined };
      if (update.max !== undefined && current !== undefined && current > update.max - update.amount) return { counted: false, value: current };
      const next = { ...item, [update.attribute]: (current ?? 0) + update.amount };
      for (const [attribute, amount] of Object.entries(update.alsoAdd ?? {})) next[attribute] = (next[attribute] ?? 0) + amount;
      counters.set(update.key, next);
      return { counted: true, value: next[update.attribute]! };
    },
    async getCached(key) {
      return cached.get(key);
    },
    async putCached(key, item) {
      cached.set(key, item);
    },
  };
}
