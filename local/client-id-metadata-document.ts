/**
 * DEVELOPMENT ONLY. OAuth Client ID Metadata Documents (CIMD,
 * draft-ietf-oauth-client-id-metadata-document) for the embedded authorization
 * server: a `client_id` that is an https URL names a JSON document of client
 * metadata, which the authorization server fetches instead of having the client
 * register. Claude, ChatGPT and VS Code register this way; Scalekit supports it.
 *
 * oidc-provider 9 has this feature, but only for https client ids, and its SSRF
 * guard refuses loopback addresses, so a document served on this machine could
 * never be used. Here the resolution happens where oidc-provider looks clients
 * up (its storage adapter), with the same rules:
 * - the URL: https, or http on a loopback host when `allowHttpLoopback`; a path
 *   other than `/`; no fragment, no credentials, no dot segments;
 * - the fetch: GET, no redirects followed, 200 only, at most `maxBytes` and
 *   `timeoutMs`;
 * - the document: a JSON object whose `client_id` is exactly the URL, with
 *   `redirect_uris`, no secret, and `none` as its token endpoint auth method
 *   (these clients have no secret to authenticate with).
 * oidc-provider then checks every authorization's `redirect_uri` against the
 * document's `redirect_uris` as it does for any client.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isLoopbackHost } from '../lambda/shared/loopback.js';

export interface ClientIdMetadataDocumentOptions {
  /** Accept `http://` client ids on loopback hosts (development only). Default true. */
  readonly allowHttpLoopback?: boolean;
  /** Extra CA certificates (PEM) trusted when fetching https documents, e.g. a test's self-signed one. */
  readonly trustedCertificates?: readonly string[];
  /** Default 3000. */
  readonly timeoutMs?: number;
  /** Default 16 KiB. */
  readonly maxBytes?: number;
  /** How long a fetched document is used before it is fetched again. Default 60 s. */
  readonly cacheMs?: number;
}

/** The client metadata a document yields, in the shape oidc-provider stores clients. */
export interface ResolvedClientMetadata {
  readonly client_id: string;
  readonly client_name?: string;
  readonly client_uri?: string;
  readonly logo_uri?: string;
  readonly redirect_uris: string[];
  readonly grant_types: string[];
  readonly response_types: string[];
  readonly token_endpoint_auth_method: 'none';
  readonly scope?: string;
  [key: string]: unknown;
}

/** Why a client id's document cannot be used; `error` is an RFC 7591 / 6749 code. */
export class ClientIdMetadataDocumentError extends Error {
  override readonly name = 'ClientIdMetadataDocumentError';
  constructor(
    readonly error: 'invalid_client' | 'invalid_client_metadata' | 'invalid_redirect_uri',
    message: string,
  ) {
    super(message);
  }
}

const SUPPORTED_GRANTS = new Set(['authorization_code', 'refresh_token']);
const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);

/**
 * Whether `id` is a client id this server resolves as a metadata document (the
 * rules of the draft's section 3), rather than one it issued through DCR.
 */
export function isClientIdMetadataDocumentUrl(id: string, { allowHttpLoopback = true } = {}): boolean {
  // Raw checks first: URL parsing would normalise away what makes an id unacceptable.
  if (/[\s\\\x00-\x1f\x7f#]/.test(id)) return false;
  const scheme = /^https:\/\//i.test(id) ? 'https' : /^http:\/\//i.test(id) ? 'http' : undefined;
  if (!scheme) return false;
  const rest = id.slice(scheme.length + 3);
  const authority = rest.split(/[/?]/, 1)[0] ?? '';
  if (!authority || authority.includes('@')) return false;
  const path = rest.slice(authority.length).split('?', 1)[0] ?? '';
  if (!path || path === '/') return false;
  if (path.split('/').some((segment) => ['.', '..'].includes(segment.replace(/%2e/gi, '.')))) return false;
  let url: URL;
  try {
    url = new URL(id);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return allowHttpLoopback && url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

function get(url: URL, { timeoutMs, maxBytes, ca }: { timeoutMs: number; maxBytes: number; ca?: readonly string[] }): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const options = {
      method: 'GET',
      headers: { Accept: 'application/json', 'User-Agent': 'web-search-mcp development authorization server' },
      timeout: timeoutMs,
      ...(url.protocol === 'https:' && ca?.length ? { ca: [...ca] } : {}),
    };
    const onResponse = (response: IncomingMessage) => {
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        response.destroy();
        reject(new ClientIdMetadataDocumentError('invalid_client_metadata', `the document is larger than ${maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.byteLength;
        if (received > maxBytes) {
          response.destroy();
          reject(new ClientIdMetadataDocumentError('invalid_client_metadata', `the document is larger than ${maxBytes} bytes`));
        } else chunks.push(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    };
    const outgoing = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, onResponse);
    const deadline = setTimeout(() => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    outgoing.on('close', () => clearTimeout(deadline));
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end();
  });
}

const isHttpsUrl = (value: unknown): value is string => typeof value === 'string' && URL.canParse(value) && new URL(value).protocol === 'https:';

/** Checks a fetched document against its client id and reduces it to what this server uses. */
export function clientMetadataFromDocument(clientId: string, document: unknown, knownScopes: ReadonlySet<string>): ResolvedClientMetadata {
  const invalid = (message: string) => new ClientIdMetadataDocumentError('invalid_client_metadata', message);
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw invalid('the document is not a JSON object');
  const doc = document as Record<string, unknown>;
  if (doc.client_id !== clientId) throw invalid('the document\'s client_id is not the URL it was fetched from');
  if ('client_secret' in doc || 'client_secret_expires_at' in doc) throw invalid('the document must not contain a client_secret');
  const method = doc.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') {
    throw invalid(
      SECRET_METHODS.has(String(method))
        ? `token_endpoint_auth_method ${String(method)} needs a shared secret, which a metadata document cannot carry`
        : `token_endpoint_auth_method must be "none" here (got ${JSON.stringify(method)})`,
    );
  }
  const redirectUris = doc.redirect_uris;
  if (!Array.isArray(redirectUris) || redirectUris.length === 0 || !redirectUris.every((uri) => typeof uri === 'string' && URL.canParse(uri))) {
    throw new ClientIdMetadataDocumentError('invalid_redirect_uri', 'the document needs redirect_uris: a non-empty array of URLs');
  }
  const grantTypes = Array.isArray(doc.grant_types) ? doc.grant_types.filter((grant): grant is string => typeof grant === 'string' && SUPPORTED_GRANTS.has(grant)) : ['authorization_code'];
  if (!grantTypes.includes('authorization_code')) throw invalid('grant_types must include authorization_code');
  const requestedScopes = typeof doc.scope === 'string' ? doc.scope.split(' ').filter((scope) => knownScopes.has(scope)) : [];
  return {
    client_id: clientId,
    redirect_uris: redirectUris as string[],
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...(typeof doc.client_name === 'string' ? { client_name: doc.client_name.slice(0, 200) } : {}),
    ...(isHttpsUrl(doc.client_uri) ? { client_uri: doc.client_uri } : {}),
    ...(isHttpsUrl(doc.logo_uri) ? { logo_uri: doc.logo_uri } : {}),
    ...(requestedScopes.length > 0 ? { scope: requestedScopes.join(' ') } : {}),
  };
}

/**
 * Resolves client ids that are metadata document URLs, with a short cache and
 * one fetch at a time per URL. Answers undefined for any other client id.
 */
export function createClientIdMetadataDocumentResolver(knownScopes: ReadonlySet<string>, options: ClientIdMetadataDocumentOptions = {}) {
  const allowHttpLoopback = options.allowHttpLoopback ?? true;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const maxBytes = options.maxBytes ?? 16 * 1024;
  const cacheMs = options.cacheMs ?? 60_000;
  const cache = new Map<string, { metadata: ResolvedClientMetadata; until: number }>();
  const pending = new Map<string, Promise<ResolvedClientMetadata>>();

  async function fetchAndCheck(clientId: string): Promise<ResolvedClientMetadata> {
    let answer: { status: number; body: Buffer };
    try {
      answer = await get(new URL(clientId), { timeoutMs, maxBytes, ca: options.trustedCertificates });
    } catch (error) {
      if (error instanceof ClientIdMetadataDocumentError) throw error;
      throw new ClientIdMetadataDocumentError('invalid_client', `the client's metadata document could not be fetched (${(error as Error).message})`);
    }
    if (answer.status !== 200) {
      throw new ClientIdMetadataDocumentError('invalid_client', `the client's metadata document answered HTTP ${answer.status} (redirects are not followed)`);
    }
    let document: unknown;
    try {
      document = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new ClientIdMetadataDocumentError('invalid_client_metadata', 'the client\'s metadata document is not JSON');
    }
    return clientMetadataFromDocument(clientId, document, knownScopes);
  }

  return {
    isMetadataDocumentUrl: (id: string) => isClientIdMetadataDocumentUrl(id, { allowHttpLoopback }),
    async resolve(clientId: string): Promise<ResolvedClientMetadata | undefined> {
      if (!isClientIdMetadataDocumentUrl(clientId, { allowHttpLoopback })) return undefined;
      const cached = cache.get(clientId);
      if (cached && cached.until > Date.now()) return cached.metadata;
      let request = pending.get(clientId);
      if (!request) {
        request = fetchAndCheck(clientId).finally(() => pending.delete(clientId));
        pending.set(clientId, request);
      }
      const metadata = await request;
      if (cache.size > 100) cache.clear();
      cache.set(clientId, { metadata, until: Date.now() + cacheMs });
      return metadata;
    },
  };
}
