/**
 * Tavily's documented prices (docs.tavily.com, "Credits & Pricing"), the
 * pieces each tool's credit rule is written from:
 * - search: 1 credit (`basic`, `fast`, `ultra-fast`), 2 credits (`advanced`), per request;
 * - extract: per 5 successful URLs, 1 credit (`basic`) or 2 (`advanced`); failed URLs cost nothing;
 * - map: per 10 successful pages, 1 credit, or 2 with `instructions`;
 * - crawl: the mapping cost above plus the extraction cost of the pages it returns;
 * - research: per request, within bounds that depend on the model (RESEARCH_CREDIT_BOUNDS).
 * A rule's `estimate` is the most a call with those arguments can cost (reserved before Tavily is
 * called); its `priceOf` an answer, the documented price of what came back (the least a real call
 * that returned it is charged). quota/credits.ts takes Tavily's own figure only between the two.
 */
import type { CreditRule } from './tool.js';

/** `rate` credits per started block of `size`. */
const perBlock = (count: number, size: number, rate: number) => Math.ceil(Math.max(0, count) / size) * rate;

export function extractionCredits(pages: number, extractDepth: 'basic' | 'advanced'): number {
  return perBlock(pages, 5, extractDepth === 'advanced' ? 2 : 1);
}

export function mappingCredits(pages: number, instructions: string | undefined): number {
  return perBlock(pages, 10, instructions ? 2 : 1);
}

/** Tavily Research's per-request bounds: what it may charge varies with the work, between these. */
export const RESEARCH_CREDIT_BOUNDS = {
  mini: { least: 4, most: 110 },
  pro: { least: 15, most: 250 },
} as const;

/** The least a completed research costs: its model's floor (`auto`: Tavily may have chosen either). */
export function leastResearchCredits(model: string): number {
  return model === 'pro' ? RESEARCH_CREDIT_BOUNDS.pro.least : RESEARCH_CREDIT_BOUNDS.mini.least;
}

/** How many pages (or URLs) an answer holds: what per-page prices are charged on. */
function pagesIn(answer: unknown): number {
  const results = (answer as { results?: unknown } | null | undefined)?.results;
  return Array.isArray(results) ? results.length : 0;
}

/**
 * The rule of a tool priced by the pages it returns. The estimate assumes that
 * the most pages the arguments allow all succeed (an upper bound); an answer is
 * priced on the pages it holds.
 */
export function pricedPerPage<Args>(price: (args: Args, pages: number) => number, mostPages: (args: Args) => number): CreditRule<Args> {
  return {
    estimate: (args) => price(args, mostPages(args)),
    priceOf: (args, answer) => price(args, pagesIn(answer)),
  };
}

/** The rule of a tool with one price per call, whatever it returns. */
export function pricedPerCall<Args>(price: (args: Args) => number): CreditRule<Args> {
  return { estimate: price, priceOf: price };
}
