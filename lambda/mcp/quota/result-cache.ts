/**
 * The result cache's pure part: which calls are "identical", what an entry
 * holds and how it is packed. Web-standard only (Web Crypto, CompressionStream),
 * so it runs anywhere the MCP core does.
 *
 * Identical means the same tool sending Tavily the same request: the key is a
 * hash of the very body the tool sends (its `tavilyRequest`), with nothing
 * normalised here. What a tool treats as equal (sets in any order, a domain's
 * case) it normalises in that request, so that Tavily is asked what the cache
 * answers for. Only the body's key order is fixed, as JSON objects have none.
 */
import type { TavilyRequest } from '../tools/tool.js';

/** DynamoDB's item limit is 400 KB, key and attribute names included: this leaves room for them. */
export const MAX_CACHED_BODY_BYTES = 400 * 1024 - 2 * 1024;

/** JSON with every object's keys in one order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.keys(item).sort().map((key) => [key, (item as Record<string, unknown>)[key]]))
      : item,
  );
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
  request: TavilyRequest,
  scope: CacheScope,
  caller: { readonly sub: string; readonly clientId: string },
): Promise<string> {
  const argumentsHash = await sha256Hex(canonicalJson(request.body));
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
