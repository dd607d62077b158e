/**
 * The quota and cache settings: what the MCP function and the CDK app read
 * (through their one `parseSettings` each), and the function environment the
 * stack and the local stack give it. No AWS SDK, no Powertools: the CDK app imports this.
 */
import { definitions as d, formatQuotaOverrides } from '../../shared/settings.js';
import type { CacheScope } from './result-cache.js';
import type { QuotaLimits, UsageGuardOptions } from './usage-guard.js';

/** Whether any quota is on (a limit, or an override): then calls are counted. */
export function quotasEnabled(limits: QuotaLimits): boolean {
  return limits.callsPerMinute > 0 || limits.creditsPerDay > 0 || limits.creditsPerDayTotal > 0 || limits.overrides.length > 0;
}

/** The settings it reads, for the function's one `parseSettings` (and the CDK app's). */
export const QUOTA_AND_CACHE_SETTINGS = {
  quotaCallsPerMinute: ['QUOTA_CALLS_PER_MINUTE', d.quotaCallsPerMinute],
  quotaCreditsPerDay: ['QUOTA_CREDITS_PER_DAY', d.quotaCreditsPerDay],
  quotaCreditsPerDayTotal: ['QUOTA_CREDITS_PER_DAY_TOTAL', d.quotaCreditsPerDayTotal],
  quotaOverrides: ['QUOTA_OVERRIDES', d.quotaOverrides],
  quotaOnStoreError: ['QUOTA_ON_STORE_ERROR', d.quotaOnStoreError],
  cacheTtlSeconds: ['CACHE_TTL_SECONDS', d.cacheTtlSeconds],
  cacheTtlNewsSeconds: ['CACHE_TTL_NEWS_SECONDS', d.cacheTtlNewsSeconds],
  cacheScope: ['CACHE_SCOPE', d.cacheScope],
} as const;

/** The function's: the above, and where the table is (set by the stack, or the local stack). */
export const USAGE_SETTINGS = {
  ...QUOTA_AND_CACHE_SETTINGS,
  usageTableName: ['USAGE_TABLE_NAME', d.usageTableName],
  usageTableEndpoint: ['USAGE_TABLE_ENDPOINT', d.usageTableEndpoint],
  usageStoreTimeoutMs: ['USAGE_STORE_TIMEOUT_MS', d.usageStoreTimeoutMs],
} as const;

export interface UsageSettings {
  readonly quotaCallsPerMinute: number;
  readonly quotaCreditsPerDay: number;
  readonly quotaCreditsPerDayTotal: number;
  readonly quotaOverrides: UsageGuardOptions['limits']['overrides'];
  readonly quotaOnStoreError: 'allow' | 'deny';
  readonly cacheTtlSeconds: number;
  readonly cacheTtlNewsSeconds: number;
  readonly cacheScope: CacheScope;
  readonly usageTableName?: string;
  readonly usageTableEndpoint?: string;
  /** Unset: the deployed default (DEFAULT_USAGE_STORE_TIMEOUT_MS); the local stack sets dynalite's. */
  readonly usageStoreTimeoutMs?: number;
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

/** The MCP function's variables for these settings; the table's name (and locally its endpoint) when it needs one. */
export function usageEnvironment(settings: UsageSettings): Record<string, string> {
  // The table is named whenever there is one: research tasks live in it too (lambda/mcp/tasks).
  const table = {
    ...(settings.usageTableName ? { USAGE_TABLE_NAME: settings.usageTableName } : {}),
    ...(settings.usageTableEndpoint ? { USAGE_TABLE_ENDPOINT: settings.usageTableEndpoint } : {}),
  };
  if (!usageNeedsTable(settings)) return { CACHE_TTL_SECONDS: '0', ...table };
  return {
    QUOTA_CALLS_PER_MINUTE: String(settings.quotaCallsPerMinute),
    QUOTA_CREDITS_PER_DAY: String(settings.quotaCreditsPerDay),
    QUOTA_CREDITS_PER_DAY_TOTAL: String(settings.quotaCreditsPerDayTotal),
    ...(settings.quotaOverrides.length > 0 ? { QUOTA_OVERRIDES: formatQuotaOverrides(settings.quotaOverrides) } : {}),
    QUOTA_ON_STORE_ERROR: settings.quotaOnStoreError,
    CACHE_TTL_SECONDS: String(settings.cacheTtlSeconds),
    CACHE_TTL_NEWS_SECONDS: String(settings.cacheTtlNewsSeconds),
    CACHE_SCOPE: settings.cacheScope,
    ...(settings.usageTableName ? { USAGE_TABLE_NAME: settings.usageTableName } : {}),
    ...(settings.usageTableEndpoint ? { USAGE_TABLE_ENDPOINT: settings.usageTableEndpoint } : {}),
    ...(settings.usageStoreTimeoutMs !== undefined ? { USAGE_STORE_TIMEOUT_MS: String(settings.usageStoreTimeoutMs) } : {}),
  };
}
