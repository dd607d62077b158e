/**
 * What `npm run dev` starts, from the same variables as the deployed stack:
 * the local stack, and, when no Scalekit environment is configured, the
 * embedded development authorization server it trusts instead.
 */
import { refusePlaceholders } from '../lib/config.js';
import type { FunctionName } from '../lambda/shared/routes.js';
import { definitions as d, parseSettings, ConfigurationError } from '../lambda/shared/settings.js';
import type { ClientIdMetadataDocumentOptions } from './client-id-metadata-document.js';
import { QUOTA_AND_CACHE_SETTINGS, usageNeedsTable } from '../lambda/mcp/quota/usage-settings.js';
import type { FakeTavily } from '../test/fixtures/fake-tavily.js';
import { startDevAuthorizationServer } from './dev-authorization-server.js';
import { devPorts, type DevPorts } from './dev-ports.js';
import { startSampleTavily } from './sample-tavily.js';
import type { AccessLogEntry } from './gateway.js';
import type { ThrottleLimits } from './throttle.js';
import { LOOPBACK_ORIGINS, startLocalStack, type LocalStack } from './stack.js';

export const DEV_SETTINGS = {
  port: ['PORT', d.port],
  environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrlIfSet],
  resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceIdIfSet],
  resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifierOrDefault],
  requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
  toolScopes: ['TOOL_SCOPES', d.toolScopes],
  toolOutputBudgetChars: ['TOOL_OUTPUT_BUDGET_CHARS', d.toolOutputBudgetChars],
  allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
  authorizerCacheTtlSeconds: ['AUTHORIZER_CACHE_TTL_SECONDS', d.authorizerCacheTtlSeconds],
  // Stage throttling, from the variables and definitions the deployed stack uses (lib/config.ts).
  throttleRateLimit: ['THROTTLE_RATE_LIMIT', d.throttleRateLimit],
  throttleBurstLimit: ['THROTTLE_BURST_LIMIT', d.throttleBurstLimit],
  tavilyApiKey: ['TAVILY_API_KEY', d.tavilyApiKey],
  tavilyApiBaseUrl: ['TAVILY_API_BASE_URL', d.tavilyApiBaseUrl],
  logLevel: ['LOG_LEVEL', d.logLevel],
  devAuthPort: ['DEV_AUTH_PORT', d.portIfSet],
  devClientId: ['DEV_M2M_CLIENT_ID', d.clientId],
  devClientSecret: ['DEV_M2M_CLIENT_SECRET', d.clientSecret],
  devAccessTokenTtlSeconds: ['DEV_ACCESS_TOKEN_TTL_SECONDS', d.tokenLifetimeSeconds],
  ...QUOTA_AND_CACHE_SETTINGS,
} as const;

export const DEV_RESOURCE_ID = 'res_dev';

export interface DevStack {
  readonly stack: LocalStack;
  /** Set when the embedded development authorization server runs. */
  readonly devAuthorizationServer?: {
    readonly url: string;
    /** What the protected resource metadata names (`{url}/resources/{id}`); a client's expected issuer. */
    readonly authorizationServerUrl: string;
    readonly tokenEndpoint: string;
    readonly clientId: string;
    readonly clientSecret: string;
  };
  readonly tavilyConfigured: boolean;
  /** Set in the offline demo: the functions call this local stand-in, which answers sample data. */
  readonly demo?: { readonly tavilyUrl: string };
  /** Where the servers listen (the usage store only when quotas or the cache are on). */
  readonly ports: DevPorts;
  /** The local usage store (`npm run usage` reads it), when quotas or the cache are on. */
  readonly usageStoreEndpoint?: string;
  close(): Promise<void>;
}

export interface DevStackOverrides {
  /** Ports; 0 picks free ones (tests). */
  readonly port?: number;
  readonly devAuthPort?: number;
  /** Addresses to listen on (default 127.0.0.1 and ::1). */
  readonly hosts?: readonly string[];
  readonly publicHost?: string;
  readonly onLog?: (functionName: FunctionName, line: string) => void;
  readonly onAccessLog?: (entry: AccessLogEntry) => void;
  /** Throttling in place of THROTTLE_RATE_LIMIT and THROTTLE_BURST_LIMIT; `false` turns it off (tests that exceed it on purpose). */
  readonly throttle?: ThrottleLimits | false;
  /** How the embedded authorization server fetches client ID metadata documents (tests trust their own CA). */
  readonly clientIdMetadataDocuments?: ClientIdMetadataDocumentOptions;
  /**
   * The offline demo (`npm run dev -- --demo`): a local Tavily stand-in answers every tool with
   * sample data marked as such, in place of TAVILY_API_KEY and TAVILY_API_BASE_URL. Never a default.
   */
  readonly demo?: boolean;
}

/** A client-credentials access token for this stack's MCP endpoint, from its embedded authorization server. */
export async function machineToken(dev: DevStack, scope = 'web-search:read'): Promise<string> {
  if (!dev.devAuthorizationServer) throw new Error('The stack runs against Scalekit: get a token from your M2M client there.');
  const { tokenEndpoint, clientId, clientSecret } = dev.devAuthorizationServer;
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: dev.stack.mcpUrl }),
  });
  if (!response.ok) throw new Error(`The token endpoint answered HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

function parseDevSettings(environment: Readonly<Record<string, string | undefined>>) {
  const settings = parseSettings(DEV_SETTINGS, environment, 'local stack settings');
  refusePlaceholders(settings, 'local stack settings');
  if (settings.environmentUrl && !settings.resourceId) {
    throw new ConfigurationError(
      ['SCALEKIT_RESOURCE_ID: missing; with SCALEKIT_ENVIRONMENT_URL set, give the resource id of this MCP server in Scalekit (res_...)'],
      'local stack settings',
    );
  }
  return settings;
}

function portsOf(settings: ReturnType<typeof parseDevSettings>, overrides: DevStackOverrides): DevPorts {
  return devPorts(
    { port: overrides.port ?? settings.port, devAuthPort: overrides.devAuthPort ?? settings.devAuthPort },
    { authorizationServer: !settings.environmentUrl, usageStore: usageNeedsTable(settings) },
  );
}

/** The ports a start from these variables uses (to name the server behind an "address in use"). */
export function devStackPorts(environment: Readonly<Record<string, string | undefined>>, overrides: DevStackOverrides = {}): DevPorts {
  return portsOf(parseDevSettings(environment), overrides);
}

/** Start the development stack from environment variables (a parsed `.env` included). */
export async function startDevStack(
  environment: Readonly<Record<string, string | undefined>>,
  overrides: DevStackOverrides = {},
): Promise<DevStack> {
  const settings = parseDevSettings(environment);
  const ports = portsOf(settings, overrides);
  const publicHost = overrides.publicHost ?? 'localhost';
  let devAuthorizationServer: DevStack['devAuthorizationServer'];
  const sampleTavily: FakeTavily | undefined = overrides.demo ? await startSampleTavily() : undefined;
  const tavily = sampleTavily
    ? { apiKey: sampleTavily.apiKey, baseUrl: sampleTavily.url }
    : { apiKey: settings.tavilyApiKey, baseUrl: settings.tavilyApiBaseUrl };

  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      port: ports.gateway,
      hosts: overrides.hosts,
      publicHost,
      authorizationServer: settings.environmentUrl
        ? { environmentUrl: settings.environmentUrl, resourceId: settings.resourceId! }
        : async ({ resourceIdentifier, scopes }) => {
            const server = await startDevAuthorizationServer({
              port: ports.authorizationServer ?? 0,
              publicHost,
              resourceId: DEV_RESOURCE_ID,
              scopes,
              defaultResource: resourceIdentifier,
              m2mClient: { clientId: settings.devClientId, clientSecret: settings.devClientSecret },
              accessTokenTtlSeconds: settings.devAccessTokenTtlSeconds,
              ...(overrides.clientIdMetadataDocuments ? { clientIdMetadataDocuments: overrides.clientIdMetadataDocuments } : {}),
            });
            devAuthorizationServer = {
              url: server.issuer,
              authorizationServerUrl: server.authorizationServerUrl,
              tokenEndpoint: `${server.issuer}/oauth/token`,
              clientId: settings.devClientId,
              clientSecret: settings.devClientSecret,
            };
            return { environmentUrl: server.environmentUrl, resourceId: server.resourceId, close: () => server.close() };
          },
      resourceIdentifier: settings.resourceIdentifier,
      requiredScopes: settings.requiredScopes,
      toolScopes: settings.toolScopes,
      toolOutputBudgetChars: settings.toolOutputBudgetChars,
      // Unset locally means the loopback origins, so browser clients on any local port work.
      allowedOrigins: environment.ALLOWED_ORIGINS?.trim() ? settings.allowedOrigins : LOOPBACK_ORIGINS,
      authorizerCacheTtlSeconds: settings.authorizerCacheTtlSeconds,
      throttle: overrides.throttle ?? { rateLimit: settings.throttleRateLimit, burstLimit: settings.throttleBurstLimit },
      tavilyApiKey: tavily.apiKey,
      tavilyApiBaseUrl: tavily.baseUrl,
      logLevel: settings.logLevel,
      usage: settings,
      // Where `npm run usage` finds the local store.
      usageStorePort: ports.usageStore ?? 0,
      onLog: overrides.onLog,
      onAccessLog: overrides.onAccessLog,
    });
  } catch (error) {
    await sampleTavily?.close();
    throw error;
  }

  return {
    stack,
    devAuthorizationServer,
    tavilyConfigured: Boolean(tavily.apiKey),
    ...(sampleTavily ? { demo: { tavilyUrl: sampleTavily.url } } : {}),
    ports: { ...ports, gateway: stack.port },
    ...(stack.usageStore ? { usageStoreEndpoint: stack.usageStore.endpoint } : {}),
    close: async () => {
      await stack.close();
      await sampleTavily?.close();
    },
  };
}
