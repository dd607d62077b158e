/**
 * OAuth 2.0 dynamic client registration (RFC 7591), proxied to the endpoint
 * the authorization server's metadata names. The proxy is not an open relay:
 * where it connects comes from configuration and discovery only, the request is
 * rebuilt from its parsed JSON with a fixed set of headers, and sizes are capped
 * both ways. Metadata that registration-policy.ts refuses is never forwarded.
 */
import type { AuthorizationServerMetadataSource } from '../shared/authorization-server-metadata.js';
import { UpstreamError } from '../shared/authorization-server-metadata.js';
import { decodeUtf8, errorResponse, isJsonMediaType, isPlainObject, methodNotAllowed, readLimited, textResponse } from '../shared/http.js';
import { isLoopbackHost } from '../shared/loopback.js';
import { forwardedMetadata, registrationRefusal } from './registration-policy.js';

export const REGISTRATION_LIMITS = {
  /** Client metadata is a few hundred bytes; 16 KiB leaves room for long redirect lists. */
  maxRequestBytes: 16 * 1024,
  maxResponseBytes: 64 * 1024,
  timeoutMs: 8_000,
} as const;

/** Headers a registration response may carry back; nothing else from upstream reaches the client. */
const RESPONSE_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Pragma: 'no-cache' };

function registrationEndpointOf(metadata: Readonly<Record<string, unknown>>): URL | undefined {
  const value = metadata.registration_endpoint;
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) return url;
  } catch {
    // fall through
  }
  return undefined;
}

const invalidMetadata = (description: string) => errorResponse(400, 'invalid_client_metadata', description);

export function createRegistrationCore(options: {
  readonly authorizationServerMetadata: AuthorizationServerMetadataSource;
  /** The scopes clients may register for: this server's `scopes_supported`. Undefined: not checked here. */
  readonly scopesSupported?: readonly string[];
  readonly fetch?: typeof fetch;
  /** How long the registration POST may take. Default: REGISTRATION_LIMITS.timeoutMs. */
  readonly timeoutMs?: number;
  /** Told when the registration endpoint fails (unreachable, 5xx, unusable answer), for metrics. */
  readonly onUpstreamFailure?: (kind: 'unreachable' | 'invalid') => void;
}) {
  const fetchImpl = options.fetch ?? fetch;
  const failed = (kind: 'unreachable' | 'invalid', response: Response) => {
    options.onUpstreamFailure?.(kind);
    return response;
  };

  return async function registerClient(request: Request): Promise<Response> {
    if (request.method !== 'POST') return methodNotAllowed(['POST']);
    if (!isJsonMediaType(request.headers.get('content-type'))) {
      return invalidMetadata('Send the client metadata as JSON, with Content-Type: application/json.');
    }
    const body = await readLimited(request.body, REGISTRATION_LIMITS.maxRequestBytes);
    if (!body.ok) {
      return errorResponse(413, 'invalid_client_metadata', `Client metadata must not exceed ${REGISTRATION_LIMITS.maxRequestBytes} bytes.`);
    }
    const text = decodeUtf8(body.bytes);
    let clientMetadata: unknown;
    try {
      clientMetadata = text === undefined ? undefined : JSON.parse(text);
    } catch {
      clientMetadata = undefined;
    }
    if (!isPlainObject(clientMetadata)) return invalidMetadata('The body must be a JSON object of client metadata (RFC 7591).');
    // Before any upstream call: refused metadata costs the authorization server nothing, not even a metadata fetch.
    const refusal = registrationRefusal(clientMetadata, { scopesSupported: options.scopesSupported });
    if (refusal) return errorResponse(400, refusal.error, refusal.description);

    let endpoint: URL | undefined;
    try {
      endpoint = registrationEndpointOf((await options.authorizationServerMetadata.get()).metadata);
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      return errorResponse(503, 'temporarily_unavailable', `The authorization server could not be reached (${error.message}). Retry shortly.`, {
        'Retry-After': '5',
      });
    }
    if (!endpoint) {
      return errorResponse(
        502,
        'server_error',
        'The authorization server does not advertise a usable registration_endpoint. Enable dynamic client registration for this MCP server in Scalekit.',
      );
    }

    let upstream: Response;
    // Our own deadline says whether the POST timed out, whatever error fetch wraps it in.
    const deadline = AbortSignal.timeout(options.timeoutMs ?? REGISTRATION_LIMITS.timeoutMs);
    try {
      upstream = await fetchImpl(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(forwardedMetadata(clientMetadata)),
        redirect: 'error',
        signal: deadline,
      });
    } catch {
      const timedOut = deadline.aborted;
      options.onUpstreamFailure?.('unreachable');
      return errorResponse(
        503,
        'temporarily_unavailable',
        `The registration endpoint ${timedOut ? 'did not answer in time' : 'could not be reached'}. Retry shortly.`,
        { 'Retry-After': '5' },
      );
    }
    const relayed = await relayRegistrationResponse(upstream);
    // A 502 here is always the upstream's doing (5xx, garbage, oversized).
    return relayed.status === 502 ? failed('invalid', relayed) : relayed;
  };
}

/** Upstream's status and JSON body, within bounds; anything else becomes an RFC 6749 style 502. */
async function relayRegistrationResponse(upstream: Response): Promise<Response> {
  const badGateway = (why: string) =>
    errorResponse(502, 'server_error', `The authorization server's registration endpoint ${why}.`);
  if (upstream.status >= 500) {
    await upstream.body?.cancel().catch(() => undefined);
    return badGateway(`failed (HTTP ${upstream.status}); retry later`);
  }
  let body;
  try {
    body = await readLimited(upstream.body, REGISTRATION_LIMITS.maxResponseBytes);
  } catch {
    return badGateway('cut its answer off');
  }
  if (!body.ok) return badGateway('answered with more data than a registration holds');
  const text = decodeUtf8(body.bytes);
  let document: unknown;
  try {
    document = text === undefined ? undefined : JSON.parse(text);
  } catch {
    document = undefined;
  }
  if (!isPlainObject(document)) return badGateway(`answered HTTP ${upstream.status} without a JSON object`);
  if (upstream.status >= 400) {
    // RFC 7591 section 3.2.2: keep the error and its description, and nothing else.
    const error = typeof document.error === 'string' ? document.error : 'invalid_client_metadata';
    const description =
      typeof document.error_description === 'string' ? document.error_description.slice(0, 500) : 'The registration was refused.';
    return textResponse(JSON.stringify({ error, error_description: description }), { status: upstream.status, headers: RESPONSE_HEADERS });
  }
  return textResponse(JSON.stringify(document), { status: upstream.status, headers: RESPONSE_HEADERS });
}
