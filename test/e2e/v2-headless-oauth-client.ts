/**
 * An OAuthClientProvider for the MCP TypeScript SDK v2 client
 * (`@modelcontextprotocol/client`) that needs no browser: where a desktop client
 * opens the authorization URL, this one fetches it and keeps the whole callback
 * (`code`, `state`, `iss`, or `error`), to hand to `transport.finishAuth(params)`
 * so that the SDK runs its own RFC 9207 check of `iss` against the issuer it
 * discovered. Everything else (discovery with the RFC 8414 issuer check, DCR or a
 * client ID metadata document, PKCE, token exchange, refresh) is the SDK's.
 */
import type { OAuthClientMetadata, OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/client';

type Stored<T extends keyof OAuthClientProvider> = OAuthClientProvider[T] extends ((...args: never[]) => infer R) | undefined ? Awaited<R> : never;

export class V2HeadlessOAuthClient implements OAuthClientProvider {
  private information: Stored<'clientInformation'>;
  private storedTokens: Stored<'tokens'>;
  private verifier: string | undefined;
  private discovery: OAuthDiscoveryState | undefined;
  /** Every authorization URL the SDK asked the user to visit. */
  readonly authorizationUrls: URL[] = [];
  /** Every token response saved, in order. */
  readonly savedTokens: NonNullable<Stored<'tokens'>>[] = [];
  /** The query of the last redirect back to `redirectUrl`. */
  callback: URLSearchParams | undefined;

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadata: OAuthClientMetadata,
    /** Set: register with a client ID metadata document at this https URL instead of DCR. */
    readonly clientMetadataUrl?: string,
  ) {}

  clientInformation() {
    return this.information;
  }
  saveClientInformation(information: NonNullable<Stored<'clientInformation'>>) {
    this.information = information;
  }
  tokens() {
    return this.storedTokens;
  }
  saveTokens(tokens: NonNullable<Stored<'tokens'>>) {
    this.storedTokens = tokens;
    this.savedTokens.push(tokens);
  }
  saveCodeVerifier(codeVerifier: string) {
    this.verifier = codeVerifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('No code verifier saved');
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
  async redirectToAuthorization(authorizationUrl: URL) {
    this.authorizationUrls.push(authorizationUrl);
    const response = await fetch(authorizationUrl, { redirect: 'manual' });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(`The authorization endpoint answered ${response.status} without a redirect: ${await response.text()}`);
    }
    const callback = new URL(location, authorizationUrl);
    if (!callback.href.startsWith(this.redirectUrl)) throw new Error(`Redirected elsewhere: ${callback.origin}${callback.pathname}`);
    this.callback = callback.searchParams;
  }
}
