/**
 * What web_crawl and web_map share: both walk a site's links from a root URL,
 * with the same bounds, filters and time limit; crawl also extracts each page.
 */
import * as z from 'zod/v4';
import { asSet, tavilyRequestOf, tavilyTimeoutSeconds } from './tavily-request.js';
import type { TavilyRequest } from './tool.js';

/**
 * Tavily documents max_depth 1–5 and max_breadth 1–500 but no ceiling for
 * limit: 500 is ours, beyond what can be walked (let alone returned) within
 * an API Gateway request. Pattern lists are bounded to keep requests small.
 */
export const SITE_WALK_BOUNDS = { maxDepth: 5, maxBreadth: 500, maxLimit: 500, maxPatterns: 20, maxPatternChars: 200 } as const;

/** Tavily's documented range for the crawl and map `timeout`, in seconds. */
export const SITE_WALK_TIMEOUT_RANGE = { min: 10, max: 150 } as const;

/** Tavily takes a bare domain as well as a URL; anything else would only fail upstream. */
function isWebAddress(text: string): boolean {
  try {
    const url = new URL(/^[a-z][a-z\d+.-]*:/i.test(text) ? text : `https://${text}`);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}

const regexPattern = z
  .string()
  .min(1)
  .max(SITE_WALK_BOUNDS.maxPatternChars)
  .superRefine((pattern, context) => {
    try {
      new RegExp(pattern);
    } catch (error) {
      context.addIssue({ code: 'custom', message: `Not a valid regular expression (${(error as Error).message})` });
    }
  });

const regexList = (what: string, examples: string) =>
  z
    .array(regexPattern)
    .max(SITE_WALK_BOUNDS.maxPatterns, `At most ${SITE_WALK_BOUNDS.maxPatterns} patterns`)
    .optional()
    .describe(`${what}: regular expressions such as ${examples} (at most ${SITE_WALK_BOUNDS.maxPatterns}).`);

/** The input fields both tools take; `walk` names what they do ("crawl", "map"). */
export function siteWalkFields(walk: string, defaultLimit: number) {
  return {
    url: z
      .string()
      .trim()
      .min(1)
      .max(2048)
      .refine(isWebAddress, 'Use an http(s) URL such as "https://docs.example.com" or a domain such as "docs.example.com"')
      .describe(`The root URL to ${walk} from: an http(s) URL such as "https://docs.example.com/guide", or a domain such as "docs.example.com".`),
    max_depth: z
      .number()
      .int()
      .min(1)
      .max(SITE_WALK_BOUNDS.maxDepth)
      .default(1)
      .describe(`How many links away from the root URL to go, from 1 to ${SITE_WALK_BOUNDS.maxDepth}. Each level multiplies the time taken: start with 1 and go deeper only if needed.`),
    max_breadth: z
      .number()
      .int()
      .min(1)
      .max(SITE_WALK_BOUNDS.maxBreadth)
      .default(20)
      .describe(`How many links to follow from each page, from 1 to ${SITE_WALK_BOUNDS.maxBreadth}.`),
    limit: z
      .number()
      .int()
      .min(1)
      .max(SITE_WALK_BOUNDS.maxLimit)
      .default(defaultLimit)
      .describe(
        `How many pages to process in total before stopping, from 1 to ${SITE_WALK_BOUNDS.maxLimit} (this server's cap: more cannot be walked within its time limit).`,
      ),
    instructions: z
      .string()
      .trim()
      .min(1)
      .max(1_000)
      .optional()
      .describe(
        `What to look for, in natural language (e.g. "only the API reference pages"). Focuses the ${walk}, but doubles the mapping cost (2 credits per 10 pages instead of 1).`,
      ),
    select_paths: regexList('Only follow URLs whose path matches one of these', '"/docs/.*" or "/api/v1.*"'),
    select_domains: regexList('Only follow URLs whose domain or subdomain matches one of these', '"^docs\\.example\\.com$"'),
    exclude_paths: regexList('Skip URLs whose path matches any of these', '"/private/.*" or "/admin/.*"'),
    exclude_domains: regexList('Skip URLs whose domain or subdomain matches any of these', '"^private\\.example\\.com$"'),
    allow_external: z
      .boolean()
      .default(false)
      .describe("Also include pages on other domains (reached by links) in the results; by default only the root URL's site."),
  };
}

export type SiteWalkArgs = z.output<z.ZodObject<ReturnType<typeof siteWalkFields>>>;

/** The request: the arguments as they are, but the pattern lists as sets (a URL matching any of them is followed or skipped). */
export function siteWalkRequest(endpoint: 'crawl' | 'map', args: SiteWalkArgs & Readonly<Record<string, unknown>>): TavilyRequest {
  return tavilyRequestOf(endpoint, {
    ...args,
    select_paths: asSet(args.select_paths),
    select_domains: asSet(args.select_domains),
    exclude_paths: asSet(args.exclude_paths),
    exclude_domains: asSet(args.exclude_domains),
  });
}

/** The `timeout` that makes Tavily stop, and answer with what it has, before this server's deadline. */
export function siteWalkTimeout(deadline: number): number {
  return tavilyTimeoutSeconds(deadline, SITE_WALK_TIMEOUT_RANGE);
}
