/**
 * What a metered call is charged. Each tool's credit rule (its module's
 * `credits`, from Tavily's documented prices in tools/credits.ts) bounds it:
 * at most what the arguments allow (the rule's `estimate`, which the guard
 * reserves before calling Tavily), at least the documented price of what came
 * back (`priceOf`). Tavily's own figure (`usage.credits`, which the guard asks
 * for with `include_usage`) is taken within those bounds and not beyond them:
 * a figure below the documented price of a real answer (0, say) would let a
 * caller search for free, and one above what the arguments allow would take
 * budgets past limits that every call checked before it ran.
 */
import type { CreditRule } from '../tools/tool.js';

/** What Tavily says a call cost (`usage.credits`), or undefined when its answer does not say. */
export function reportedCredits(answer: unknown): number | undefined {
  const credits = (answer as { usage?: { credits?: unknown } } | null | undefined)?.usage?.credits;
  return typeof credits === 'number' && Number.isFinite(credits) && credits >= 0 ? credits : undefined;
}

/** The credits charged for an answer Tavily gave, and Tavily's own figure when it gave one. */
export function chargedCredits<Args>(rule: CreditRule<Args>, args: Args, answer: unknown): { readonly credits: number; readonly reported?: number } {
  const most = rule.estimate(args);
  const least = Math.min(rule.priceOf(args, answer), most);
  const reported = reportedCredits(answer);
  const credits = Math.min(Math.max(reported ?? least, least), most);
  return reported === undefined ? { credits } : { credits, reported };
}
