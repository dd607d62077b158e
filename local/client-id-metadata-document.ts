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
 * - the address: the host name is resolved (every address), and a document is
 *   never fetched when any of them is private, link-local, unique-local, shared
 *   (CGNAT), multicast, reserved or a cloud metadata endpoint: a client id is a
 *   URL anyone chooses, and this server must not fetch from the networks behind
 *   it. Loopback stays allowed (this server is for development). The connection
 *   goes to the address checked, so a second DNS answer cannot switch it;
 * - the fetch: GET, no redirects followed, 200 only, at most `maxBytes` and
 *   `timeoutMs`, and at most `maxConcurrentFetches` documents at once;
 * - the document: a JSON object whose `client_id` is exactly the URL, with
 *   `redirect_uris` that pass the registration policy (the same one dynamic
 *   registration applies), no secret, and `none` as its token endpoint auth
 *   method (these clients have no secret to authenticate with).
 * oidc-provider then checks every authorization's `redirect_uri` against the
 * document's `redirect_uris` as it does for any client.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { registrationRefusal } from '../lambda/register/registration-policy.js';
import { WebSearchMcpError } from '../lambda/shared/errors.js';

/** One address a host name resolves to, as `dns.lookup` gives it. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** Every address a host name resolves to. */
export type ResolveHost = (hostname: string) => Promise<readonly ResolvedAddress[]>;

const resolveWithSystem: ResolveHost = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

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
  /** Documents fetched at once, at most; a client id beyond them is refused until one is done. Default 4. */
  readonly maxConcurrentFetches?: number;
  /** How a document's host name is resolved. Default: the system resolver (`dns.lookup`, every address). */
  readonly resolveHost?: ResolveHost;
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

/**
 * Why a client id's document cannot be used; `error` is an RFC 7591 / 6749 code. The message of an
 * `invalid_redirect_uri` starts with "redirect_uris", as the registration policy's descriptions do.
 */
export class ClientIdMetadataDocumentError extends WebSearchMcpError {
  readonly code = 'ERR_CLIENT_METADATA_DOCUMENT' as const;
  constructor(
    readonly error: 'invalid_client' | 'invalid_client_metadata' | 'invalid_redirect_uri' | 'temporarily_unavailable',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;
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
  return allowHttpLoopback && url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname);
}

/** Addresses that are this machine's own: allowed, since this server and its clients run here. */
const LOOPBACK_ADDRESSES = new BlockList();
LOOPBACK_ADDRESSES.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK_ADDRESSES.addAddress('::1', 'ipv6');

/**
 * Addresses a document is never fetched from: every special-purpose range of the
 * IANA registries that is not globally reachable, and cloud metadata endpoints.
 * An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is checked as its IPv4 address.
 */
const FORBIDDEN_ADDRESSES = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network": 0.0.0.0 reaches this host's every interface
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT); Alibaba Cloud's metadata is 100.100.100.200
  ['169.254.0.0', 16], // link-local; AWS, GCP, Azure and OCI metadata at 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
  ['168.63.129.16', 32], // Azure's host endpoint (wireserver), a public address
] as const) {
  FORBIDDEN_ADDRESSES.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96], // unspecified and IPv4-compatible
  ['64:ff9b::', 96], // NAT64: an IPv4 address behind a translator
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo among them)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: an IPv4 address inside
  ['3fff::', 20], // documentation
  ['fc00::', 7], // unique-local; AWS's IPv6 metadata at fd00:ec2::254
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  FORBIDDEN_ADDRESSES.addSubnet(network, prefix, 'ipv6');
}

/** Whether a document may be fetched from this IP address: loopback, or not in any forbidden range. */
export function isFetchableAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return LOOPBACK_ADDRESSES.check(address, type) || !FORBIDDEN_ADDRESSES.check(address, type);
}

/**
 * The address to fetch `url` from: its IP literal, or the first address its host
 * name resolves to, once every one of them was found fetchable.
 */
async function checkedAddress(url: URL, resolveHost: ResolveHost): Promise<ResolvedAddress> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: readonly ResolvedAddress[];
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await resolveHost(host);
    } catch (error) {
      throw new ClientIdMetadataDocumentError('invalid_client', "the client's metadata document host could not be resolved", { cause: error });
    }
  }
  if (addresses.length === 0) throw new ClientIdMetadataDocumentError('invalid_client', "the client's metadata document host has no address");
  if (!addresses.every(({ address }) => isFetchableAddress(address))) {
    throw new ClientIdMetadataDocumentError(
      'invalid_client',
      "the client's metadata document is on a private, link-local, unique-local, shared, multicast, reserved or cloud metadata address, which this server does not fetch from",
    );
  }
  return addresses[0]!;
}

/** A `lookup` for the request that answers with the address already checked, whatever DNS would say now. */
function pinnedLookup({ address, family }: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

function get(
  url: URL,
  { timeoutMs, maxBytes, ca, address }: { timeoutMs: number; maxBytes: number; ca?: readonly string[]; address: ResolvedAddress },
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const options = {
      method: 'GET',
      headers: { Accept: 'application/json', 'User-Agent': 'web-search-mcp development authorization server' },
      timeout: timeoutMs,
      lookup: pinnedLookup(address),
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
    throw new ClientIdMetadataDocumentError('invalid_redirect_uri', 'redirect_uris must be a non-empty array of URLs in the document.');
  }
  // The registration policy's redirect URI rules, as dynamic registration applies them: a document is
  // a registration anyone can publish, and its redirect URIs are where authorization codes go.
  const refusal = registrationRefusal({ redirect_uris: redirectUris });
  if (refusal) throw new ClientIdMetadataDocumentError('invalid_redirect_uri', refusal.description);
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
  const maxConcurrentFetches = options.maxConcurrentFetches ?? 4;
  const resolveHost = options.resolveHost ?? resolveWithSystem;
  const cache = new Map<string, { metadata: ResolvedClientMetadata; until: number }>();
  /** The fetches under way, one per URL: their number is what the cap counts. */
  const pending = new Map<string, Promise<ResolvedClientMetadata>>();

  async function fetchAndCheck(clientId: string): Promise<ResolvedClientMetadata> {
    const url = new URL(clientId);
    const address = await checkedAddress(url, resolveHost);
    let answer: { status: number; body: Buffer };
    try {
      answer = await get(url, { timeoutMs, maxBytes, ca: options.trustedCertificates, address });
    } catch (error) {
      if (error instanceof ClientIdMetadataDocumentError) throw error;
      throw new ClientIdMetadataDocumentError('invalid_client', `the client's metadata document could not be fetched (${(error as Error).message})`, { cause: error });
    }
    if (answer.status !== 200) {
      throw new ClientIdMetadataDocumentError('invalid_client', `the client's metadata document answered HTTP ${answer.status} (redirects are not followed)`);
    }
    let document: unknown;
    try {
      document = JSON.parse(answer.body.toString('utf8'));
    } catch (error) {
      throw new ClientIdMetadataDocumentError('invalid_client_metadata', 'the client\'s metadata document is not JSON', { cause: error });
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
        // Refused at once rather than queued: a queue would hold every later authorization request.
        if (pending.size >= maxConcurrentFetches) {
          throw new ClientIdMetadataDocumentError(
            'temporarily_unavailable',
            `${maxConcurrentFetches} client metadata documents are being fetched already; try again shortly`,
          );
        }
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
