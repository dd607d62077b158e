/**
 * The MCP function's quotas and result cache, from its settings: the guard
 * around tool calls (usage-guard.ts) on the DynamoDB store, reporting to the
 * function's logs and metrics. Nothing here runs, and no AWS SDK loads, when
 * quotas and cache are both off.
 */
import { MetricUnit, type Observability } from '../../shared/observability.js';
import { definitions as d } from '../../shared/settings.js';
import { createUsageGuard, quotasEnabled, type AroundToolCall, type UsageEvent, type UsageGuardOptions } from './usage-guard.js';
import { createDynamoUsageStore, type UsageStore } from './usage-store.js';

/** The settings it reads, for the function's one `parseSettings` (and the CDK app's). */
export const USAGE_SETTINGS = {
  quotaCallsPerMinute: ['QUOTA_CALLS_PER_MINUTE', d.quotaCallsPerMinute],
  quotaCreditsPerDay: ['QUOTA_CREDITS_PER_DAY', d.quotaCreditsPerDay],
  quotaCreditsPerDayTotal: ['QUOTA_CREDITS_PER_DAY_TOTAL', d.quotaCreditsPerDayTotal],
  quotaOverrides: ['QUOTA_OVERRIDES', d.quotaOverrides],
  quotaOnStoreError: ['QUOTA_ON_STORE_ERROR', d.quotaOnStoreError],
  cacheTtlSeconds: ['CACHE_TTL_SECONDS', d.cacheTtlSeconds],
  cacheTtlNewsSeconds: ['CACHE_TTL_NEWS_SECONDS', d.cacheTtlNewsSeconds],
  cacheScope: ['CACHE_SCOPE', d.cacheScope],
  usageTableName: ['USAGE_TABLE_NAME', d.usageTableName],
  usageTableEndpoint: ['USAGE_TABLE_ENDPOINT', d.usageTableEndpoint],
} as const;

export interface UsageSettings {
  readonly quotaCallsPerMinute: number;
  readonly quotaCreditsPerDay: number;
  readonly quotaCreditsPerDayTotal: number;
  readonly quotaOverrides: UsageGuardOptions['limits']['overrides'];
  readonly quotaOnStoreError: 'allow' | 'deny';
  readonly cacheTtlSeconds: number;
  readonly cacheTtlNewsSeconds: number;
  readonly cacheScope: 'shared' | 'caller';
  readonly usageTableName?: string;
  readonly usageTableEndpoint?: string;
}

export function guardOptionsFrom(settings: UsageSettings): Pick<UsageGuardOptions, 'limits' | 'cache'> {
  return {
    limits: {
      callsPerMinute: settings.quotaCallsPerMinute,
      creditsPerDay: settings.quotaCreditsPerDay,
      creditsPerDayTotal: settings.quotaCreditsPerDayTotal,
      overrides: settings.quotaOverrides,
      onStoreError: settings.quotaOnStoreError,
    },
    cache: { ttlSeconds: settings.cacheTtlSeconds, newsTtlSeconds: settings.cacheTtlNewsSeconds, scope: settings.cacheScope },
  };
}

/** Whether quotas or the cache are on, i.e. whether the function needs the table. */
export function usageNeedsTable(settings: UsageSettings): boolean {
  const { limits, cache } = guardOptionsFrom(settings);
  return quotasEnabled(limits) || cache.ttlSeconds > 0;
}

/** One log line and the metrics per event. Log fields `sub`/`client_id` feed the Contributor Insights rules. */
export function reportUsage(observability: Observability) {
  const { logger } = observability;
  return (event: UsageEvent) => {
    const caller = { sub: event.sub, client_id: event.clientId, tool: event.tool };
    switch (event.kind) {
      case 'call':
        logger.info('Usage', {
          ...caller,
          cache: event.cache,
          credits: event.credits,
          estimatedCredits: event.estimatedCredits,
          ...(event.totalCreditsToday !== undefined ? { totalCreditsToday: event.totalCreditsToday } : {}),
        });
        observability.count('CacheLookups', { Result: event.cache });
        if (event.credits > 0) observability.measure('TavilyCredits', MetricUnit.Count, event.credits);
        if (event.totalCreditsToday !== undefined) observability.measure('DailyCreditsUsed', MetricUnit.Count, event.totalCreditsToday);
        return;
      case 'refused':
        logger.warn('Quota refused', { ...caller, limit: event.limit, subject: event.subject, max: event.max, ...(event.used !== undefined ? { used: event.used } : {}) });
        observability.count('QuotaRefusals', { Limit: event.limit });
        return;
      case 'store_error':
        logger.warn('Usage store error', { ...caller, operation: event.operation, reason: event.reason, decision: event.decision });
        observability.count('UsageStoreErrors', { Operation: event.operation });
        return;
    }
  };
}

/** The hook for createMcpServer, or undefined when quotas and cache are both off (nothing on the path then). */
export function usageGuardFromSettings(
  settings: UsageSettings,
  observability: Observability,
  store?: UsageStore,
): AroundToolCall | undefined {
  if (!usageNeedsTable(settings)) return undefined;
  if (!settings.usageTableName && !store) {
    throw new Error('USAGE_TABLE_NAME is not set, but quotas or the result cache are on (the stack sets it; set CACHE_TTL_SECONDS=0 to run without a table)');
  }
  return createUsageGuard({
    ...guardOptionsFrom(settings),
    store: store ?? createDynamoUsageStore({ tableName: settings.usageTableName!, ...(settings.usageTableEndpoint ? { endpoint: settings.usageTableEndpoint } : {}) }),
    onEvent: reportUsage(observability),
  });
}
