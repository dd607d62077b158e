/**
 * Decisions about tokens already verified by this instance, kept in memory so
 * that a token seen again costs a map lookup instead of an RS256 verification.
 * API Gateway caches decisions too, per stage and for its TTL; this cache
 * catches what that one misses (its TTL at 0, a token seen again after the TTL,
 * or the same token presented to another stage).
 *
 * Only decisions about valid tokens are kept (allow and insufficient_scope),
 * and never past the token's `exp`: an entry cannot outlive what it vouches for.
 * Refusals are not kept, so a token that was not yet valid, or whose keys were
 * unreachable, is looked at afresh.
 */
import type { Decision } from './verify-access-token.js';

export const DECISION_CACHE_MAX_ENTRIES = 5_000;

export function cacheDecisions(
  verify: (authorization: string | undefined) => Promise<Decision>,
  { maxEntries = DECISION_CACHE_MAX_ENTRIES, now = Date.now }: { maxEntries?: number; now?: () => number } = {},
) {
  const decisions = new Map<string, { decision: Decision; expiresAt: number }>();

  return async function verifyAccessToken(authorization: string | undefined): Promise<Decision & { cached?: boolean }> {
    if (authorization) {
      const entry = decisions.get(authorization);
      if (entry) {
        if (entry.expiresAt > now()) return { ...entry.decision, cached: true };
        decisions.delete(authorization);
      }
    }
    const decision = await verify(authorization);
    if (authorization && (decision.outcome === 'allow' || decision.outcome === 'insufficient_scope')) {
      const expiresAt = decision.caller.exp * 1000;
      if (expiresAt > now()) {
        // Oldest first out: a Map iterates in insertion order.
        if (decisions.size >= maxEntries) decisions.delete(decisions.keys().next().value!);
        decisions.set(authorization, { decision, expiresAt });
      }
    }
    return decision;
  };
}
