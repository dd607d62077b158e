/**
 * DEVELOPMENT ONLY. An OAuth 2.1 authorization server on loopback, shaped like
 * Scalekit, for `npm run dev` and the integration tests when no
 * SCALEKIT_ENVIRONMENT_URL is set. It signs everyone in as one fixed user and
 * consents on their behalf without asking: whoever can reach its port gets
 * tokens. It refuses to listen anywhere but loopback, keeps everything in memory
 * and makes a new signing key at every start.
 *
 * Built on oidc-provider (a certified OpenID provider), configured to look like
 * a Scalekit environment to the rest of the project:
 * - base URL `http://127.0.0.1:PORT` (the environment URL), JWKS at `{base}/keys`
 *   with one RS256 key whose kid looks like Scalekit's (`snk_…`);
 * - one authorization server, issuer `{base}/resources/{resource_id}` (what the
 *   protected resource names in `authorization_servers`), whose RFC 8414 metadata
 *   is at `{issuer}/.well-known/oauth-authorization-server` and the path-inserted
 *   `{base}/.well-known/oauth-authorization-server/resources/{resource_id}` (and
 *   the two OpenID forms), each saying that issuer (RFC 8414 section 3.3);
 * - every authorization response, success or error, carries `iss` = that issuer
 *   (RFC 9207), as strict clients (the MCP SDK v2, the Inspector, mcp-remote)
 *   require;
 * - anonymous dynamic client registration, public and confidential clients, and
 *   client ID metadata documents (a URL as `client_id`, see client-id-metadata-document.ts);
 * - authorization code with PKCE (S256, required), RFC 8707 resource indicators,
 *   rotating refresh tokens only for clients that ask for `offline_access` (as
 *   Scalekit does), client_credentials for one configured machine client;
 * - access tokens are RS256 JWTs with `aud` = [resource, resource_id], `scope`,
 *   `sub`, `client_id`, `jti`, `exp`, and `iss` = the base URL: Scalekit's live
 *   tokens carry the environment root although its metadata names the
 *   per-resource issuer. The authorizer accepts both; clients never read tokens.
 *
 * oidc-provider's settings are documented in its repository (docs/README.md);
 * the comments below are about the ones that bite whoever changes them.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4, type AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type { Adapter, AdapterPayload, ClientMetadata, Configuration, JWK } from 'oidc-provider';
import { devRegistrationPolicy } from './dev-registration-policy.js';
import {
  ClientIdMetadataDocumentError,
  createClientIdMetadataDocumentResolver,
  type ClientIdMetadataDocumentOptions,
} from './client-id-metadata-document.js';

export interface DevUser {
  /** Scalekit user ids look like `usr_…`. */
  readonly sub: string;
  readonly email?: string;
  readonly name?: string;
}

/** A machine-to-machine client (Scalekit creates these in its dashboard; here they are configured). */
export interface MachineClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface DevAuthorizationServerOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /**
   * Where to listen: an address in 127.0.0.0/8, `::1`, or `localhost` for both
   * 127.0.0.1 and ::1 (whichever `localhost` resolves to for a client). Anything
   * else is refused. Default: `localhost` when `publicHost` is, else `127.0.0.1`.
   */
  readonly host?: string;
  /** The host name in the issuer URL, loopback only. Default: `host`. */
  readonly publicHost?: string;
  /** Scalekit's resource id for the protected server (`res_…`): second audience, and part of the metadata paths. */
  readonly resourceId?: string;
  /** OAuth scopes the protected resource understands. Default `['web-search:read']`. */
  readonly scopes?: readonly string[];
  /**
   * Which RFC 8707 resource indicators tokens may be issued for, given the
   * indicator exactly as the client sent it. Others get `invalid_target`.
   * Default: any http(s) URL on a loopback host.
   */
  readonly allowedResource?: (resource: string) => boolean;
  /**
   * The resource a token is for when the client names none (Scalekit always puts
   * the registered server URL in `aud`). Unset: such a client gets an opaque
   * token that no resource server here accepts.
   */
  readonly defaultResource?: string;
  /**
   * The resource `resourceId` stands for (Scalekit registers one server URL per
   * resource id): only tokens for it carry the id as second audience, so a token
   * for any other resource is not accepted in its place. Default: `defaultResource`.
   */
  readonly protectedResource?: string;
  /** The client allowed the client_credentials grant. Unset: none. */
  readonly m2mClient?: MachineClient;
  /** Default 300. */
  readonly accessTokenTtlSeconds?: number;
  /** Default 14 days. */
  readonly refreshTokenTtlSeconds?: number;
  /** The user every authorization signs in. Default `usr_dev`. */
  readonly devUser?: DevUser;
  /**
   * true (default): the authorization endpoint answers with one redirect straight
   * to `redirect_uri?code=…`, so a client following redirects without a cookie
   * jar (Node's fetch, the MCP SDK in tests) gets its code.
   * false: oidc-provider's own hops through `/interaction/:uid`, which need
   * cookies, as a browser has.
   */
  readonly collapseAuthorizationRedirects?: boolean;
  /** Errors oidc-provider answered with `server_error` (bugs, not client mistakes). Default: one line on stderr. */
  readonly onServerError?: (error: Error) => void;
  /**
   * Client ID metadata documents: on (default) with these options, or false.
   * http client ids are accepted on loopback hosts only.
   */
  readonly clientIdMetadataDocuments?: false | ClientIdMetadataDocumentOptions;
}

export interface DevAuthorizationServer {
  /** The base URL, without a trailing slash: `iss` of every access token, as with Scalekit's environment URL. */
  readonly issuer: string;
  /** Same as `issuer`: what SCALEKIT_ENVIRONMENT_URL would be. */
  readonly environmentUrl: string;
  /**
   * `{issuer}/resources/{resourceId}`: the authorization server a protected
   * resource's metadata names, the `issuer` of its metadata, and the `iss` of
   * every authorization response and ID token.
   */
  readonly authorizationServerUrl: string;
  readonly resourceId: string;
  readonly jwksUrl: string;
  /** `{issuer}/resources/{resourceId}/.well-known/oauth-authorization-server`. */
  readonly metadataUrl: string;
  readonly port: number;
  close(): Promise<void>;
}

const DEFAULTS = {
  host: '127.0.0.1',
  resourceId: 'res_dev',
  scopes: ['web-search:read'],
  accessTokenTtlSeconds: 300,
  refreshTokenTtlSeconds: 14 * 24 * 60 * 60,
  devUser: { sub: 'usr_dev', email: 'dev@localhost', name: 'Development User' },
} as const;

/** Paths shaped like Scalekit's, so that logs and tests read the same against either. */
const ROUTES = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  userinfo: '/userinfo',
  jwks: '/keys',
} as const;
const INTERACTION_PREFIX = '/interaction/';
const AUTHORIZATION_CODE_TTL_SECONDS = 60;
const INTERACTION_TTL_SECONDS = 10 * 60;
/** Sessions only carry the automatic sign-in; tokens do not depend on them (`expiresWithSession`). */
const SESSION_TTL_SECONDS = 60 * 60;
/** A loop through oidc-provider's own redirects is a bug; stop well before a client would. */
const MAX_INTERNAL_HOPS = 8;

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 section 3.3
const RESOURCE_ID = /^[A-Za-z0-9_-]+$/;
/** Scopes oidc-provider itself owns; listing them as resource scopes would change what they mean. */
const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile'];

// ---------------------------------------------------------------------------------------------
// loopback

/** `localhost`, `*.localhost`, 127.0.0.0/8, ::1, in URL-hostname form (IPv6 in brackets) or bare. */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1' || host === '[::1]') return true;
  return isIPv4(host) && host.startsWith('127.');
}

export function isLoopbackHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHostname(url.hostname);
}

function isLoopbackOrigin(origin: string | undefined): origin is string {
  return !!origin && origin !== 'null' && isLoopbackHttpUrl(origin);
}

const urlHost = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/** The addresses to bind for `host`; undefined when it is not loopback. */
function loopbackAddresses(host: string): string[] | undefined {
  if (host.toLowerCase() === 'localhost') return ['127.0.0.1', '::1'];
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return bare === '::1' || (isIPv4(bare) && bare.startsWith('127.')) ? [bare] : undefined;
}

/**
 * One server per address, all on the same port (the first one's, when port is
 * 0). A machine without IPv6 has no ::1: only the first address must work.
 */
async function listenOn(addresses: readonly string[], port: number, onRequest: (req: IncomingMessage, res: ServerResponse) => void) {
  const servers: Server[] = [];
  let boundPort = port;
  for (const [index, address] of addresses.entries()) {
    const server = createServer(onRequest);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(boundPort, address, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (index > 0 && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) continue;
      await Promise.all(servers.map((started) => new Promise((resolve) => started.close(resolve))));
      throw error;
    }
    boundPort = (server.address() as AddressInfo).port;
    servers.push(server);
  }
  return { servers, address: servers[0]!.address() as AddressInfo };
}

// ---------------------------------------------------------------------------------------------
// oidc-provider, imported quietly

type OidcProviderModule = typeof import('oidc-provider');

/**
 * oidc-provider prints "Unsupported runtime" when evaluated on Node 20 (it wants
 * 22+) and no setting silences it; it works on 20 all the same. Only that line
 * is dropped, and only while the module is being evaluated.
 */
async function importOidcProvider(): Promise<OidcProviderModule> {
  const { warn } = console;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
    warn.apply(console, args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
}

// ---------------------------------------------------------------------------------------------
// storage

/**
 * In-memory storage with the interface oidc-provider expects of an adapter.
 * Supplying one keeps oidc-provider from warning about its quick-start adapter,
 * whose store is also shared by every provider in the process and capped at
 * 1000 entries, which a long dev session or a test run can evict from.
 */
function createMemoryAdapterFactory(
  /** Clients that are not stored (client ID metadata documents) are looked up here. */
  resolveClient?: (id: string) => Promise<AdapterPayload | undefined>,
): (model: string) => Adapter {
  interface Entry {
    readonly payload: AdapterPayload;
    readonly expiresAt: number;
  }
  const entries = new Map<string, Entry>();
  const keysByGrant = new Map<string, Set<string>>();
  const keyBySessionUid = new Map<string, string>();
  const keyByUserCode = new Map<string, string>();
  /** Models whose entries die with their grant (refresh token reuse, revocation). */
  const grantBound = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
  let sweptAt = Date.now();

  const live = (key: string | undefined): AdapterPayload | undefined => {
    if (key === undefined) return undefined;
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  // Every authorization leaves a session, an interaction and a grant behind; drop the expired ones now and then.
  const sweep = () => {
    const now = Date.now();
    if (now - sweptAt < 60_000) return;
    sweptAt = now;
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
    for (const index of [keyBySessionUid, keyByUserCode]) {
      for (const [id, key] of index) if (!entries.has(key)) index.delete(id);
    }
    for (const [grantId, keys] of keysByGrant) {
      for (const key of keys) if (!entries.has(key)) keys.delete(key);
      if (keys.size === 0) keysByGrant.delete(grantId);
    }
  };

  return (model) => {
    const keyOf = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        sweep();
        const key = keyOf(id);
        entries.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY });
        if (grantBound.has(model) && payload.grantId) {
          const keys = keysByGrant.get(payload.grantId) ?? new Set<string>();
          keys.add(key);
          keysByGrant.set(payload.grantId, keys);
        }
        if (model === 'Session' && payload.uid) keyBySessionUid.set(payload.uid, key);
        if (payload.userCode) keyByUserCode.set(payload.userCode, key);
      },
      async find(id) {
        const stored = live(keyOf(id));
        if (stored || model !== 'Client' || !resolveClient) return stored;
        return resolveClient(id);
      },
      async findByUid(uid) {
        return live(keyBySessionUid.get(uid));
      },
      async findByUserCode(userCode) {
        return live(keyByUserCode.get(userCode));
      },
      async consume(id) {
        const payload = live(keyOf(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(keyOf(id));
      },
      async revokeByGrantId(grantId) {
        for (const key of keysByGrant.get(grantId) ?? []) entries.delete(key);
        keysByGrant.delete(grantId);
      },
    };
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP details

type CookieJar = Map<string, string>;

function cookieJarFrom(header: string | undefined): CookieJar {
  const jar: CookieJar = new Map();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) jar.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return jar;
}

function storeSetCookies(jar: CookieJar, setCookies: readonly string[] = []): void {
  for (const setCookie of setCookies) {
    const [pair = '', ...attributes] = setCookie.split(';');
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const name = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    const expired = attributes.some((attribute) => /^\s*(expires=thu, 01 jan 1970|max-age=0\b)/i.test(attribute));
    if (!value || expired) jar.delete(name);
    else jar.set(name, value);
  }
}

const cookieHeader = (jar: CookieJar) => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');

interface InternalResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * A GET to this server itself. node:http rather than fetch, because fetch will
 * not send our Host header, and oidc-provider builds the URLs it answers with
 * (endpoints in metadata, the resume step of an authorization) from the Host.
 */
function getFromSelf(address: AddressInfo, hostHeader: string, path: string, headers: Record<string, string>): Promise<InternalResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: address.address, port: address.port, path, method: 'GET', headers: { ...headers, host: hostHeader } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/**
 * oidc-provider ignores `offline_access` unless the request also says
 * `prompt=consent` (OpenID Connect's rule); Scalekit issues a refresh token to
 * any client that asks for the scope. Consent here is automatic, so asking for
 * it changes nothing else.
 */
function withConsentPrompt(path: string): string {
  const url = new URL(path, 'http://self');
  const scopes = (url.searchParams.get('scope') ?? '').split(' ');
  const prompts = (url.searchParams.get('prompt') ?? '').split(' ').filter(Boolean);
  if (!scopes.includes('offline_access') || prompts.includes('consent') || prompts.includes('none')) return path;
  url.searchParams.set('prompt', [...prompts, 'consent'].join(' '));
  return `${url.pathname}${url.search}`;
}

function sendJson(res: ServerResponse, method: string | undefined, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(payload)),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(method === 'HEAD' ? undefined : payload);
}

interface OAuthErrorLike {
  readonly statusCode?: number;
  readonly error?: string;
  readonly error_description?: string;
}

function oauthErrorBody(error: unknown): { status: number; body: { error: string; error_description: string } } {
  const known = (typeof error === 'object' && error !== null ? error : {}) as OAuthErrorLike;
  const status = typeof known.statusCode === 'number' && known.statusCode >= 400 && known.statusCode < 600 ? known.statusCode : 500;
  if (status >= 500 || typeof known.error !== 'string') {
    return { status: 500, body: { error: 'server_error', error_description: 'The development authorization server failed; see its log.' } };
  }
  return { status, body: { error: known.error, error_description: known.error_description ?? known.error } };
}

type DevAuthorizationServerSettings = ReturnType<typeof checkedOptions>;

function checkedOptions(options: DevAuthorizationServerOptions) {
  const problems: string[] = [];
  const host = options.host ?? (options.publicHost?.toLowerCase() === 'localhost' ? 'localhost' : DEFAULTS.host);
  const publicHost = options.publicHost ?? host;
  const addresses = loopbackAddresses(host);
  if (!addresses) problems.push(`host must be a loopback address or localhost (got "${host}")`);
  if (!isLoopbackHostname(publicHost)) problems.push(`publicHost must be a loopback host name (got "${publicHost}")`);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`port must be an integer from 0 to 65535 (got ${port})`);
  const resourceId = options.resourceId ?? DEFAULTS.resourceId;
  if (!RESOURCE_ID.test(resourceId)) problems.push(`resourceId must be letters, digits, "_" or "-" (got "${resourceId}")`);
  const scopes = [...new Set(options.scopes ?? DEFAULTS.scopes)];
  if (scopes.length === 0) problems.push('scopes must name at least one scope');
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) problems.push(`scope "${scope}" is not a valid OAuth scope token`);
    if (OIDC_SCOPES.includes(scope)) problems.push(`scope "${scope}" is an OpenID Connect scope, not a resource scope`);
  }
  const ttl = (name: string, value: number) => {
    if (!Number.isSafeInteger(value) || value <= 0) problems.push(`${name} must be a positive whole number of seconds (got ${value})`);
    return value;
  };
  const accessTokenTtlSeconds = ttl('accessTokenTtlSeconds', options.accessTokenTtlSeconds ?? DEFAULTS.accessTokenTtlSeconds);
  const refreshTokenTtlSeconds = ttl('refreshTokenTtlSeconds', options.refreshTokenTtlSeconds ?? DEFAULTS.refreshTokenTtlSeconds);
  const allowedResource = options.allowedResource ?? isLoopbackHttpUrl;
  if (options.defaultResource !== undefined && !allowedResource(options.defaultResource)) {
    problems.push(`defaultResource "${options.defaultResource}" is not an allowed resource`);
  }
  const m2mClient = options.m2mClient;
  if (m2mClient && (!m2mClient.clientId || !m2mClient.clientSecret)) problems.push('m2mClient needs a clientId and a clientSecret');
  const devUser = options.devUser ?? DEFAULTS.devUser;
  if (!devUser.sub) problems.push('devUser.sub must not be empty');
  if (problems.length > 0) throw new Error(`Development authorization server: ${problems.join('; ')}.`);
  return {
    addresses: addresses ?? [],
    publicHost,
    port,
    resourceId,
    scopes,
    accessTokenTtlSeconds,
    refreshTokenTtlSeconds,
    allowedResource,
    defaultResource: options.defaultResource,
    protectedResource: options.protectedResource ?? options.defaultResource,
    m2mClient,
    devUser,
    collapseAuthorizationRedirects: options.collapseAuthorizationRedirects ?? true,
    onServerError:
      options.onServerError ?? ((error: Error) => console.error(`dev authorization server: server_error: ${error.message}`)),
    clientIdMetadataDocuments: options.clientIdMetadataDocuments === false ? undefined : (options.clientIdMetadataDocuments ?? {}),
  };
}

// ---------------------------------------------------------------------------------------------
// the server

export async function startDevAuthorizationServer(options: DevAuthorizationServerOptions = {}): Promise<DevAuthorizationServer> {
  const settings = checkedOptions(options);
  const oidcProvider = await importOidcProvider();
  const signingKey = await createSigningKey();

  // The issuer contains the port, and a port of 0 is only known once bound.
  let route: RequestRoute = async (req, res) => {
    sendJson(res, req.method, 503, { error: 'temporarily_unavailable', error_description: 'Starting.' });
  };
  const { servers, address } = await listenOn(settings.addresses, settings.port, (req, res) => {
    route(req, res).catch((error: unknown) => {
      const { status, body } = oauthErrorBody(error);
      if (status >= 500) settings.onServerError(error instanceof Error ? error : new Error(String(error)));
      if (res.headersSent) res.end();
      else sendJson(res, req.method, status, body);
    });
  });
  const closeServers = () =>
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    ).then(() => undefined);

  const issuer = `http://${urlHost(settings.publicHost)}:${address.port}`;
  const authorizationServerUrl = `${issuer}/resources/${settings.resourceId}`;
  try {
    route = createRoute({ settings, oidcProvider, signingKey, issuer, authorizationServerUrl, address });
  } catch (error) {
    await closeServers();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    issuer,
    environmentUrl: issuer,
    authorizationServerUrl,
    resourceId: settings.resourceId,
    jwksUrl: `${issuer}${ROUTES.jwks}`,
    metadataUrl: `${authorizationServerUrl}/.well-known/oauth-authorization-server`,
    port: address.port,
    close() {
      closing ??= closeServers();
      return closing;
    },
  };
}

type RequestRoute = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** An RS256 key; oidc-provider wants it private and publishes its public half. */
async function createSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `snk_dev_${randomBytes(8).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

/** The provider, configured, and the routes in front of it. */
function createRoute({
  settings,
  oidcProvider: { Provider, errors },
  signingKey,
  issuer,
  authorizationServerUrl,
  address,
}: {
  readonly settings: DevAuthorizationServerSettings;
  readonly oidcProvider: OidcProviderModule;
  readonly signingKey: JWK;
  readonly issuer: string;
  readonly authorizationServerUrl: string;
  readonly address: AddressInfo;
}): RequestRoute {
  // Requests to ourselves go to the address actually bound (`localhost` may resolve
  // elsewhere first), in the issuer's name.
  const fromSelf = (path: string, headers: Record<string, string> = {}) => getFromSelf(address, new URL(issuer).host, path, headers);
  const registrationPath = `/resources/${settings.resourceId}/register`;
  const resumePrefix = `${ROUTES.authorization}/`;

  const resourceScope = settings.scopes.join(' ');
  // Every scope in `scopes` is what oidc-provider calls an OIDC scope, including
  // the resource scopes (listed so that DCR accepts them in a client's `scope`).
  // Its consent check compares requested OIDC scopes with those granted through
  // addOIDCScope only: a resource scope granted with addResourceScope alone
  // sends every authorization back to the interaction, forever.
  const oidcScopes = new Set([...OIDC_SCOPES, ...settings.scopes]);
  const resourceScopes = new Set(settings.scopes);

  const staticClients: ClientMetadata[] = settings.m2mClient
    ? [
        {
          client_id: settings.m2mClient.clientId,
          client_secret: settings.m2mClient.clientSecret,
          grant_types: ['client_credentials'],
          // Without this the default ['code'] makes redirect_uris mandatory.
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
          scope: resourceScope,
        },
      ]
    : [];

  // Client ID metadata documents: resolved where oidc-provider looks clients up,
  // their failures turned into the OAuth errors oidc-provider answers with.
  const metadataDocuments = settings.clientIdMetadataDocuments
    ? createClientIdMetadataDocumentResolver(resourceScopes, settings.clientIdMetadataDocuments)
    : undefined;
  const resolveClient = metadataDocuments
    ? async (id: string) => {
        try {
          return (await metadataDocuments.resolve(id)) as AdapterPayload | undefined;
        } catch (error) {
          if (!(error instanceof ClientIdMetadataDocumentError)) throw error;
          switch (error.error) {
            // The reason is the description: a developer sees why a document was refused, and this server,
            // on loopback only, tells its callers nothing they could not find out from where they are.
            case 'invalid_client':
              throw new errors.InvalidClient(error.message);
            // oidc-provider's InvalidRedirectUri has a fixed description ("did not match"); InvalidClientMetadata
            // answers invalid_redirect_uri, with ours, for a description that starts with "redirect_uris".
            case 'invalid_redirect_uri':
            case 'invalid_client_metadata':
              throw new errors.InvalidClientMetadata(error.message);
            case 'temporarily_unavailable':
              throw new errors.TemporarilyUnavailable(error.message);
          }
        }
      }
    : undefined;

  const configuration: Configuration = {
    adapter: createMemoryAdapterFactory(resolveClient),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    routes: { ...ROUTES, registration: registrationPath },
    scopes: [...oidcScopes],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // ID tokens carry the dev user's email and name when asked for: there is no
    // userinfo token here (access tokens are JWTs for the resource).
    conformIdTokenClaims: false,
    clients: staticClients,
    // Issue 12: the proxy's registration policy, and client_credentials for the machine client only.
    extraClientMetadata: devRegistrationPolicy(settings.m2mClient?.clientId),
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      registration: { enabled: true, initialAccessToken: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf?.[0] ?? settings.defaultResource,
        // Lets a client leave `resource` out of the code exchange and refresh (as the
        // MCP SDK's refresh does) and still get a JWT for the resource it was granted.
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (!settings.allowedResource(resourceIndicator)) {
            throw new errors.InvalidTarget(`this authorization server issues no tokens for ${resourceIndicator}`);
          }
          return {
            scope: resourceScope,
            accessTokenFormat: 'jwt',
            accessTokenTTL: settings.accessTokenTtlSeconds,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    formats: {
      customizers: {
        // oidc-provider gives an access token one audience; Scalekit's carry the
        // resource id as a second one, and resource servers may check either.
        jwt: (_ctx, _token, jwt) => {
          // Scalekit's tokens carry the environment root, not the per-resource issuer.
          jwt.payload.iss = issuer;
          const audiences = [jwt.payload.aud].flat().filter((value): value is string => typeof value === 'string' && value !== '');
          const forProtectedResource = settings.protectedResource === undefined || audiences.includes(settings.protectedResource);
          if (forProtectedResource && !audiences.includes(settings.resourceId)) audiences.push(settings.resourceId);
          jwt.payload.aud = audiences;
        },
      },
    },
    // oidc-provider's default, and Scalekit's behaviour: a refresh token only for a
    // client allowed the grant that asked for `offline_access` (see withConsentPrompt).
    issueRefreshToken: (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: true,
    // Sessions here are throw-away (one per collapsed authorization): tokens must outlive them.
    expiresWithSession: () => false,
    clientBasedCORS: (_ctx, origin, client) =>
      isLoopbackOrigin(origin) || (client.redirectUris ?? []).some((uri) => URL.canParse(uri) && new URL(uri).origin === origin),
    interactions: { url: (_ctx, interaction) => `${INTERACTION_PREFIX}${interaction.uid}` },
    findAccount: (_ctx, sub) =>
      sub === settings.devUser.sub
        ? {
            accountId: sub,
            claims: () => ({
              sub,
              ...(settings.devUser.email ? { email: settings.devUser.email, email_verified: true } : {}),
              ...(settings.devUser.name ? { name: settings.devUser.name } : {}),
            }),
          }
        : undefined,
    // Explicit TTLs: oidc-provider prints a notice the first time a default one is used.
    ttl: {
      AccessToken: settings.accessTokenTtlSeconds,
      ClientCredentials: settings.accessTokenTtlSeconds,
      AuthorizationCode: AUTHORIZATION_CODE_TTL_SECONDS,
      IdToken: settings.accessTokenTtlSeconds,
      Interaction: INTERACTION_TTL_SECONDS,
      Session: SESSION_TTL_SECONDS,
      RefreshToken: settings.refreshTokenTtlSeconds,
      // A refresh token is only as good as its grant.
      Grant: settings.refreshTokenTtlSeconds,
    },
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };

  // The provider's issuer is the per-resource one: it is what oidc-provider puts
  // in `iss` on authorization responses (RFC 9207) and in ID tokens, and clients
  // compare it with the metadata they discovered through the protected resource.
  const provider = new Provider(authorizationServerUrl, configuration);
  provider.on('server_error', (_ctx, error) => settings.onServerError(error));

  // oidc-provider answers no CORS on the registration endpoint (by design, its
  // maintainer says), but browser-based MCP clients register from their page.
  provider.use(async (ctx, next) => {
    const origin = ctx.get('Origin');
    if ((ctx.path === registrationPath || ctx.path.startsWith(`${registrationPath}/`)) && isLoopbackOrigin(origin)) {
      ctx.vary('Origin');
      ctx.set('Access-Control-Allow-Origin', origin);
      if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
        ctx.set('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
        ctx.set('Access-Control-Allow-Headers', ctx.get('Access-Control-Request-Headers') || 'Content-Type, Authorization');
        ctx.set('Access-Control-Max-Age', '600');
        ctx.status = 204;
        return;
      }
    }
    await next();
  });

  const handleWithProvider = provider.callback();

  /** Sign the dev user in and grant what the client asked for, as a user clicking "Allow" would. */
  async function completeInteraction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const interaction = await provider.interactionDetails(req, res);
    const { params, prompt } = interaction;
    const accountId = interaction.session?.accountId ?? settings.devUser.sub;
    const grant =
      (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ??
      new provider.Grant({ accountId, clientId: String(params.client_id) });

    const requested = String(params.scope ?? '').split(' ').filter(Boolean);
    const requestedOidcScopes = requested.filter((scope) => oidcScopes.has(scope));
    if (requestedOidcScopes.length > 0) grant.addOIDCScope(requestedOidcScopes.join(' '));
    const details = prompt.details as {
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    const requestedResourceScopes = requested.filter((scope) => resourceScopes.has(scope));
    for (const resource of [params.resource].flat()) {
      if (typeof resource === 'string' && requestedResourceScopes.length > 0) {
        grant.addResourceScope(resource, requestedResourceScopes.join(' '));
      }
    }
    for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId, remember: false }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  // Hops through the authorization endpoint made on a client's behalf carry this
  // secret, so that they reach oidc-provider instead of coming back here.
  const internalSecret = randomBytes(32);
  const INTERNAL_HEADER = 'x-dev-authorization-server-hop';
  const isInternalHop = (req: IncomingMessage) => {
    const value = req.headers[INTERNAL_HEADER];
    if (typeof value !== 'string') return false;
    const given = Buffer.from(value, 'hex');
    return given.length === internalSecret.length && timingSafeEqual(given, internalSecret);
  };
  const isOwnHop = (url: URL) =>
    url.origin === issuer &&
    (url.pathname === ROUTES.authorization || url.pathname.startsWith(resumePrefix) || url.pathname.startsWith(INTERACTION_PREFIX));

  /**
   * Follows /oauth/authorize → /interaction/:uid → /oauth/authorize/:uid itself,
   * carrying the cookies those hops set, and answers with where oidc-provider
   * finally sends the client: its redirect_uri with a code or an error.
   */
  async function collapsedAuthorization(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const jar = cookieJarFrom(req.headers.cookie);
    let hop = new URL(req.url ?? '/', issuer);
    for (let count = 0; count < MAX_INTERNAL_HOPS; count += 1) {
      const response = await fromSelf(`${hop.pathname}${hop.search}`, {
        [INTERNAL_HEADER]: internalSecret.toString('hex'),
        cookie: cookieHeader(jar),
      });
      storeSetCookies(jar, response.headers['set-cookie']);
      const { location } = response.headers;
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, hop);
        if (isOwnHop(next)) {
          hop = next;
          continue;
        }
        res.writeHead(303, { Location: next.href, 'Cache-Control': 'no-store' });
        res.end();
        return;
      }
      // Errors oidc-provider cannot send to a redirect_uri (unknown client, bad redirect_uri): as they are.
      res.writeHead(response.status, {
        'Content-Type': response.headers['content-type'] ?? 'application/json',
        'Cache-Control': 'no-store',
      });
      res.end(response.body);
      return;
    }
    sendJson(res, req.method, 500, { error: 'server_error', error_description: 'The authorization request did not settle.' });
  }

  // RFC 8414 section 3.3: the issuer in a metadata document is the identifier
  // its URL was derived from. Every document here is derived from
  // `{base}/resources/{id}` (what the protected resource names in
  // `authorization_servers`) and says so; RFC 9207: the same value is the `iss`
  // of every authorization response, because it is oidc-provider's issuer.
  // There is no document at the base URL's own well-known paths: it would have to
  // say issuer `{base}`, and a client that discovered it would then see a
  // different `iss` on its authorization response. oidc-provider serves one there
  // (for its issuer, wrongly placed); only this server's own hops reach it.
  const perResourceMetadataPaths = new Set([
    `/resources/${settings.resourceId}/.well-known/oauth-authorization-server`,
    `/.well-known/oauth-authorization-server/resources/${settings.resourceId}`,
    `/resources/${settings.resourceId}/.well-known/openid-configuration`,
    `/.well-known/openid-configuration/resources/${settings.resourceId}`,
  ]);
  const rootMetadataPaths = new Set(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']);
  let perResourceMetadata: Promise<Record<string, unknown>> | undefined;
  const loadPerResourceMetadata = async () => {
    const response = await fromSelf('/.well-known/oauth-authorization-server', {
      accept: 'application/json',
      [INTERNAL_HEADER]: internalSecret.toString('hex'),
    });
    if (response.status !== 200) throw new Error(`oidc-provider's metadata answered HTTP ${response.status}`);
    const document = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    if (document.issuer !== authorizationServerUrl || document.authorization_response_iss_parameter_supported !== true) {
      throw new Error('oidc-provider no longer advertises the per-resource issuer with RFC 9207 iss parameters');
    }
    return {
      ...document,
      ...(metadataDocuments ? { client_id_metadata_document_supported: true } : {}),
    };
  };
  const metadataCors = (req: IncomingMessage): Record<string, string> => ({
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
    'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '*',
  });

  async function serveMetadata(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...metadataCors(req), 'Access-Control-Max-Age': '600' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, req.method, 405, { error: 'invalid_request', error_description: 'Use GET.' }, { Allow: 'GET, HEAD, OPTIONS' });
      return;
    }
    perResourceMetadata ??= loadPerResourceMetadata().catch((error: unknown) => {
      perResourceMetadata = undefined;
      throw error;
    });
    sendJson(res, req.method, 200, await perResourceMetadata, { ...metadataCors(req), 'Cache-Control': 'public, max-age=60' });
  }

  return async (req, res) => {
    res.setHeader('X-Development-Only', 'this authorization server signs everyone in as a test user');
    const { pathname } = new URL(req.url ?? '/', issuer);
    if (perResourceMetadataPaths.has(pathname)) return serveMetadata(req, res);
    if (rootMetadataPaths.has(pathname) && !isInternalHop(req)) {
      sendJson(res, req.method, 404, {
        error: 'not_found',
        error_description: `This is an environment URL; the authorization server is ${authorizationServerUrl} (its metadata: ${authorizationServerUrl}/.well-known/oauth-authorization-server).`,
      });
      return;
    }
    if (pathname === ROUTES.authorization && req.method === 'GET' && !isInternalHop(req)) req.url = withConsentPrompt(req.url ?? '/');
    if (pathname.startsWith(INTERACTION_PREFIX) && req.method === 'GET') return completeInteraction(req, res);
    if (settings.collapseAuthorizationRedirects && pathname === ROUTES.authorization && req.method === 'GET' && !isInternalHop(req)) {
      return collapsedAuthorization(req, res);
    }
    // oidc-provider answers through `res` itself; the promise it returns settles once it has.
    await handleWithProvider(req, res);
  };
}
