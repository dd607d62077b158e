/**
 * What the MCP server says about itself and its tools, with no SDK in sight:
 * server.ts gives these to the SDK's `Server`. The fast path (fast-path.ts)
 * answers with what the SDK made of them (protocol-answers.generated.ts), and
 * shows each caller the tools its scopes allow by the same rule (toolsFor).
 */
export const SERVER_NAME = 'web-search-mcp';
export const SERVER_VERSION = '0.1.0';
export const SERVER_INFO = { name: SERVER_NAME, title: 'Web Search MCP', version: SERVER_VERSION } as const;

export const INSTRUCTIONS =
  'Web tools backed by Tavily. Use web_search to find current information and pages; results carry URLs to cite.';

/**
 * listChanged false: the toolset changes only with a deployment, and a 2026-07-28
 * subscriptions/listen is then acknowledged and closed at once instead of held open.
 */
export const CAPABILITIES = { tools: { listChanged: false } } as const;

/**
 * How long a client may cache tools/list and server/discover (2026-07-28 caching
 * hints). The toolset changes only with a deployment; a cached list that misses a
 * tool added since is refreshed within the hour, and a removed tool answers
 * -32602 "Unknown tool", which tells the client to list again. The list depends
 * on the caller's scopes, so it is private to the authorization context.
 */
export const LIST_CACHE_TTL_MS = 3_600_000;

/** The tools a caller with `granted` scopes is shown, in catalog order (a tool needs every scope the table gives it). */
export function toolsFor<T>(tools: readonly { listing: T; scopes: readonly string[] }[], granted: readonly string[]): T[] {
  return tools.filter((each) => each.scopes.every((scope) => granted.includes(scope))).map((each) => each.listing);
}
