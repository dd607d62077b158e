/**
 * The result cache's pure part: which calls are "identical", what an entry
 * holds and how it is packed. Web-standard only (Web Crypto, CompressionStream),
 * so it runs anywhere the MCP core does.
 *
 * Identical means the same tool and the same arguments after normalisation:
 * defaults filled in (the tool's zod schema has already done that), keys in one
 * order, unset options and empty lists dropped, lists whose order means nothing
 * (domain and path filters) sorted and de-duplicated, search domains in lower case.
 */

/** Lists that are sets: their order changes nothing Tavily does. */
const SET_LISTS = new Set(['include_domains', 'exclude_domains', 'select_paths', 'select_domains', 'exclude_paths']);
/** Domain names (not patterns), which are case-insensitive: only web_search's filters. */
const DOMAIN_LISTS: Readonly<Record<string, ReadonlySet<string>>> = {
  web_search: new Set(['include_domains', 'exclude_domains']),
};

/** DynamoDB's item limit is 400 KB, key and attribute names included: this leaves room for them. */
export const MAX_CACHED_BODY_BYTES = 400 * 1024 - 2 * 1024;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])])
        .filter(([, item]) => item !== undefined && !(Array.isArray(item) && item.length === 0)),
    );
  }
  return value;
}

/** The arguments as the cache compares them. */
export function normaliseArguments(tool: string, args: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const normalised: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value) && SET_LISTS.has(key)) {
      const lower = DOMAIN_LISTS[tool]?.has(key) ?? false;
      const items = value.map((item) => (typeof item === 'string' ? (lower ? item.trim().toLowerCase() : item.trim()) : item));
      normalised[key] = [...new Set(items)].sort();
    } else if (Array.isArray(value) && key === 'urls') {
      // Order kept (results come back in it); repeats dropped, as the tool itself does.
      normalised[key] = [...new Set(value)];
    } else {
      normalised[key] = value;
    }
  }
  return canonical(normalised) as Record<string, unknown>;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

export type CacheScope = 'shared' | 'caller';

/**
 * The cache key. `shared`: one entry for everyone (results come from the server's own key and the
 * public web). `caller`: one per user and client, so nobody is ever served a result someone else asked for.
 */
export async function cacheKey(
  tool: string,
  args: Readonly<Record<string, unknown>>,
  scope: CacheScope,
  caller: { readonly sub: string; readonly clientId: string },
): Promise<string> {
  const argumentsHash = await sha256Hex(JSON.stringify(normaliseArguments(tool, args)));
  const scopePart = scope === 'shared' ? 'shared' : `caller:${(await sha256Hex(`${caller.sub}\n${caller.clientId}`)).slice(0, 32)}`;
  return `cache#${scopePart}#${tool}#${argumentsHash}`;
}

/** What is cached: the tool's answer as the agent got it (before any note about the cache). */
export interface CachedResult {
  readonly text: string;
  readonly structured: Record<string, unknown>;
}

async function pipeBytes(bytes: Uint8Array, transform: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** gzip of the JSON; undefined when even compressed it would not fit in an item. */
export async function packResult(result: CachedResult, maxBytes = MAX_CACHED_BODY_BYTES): Promise<Uint8Array | undefined> {
  const packed = await pipeBytes(new TextEncoder().encode(JSON.stringify(result)), new CompressionStream('gzip'));
  return packed.byteLength <= maxBytes ? packed : undefined;
}

/** The entry, or undefined if it is not one we wrote (corrupt, or from an incompatible version). */
export async function unpackResult(body: Uint8Array): Promise<CachedResult | undefined> {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(await pipeBytes(body, new DecompressionStream('gzip')))) as Partial<CachedResult>;
    if (typeof parsed.text !== 'string' || !parsed.structured || typeof parsed.structured !== 'object') return undefined;
    return { text: parsed.text, structured: parsed.structured };
  } catch {
    return undefined;
  }
}

/** How long a result may be served: news moves fast, so topic "news" searches get their own, shorter, lifetime. */
export function cacheLifetimeSeconds(tool: string, args: Readonly<Record<string, unknown>>, ttl: { seconds: number; newsSeconds: number }): number {
  if (ttl.seconds <= 0) return 0;
  return tool === 'web_search' && args.topic === 'news' ? Math.min(ttl.seconds, ttl.newsSeconds) : ttl.seconds;
}
