/**
 * The result cache's pure part: which calls are "identical", what an entry
 * holds and how it is packed (gzip of its JSON, with node:zlib: web streams'
 * CompressionStream cost a warm tool call several times the CPU).
 *
 * Identical means the same tool sending Tavily the same request: the key is a
 * hash of the very body the tool sends (its `tavilyRequest`), with nothing
 * normalised here. What a tool treats as equal (sets in any order, a domain's
 * case) it normalises in that request, so that Tavily is asked what the cache
 * answers for. Only the body's key order is fixed, as JSON objects have none.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Caller } from '../../shared/caller.js';
import type { TavilyRequest } from '../tools/tool.js';
import { digestOf } from './usage-table.js';

/** DynamoDB's item limit is 400 KB, key and attribute names included: this leaves room for them. */
export const MAX_CACHED_BODY_BYTES = 400 * 1024 - 2 * 1024;

/** The value with every object's keys in one order, so that its JSON is one text. */
function canonicalValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonicalValue((value as Record<string, unknown>)[key])]));
  }
  return value;
}

/**
 * Who shares cache entries (CACHE_SCOPE). `organization` (the default): the callers of one
 * organisation (the token's `oid`); a token without one has entries of its own, as with `caller`.
 * `caller`: one user on one client. `shared`: everyone (results come from the server's own key and
 * the public web).
 */
export type CacheScope = 'organization' | 'caller' | 'shared';

/** Who a cache entry is shared with, as a key part; `oneCaller` when that is only the caller asking. */
export interface CacheScopeOfCall {
  readonly keyPart: string;
  readonly oneCaller: boolean;
}

export async function cacheScopeOf(scope: CacheScope, caller: Pick<Caller, 'sub' | 'clientId' | 'organizationId'>): Promise<CacheScopeOfCall> {
  if (scope === 'shared') return { keyPart: 'shared', oneCaller: false };
  if (scope === 'organization' && caller.organizationId) return { keyPart: `org:${await digestOf(caller.organizationId)}`, oneCaller: false };
  return { keyPart: `caller:${await digestOf([caller.sub, caller.clientId])}`, oneCaller: true };
}

/** The cache key of a call: its scope, its tool and a digest of the very request it sends. */
export async function cacheKey(tool: string, request: TavilyRequest, scope: CacheScopeOfCall): Promise<string> {
  return `cache#${scope.keyPart}#${tool}#${await digestOf(canonicalValue(request.body))}`;
}

/** What is cached: the tool's answer as the agent got it (before any note about the cache). */
export interface CachedResult {
  readonly text: string;
  readonly structured: Record<string, unknown>;
}

/** What an entry may inflate to: far above any entry we write (an item holds 400 KB compressed). */
const MAX_UNPACKED_BYTES = 64 * 1024 * 1024;

/** gzip of the JSON; undefined when even compressed it would not fit in an item. */
export async function packResult(result: CachedResult, maxBytes = MAX_CACHED_BODY_BYTES): Promise<Uint8Array | undefined> {
  const packed = new Uint8Array(gzipSync(JSON.stringify(result)));
  return packed.byteLength <= maxBytes ? packed : undefined;
}

/** The entry, or undefined if it is not one we wrote (corrupt, or from an incompatible version). */
export async function unpackResult(body: Uint8Array): Promise<CachedResult | undefined> {
  try {
    const parsed = JSON.parse(gunzipSync(body, { maxOutputLength: MAX_UNPACKED_BYTES }).toString('utf8')) as Partial<CachedResult>;
    if (typeof parsed.text !== 'string' || !parsed.structured || typeof parsed.structured !== 'object') return undefined;
    return { text: parsed.text, structured: parsed.structured };
  } catch {
    return undefined;
  }
}
