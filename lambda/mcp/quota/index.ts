/**
 * The MCP function's quotas and result cache, from its settings: the guard
 * around tool calls (usage-guard.ts) on the DynamoDB store, reporting to the
 * function's logs and metrics. Nothing here runs, and nothing that calls DynamoDB loads, when
 * quotas and cache are both off; when they are on, the guard and its store are
 * loaded on the first tool call, not at cold start (initialize and tools/list never need them).
 */
import { MetricUnit, type Observability } from '../../shared/observability.js';
import { ConfigurationError } from '../../shared/settings.js';
import type { AroundToolCall, UsageEvent } from './usage-guard.js';
import { guardOptionsFrom, quotasEnabled, usageNeedsTable, type UsageSettings } from './usage-settings.js';
import type { UsageStore } from './usage-store.js';

export { USAGE_SETTINGS, type UsageSettings } from './usage-settings.js';
export type { AroundToolCall, GuardedToolCall, ToolCallResult } from './usage-guard.js';

/**
 * One log line and the metrics per event. Log fields `sub`/`client_id` feed the Contributor Insights rules.
 * A call let through with its limits unchecked (QUOTA_ON_STORE_ERROR=allow) is its own warning and its
 * own metric (`QuotaFailOpen`, alarmed); a request the store rejected as malformed is an error.
 */
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
          reservedCredits: event.reservedCredits,
          ...(event.reportedCredits !== undefined ? { reportedCredits: event.reportedCredits } : {}),
          ...(event.totalCreditsToday !== undefined ? { totalCreditsToday: event.totalCreditsToday } : {}),
        });
        observability.count('CacheLookups', { Result: event.cache });
        if (event.credits > 0) observability.measure('TavilyCredits', MetricUnit.Count, event.credits);
        if (event.totalCreditsToday !== undefined) observability.measure('DailyCreditsUsed', MetricUnit.Count, event.totalCreditsToday);
        return;
      case 'refused':
        logger.warn('Quota refused', {
          ...caller,
          limit: event.limit,
          subject: event.subject,
          max: event.max,
          needed: event.needed,
          ...(event.used !== undefined ? { used: event.used } : {}),
        });
        observability.count('QuotaRefusals', { Limit: event.limit });
        return;
      case 'store_error': {
        const details = { ...caller, operation: event.operation, reason: event.reason, fault: event.fault, decision: event.decision };
        if (event.fault === 'rejected') logger.error('Usage store rejected a request (a bug or a misconfiguration, not an outage)', details);
        else if (event.decision === 'allowed') logger.warn('Quota not enforced: usage store unavailable, call allowed uncounted', details);
        else logger.warn('Usage store error', details);
        observability.count('UsageStoreErrors', { Operation: event.operation });
        if (event.decision === 'allowed') observability.count('QuotaFailOpen');
        return;
      }
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
  const options = guardOptionsFrom(settings);
  if (!settings.usageTableName && !store) {
    // The stack always names the table. Without one the cache cannot work, and quotas must not silently stop.
    if (quotasEnabled(options.limits)) {
      throw new ConfigurationError(['USAGE_TABLE_NAME: missing; quotas are on (QUOTA_*) and need the usage table the stack creates'], 'MCP function configuration');
    }
    return undefined;
  }
  let guard: Promise<AroundToolCall> | undefined;
  const load = () =>
    (guard ??= Promise.all([import('./usage-guard.js'), import('./usage-store.js')]).then(([{ createUsageGuard }, { createDynamoUsageStore }]) =>
      createUsageGuard({
        ...options,
        store:
          store ??
          createDynamoUsageStore({
            tableName: settings.usageTableName!,
            ...(settings.usageTableEndpoint ? { endpoint: settings.usageTableEndpoint } : {}),
            requestTimeoutMs: settings.usageStoreTimeoutMs,
          }),
        onEvent: reportUsage(observability),
      }),
    ));
  return async (call, run) => (await load())(call, run);
}
