/**
 * An OAuthClientProvider for the MCP SDK client that needs no browser: where a
 * desktop client opens the authorization URL, this one fetches it and reads the
 * code from the redirect, as a user clicking through would. Everything else is
 * the SDK's own OAuth machinery (discovery, DCR, PKCE, token exchange, refresh).
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

export class HeadlessOAuthClient implements OAuthClientProvider {
  private information: OAuthClientInformationMixed | undefined;
  private storedTokens: OAuthTokens | undefined;
  private verifier: string | undefined;
  /** Every token response saved, in order (refreshes included). */
  readonly savedTokens: OAuthTokens[] = [];
  /** Every authorization URL the SDK asked the user to visit. */
  readonly authorizationUrls: URL[] = [];
  /** The code from the last authorization, to hand to `transport.finishAuth`. */
  code: string | undefined;

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadata: OAuthClientMetadata,
    /**
     * Scopes the user's authorization asks for on top of the SDK's choice. The v1
     * SDK never adds `offline_access` itself, and without it no refresh token is
     * issued (by Scalekit, nor by the embedded server).
     */
    private readonly extraScopes: readonly string[] = [],
  ) {}

  clientInformation() {
    return this.information;
  }
  saveClientInformation(information: OAuthClientInformationMixed) {
    this.information = information;
  }
  tokens() {
    return this.storedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.storedTokens = tokens;
    this.savedTokens.push(tokens);
  }
  /** Spoil the stored access token, as if it had been revoked. */
  replaceAccessToken(accessToken: string) {
    if (this.storedTokens) this.storedTokens = { ...this.storedTokens, access_token: accessToken };
  }
  saveCodeVerifier(codeVerifier: string) {
    this.verifier = codeVerifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('No code verifier saved');
    return this.verifier;
  }
  async redirectToAuthorization(authorizationUrl: URL) {
    if (this.extraScopes.length > 0) {
      const scopes = new Set((authorizationUrl.searchParams.get('scope') ?? '').split(' ').filter(Boolean));
      for (const scope of this.extraScopes) scopes.add(scope);
      authorizationUrl.searchParams.set('scope', [...scopes].join(' '));
    }
    this.authorizationUrls.push(authorizationUrl);
    const response = await fetch(authorizationUrl, { redirect: 'manual' });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(`The authorization endpoint answered ${response.status} without a redirect: ${await response.text()}`);
    }
    const callback = new URL(location, authorizationUrl);
    if (!callback.href.startsWith(this.redirectUrl)) throw new Error(`Redirected elsewhere: ${callback.origin}${callback.pathname}`);
    const error = callback.searchParams.get('error');
    if (error) throw new Error(`Authorization refused: ${error} ${callback.searchParams.get('error_description') ?? ''}`);
    this.code = callback.searchParams.get('code') ?? undefined;
  }
}
