/**
 * What a metered call cost: Tavily's own figure (`usage.credits`, which the
 * guard asks for with `include_usage`) when its answer gives one, otherwise the
 * tool's credit rule applied to what it returned. Each tool's rule is written
 * beside the tool (its module's `credits`), from Tavily's documented prices
 * (tools/credits.ts).
 */
import type { CreditRule } from '../tools/tool.js';

/** What Tavily says a call cost (`usage.credits`), or undefined when its answer does not say. */
export function reportedCredits(answer: unknown): number | undefined {
  const credits = (answer as { usage?: { credits?: unknown } } | null | undefined)?.usage?.credits;
  return typeof credits === 'number' && Number.isFinite(credits) && credits >= 0 ? credits : undefined;
}

/** The cost of an answer Tavily gave: its own figure when it reports one, else the tool's rule. */
export function chargedCredits<Args>(rule: CreditRule<Args>, args: Args, answer: unknown): number {
  return reportedCredits(answer) ?? rule.priceOf(args, answer);
}
