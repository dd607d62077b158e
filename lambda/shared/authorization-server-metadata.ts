/**
 * The authorization server's RFC 8414 metadata, fetched from Scalekit's
 * per-resource URL and kept in memory for a while. The metadata function serves
 * it (for clients that look for it at this server's origin) and the register
 * function reads `registration_endpoint` from it: Scalekit's own documents
 * disagree on that endpoint, so it is never hard-coded.
 *
 * When a refresh fails, the last good copy is served; with none, callers get an
 * `UpstreamError` to turn into a 502/503.
 */
import { WebSearchMcpError } from './errors.js';
import { decodeUtf8, isPlainObject, readLimited } from './http.js';

export type AuthorizationServerMetadata = Readonly<Record<string, unknown>> & { readonly issuer: string };

export class UpstreamError extends WebSearchMcpError {
  readonly code = 'ERR_UPSTREAM' as const;
  constructor(
    /** `unreachable`: no answer in time (503). `invalid`: an answer we cannot use (502). */
    readonly kind: 'unreachable' | 'invalid',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const AS_METADATA_DEFAULTS = {
  ttlMs: 5 * 60_000,
  /** After a failed refresh, serve the last good copy this long before trying again. */
  retryAfterFailureMs: 30_000,
  timeoutMs: 3_000,
  maxResponseBytes: 64 * 1024,
} as const;

export function authorizationServerMetadataUrl(environmentUrl: string, resourceId: string): string {
  return `${environmentUrl}/resources/${resourceId}/.well-known/oauth-authorization-server`;
}

export interface MetadataSourceOptions {
  readonly url: string;
  readonly fetch?: typeof fetch;
  readonly ttlMs?: number;
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
  readonly now?: () => number;
  /** Told of every failed fetch (whether or not a stale copy covers it), for metrics. */
  readonly onFailure?: (error: UpstreamError) => void;
}

/** Fetch JSON from a fixed upstream URL, bounded in time and size. */
export async function fetchJsonDocument(
  url: string,
  { fetchImpl = fetch, timeoutMs, maxBytes }: { fetchImpl?: typeof fetch; timeoutMs: number; maxBytes: number },
): Promise<Record<string, unknown>> {
  let response: Response;
  // Our own deadline says whether the fetch timed out, whatever error fetch wraps it in.
  const deadline = AbortSignal.timeout(timeoutMs);
  try {
    response = await fetchImpl(url, { headers: { Accept: 'application/json' }, redirect: 'error', signal: deadline });
  } catch (error) {
    throw new UpstreamError('unreachable', deadline.aborted ? 'timed out' : 'connection failed', { cause: error });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamError(response.status >= 500 ? 'unreachable' : 'invalid', `answered HTTP ${response.status}`);
  }
  let body;
  try {
    body = await readLimited(response.body, maxBytes);
  } catch (error) {
    throw new UpstreamError('unreachable', deadline.aborted ? 'timed out' : 'the response was cut off', { cause: error });
  }
  if (!body.ok) throw new UpstreamError('invalid', `the response exceeds ${maxBytes} bytes`);
  const text = decodeUtf8(body.bytes);
  let document: unknown;
  try {
    document = text === undefined ? undefined : JSON.parse(text);
  } catch {
    document = undefined;
  }
  if (!isPlainObject(document)) throw new UpstreamError('invalid', 'the response is not a JSON object');
  return document;
}

export function createAuthorizationServerMetadataSource(options: MetadataSourceOptions) {
  const ttlMs = options.ttlMs ?? AS_METADATA_DEFAULTS.ttlMs;
  const now = options.now ?? Date.now;
  let cached: { metadata: AuthorizationServerMetadata; fetchedAt: number } | undefined;
  let inFlight: Promise<AuthorizationServerMetadata> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;

  async function load(): Promise<AuthorizationServerMetadata> {
    const document = await fetchJsonDocument(options.url, {
      fetchImpl: options.fetch,
      timeoutMs: options.timeoutMs ?? AS_METADATA_DEFAULTS.timeoutMs,
      maxBytes: options.maxResponseBytes ?? AS_METADATA_DEFAULTS.maxResponseBytes,
    });
    if (typeof document.issuer !== 'string' || !document.issuer) {
      throw new UpstreamError('invalid', 'the metadata has no "issuer"');
    }
    const metadata = document as AuthorizationServerMetadata;
    cached = { metadata, fetchedAt: now() };
    return metadata;
  }

  return {
    /** Fresh metadata, or the last good copy if the authorization server is failing. */
    async get(): Promise<{ metadata: AuthorizationServerMetadata; stale: boolean }> {
      if (cached) {
        const fresh = now() - cached.fetchedAt < ttlMs;
        if (fresh || now() - failedAt < AS_METADATA_DEFAULTS.retryAfterFailureMs) {
          return { metadata: cached.metadata, stale: !fresh };
        }
      }
      try {
        inFlight ??= load().finally(() => {
          inFlight = undefined;
        });
        return { metadata: await inFlight, stale: false };
      } catch (error) {
        failedAt = now();
        if (error instanceof UpstreamError) options.onFailure?.(error);
        if (cached) return { metadata: cached.metadata, stale: true };
        throw error;
      }
    },
  };
}

export type AuthorizationServerMetadataSource = ReturnType<typeof createAuthorizationServerMetadataSource>;
