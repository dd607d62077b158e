/**
 * What a tool call costs in Tavily credits, from Tavily's documented pricing
 * (docs.tavily.com, "Credits & Pricing"):
 * - search: 1 credit (`basic`, `fast`, `ultra-fast`), 2 credits (`advanced`);
 * - extract: per 5 successful URLs, 1 credit (`basic`) or 2 (`advanced`); failed URLs cost nothing;
 * - map: per 10 successful pages, 1 credit, or 2 with `instructions`;
 * - crawl: the mapping cost above plus the extraction cost of the pages it returns.
 * The estimate, checked against the budgets before the call, assumes everything asked for succeeds
 * (an upper bound); the actual cost comes from Tavily's answer: its `usage.credits` when present
 * (we ask for it with `include_usage`), otherwise the same rules applied to what it returned.
 */

type Args = Readonly<Record<string, unknown>>;

const perBlock = (count: number, block: number, rate: number) => Math.ceil(Math.max(0, count) / block) * rate;
const extractRate = (args: Args) => (args.extract_depth === 'advanced' ? 2 : 1);
const mapRate = (args: Args) => (typeof args.instructions === 'string' && args.instructions.length > 0 ? 2 : 1);
const limitOf = (args: Args, fallback: number) => (typeof args.limit === 'number' && args.limit > 0 ? args.limit : fallback);

function costForCount(tool: string, args: Args, count: number): number {
  switch (tool) {
    case 'web_search':
      return args.search_depth === 'advanced' ? 2 : 1;
    case 'web_extract':
      return perBlock(count, 5, extractRate(args));
    case 'web_map':
      return perBlock(count, 10, mapRate(args));
    case 'web_crawl':
      return perBlock(count, 10, mapRate(args)) + perBlock(count, 5, extractRate(args));
    default:
      return 1;
  }
}

/** The most a call with these (validated) arguments can cost. */
export function estimateCredits(tool: string, args: Args): number {
  switch (tool) {
    case 'web_extract': {
      const urls = Array.isArray(args.urls) ? new Set(args.urls).size : 1;
      return costForCount(tool, args, urls);
    }
    case 'web_map':
      return costForCount(tool, args, limitOf(args, 50));
    case 'web_crawl':
      return costForCount(tool, args, limitOf(args, 10));
    default:
      return costForCount(tool, args, 1);
  }
}

/** What Tavily says a call cost (`usage.credits`), or undefined when its answer does not say. */
export function reportedCredits(answer: unknown): number | undefined {
  const credits = (answer as { usage?: { credits?: unknown } } | null | undefined)?.usage?.credits;
  return typeof credits === 'number' && Number.isFinite(credits) && credits >= 0 ? credits : undefined;
}

/** The cost of an answer Tavily gave: its own figure when it reports one, else the documented rules. */
export function actualCredits(tool: string, args: Args, answer: unknown): number {
  const reported = reportedCredits(answer);
  if (reported !== undefined) return reported;
  const results = (answer as { results?: unknown } | null | undefined)?.results;
  const count = Array.isArray(results) ? results.length : 0;
  return costForCount(tool, args, count);
}
