/**
 * The whole stack on one machine: the four function bundles in their Lambda
 * instances, behind the local gateway, configured through the same
 * `functionEnvironment` table as the deployed stack. `npm run dev` and the
 * integration tests both start it through here.
 */
import { functionEnvironment, functionSpecs } from '../lib/functions.js';
import { publicUrls, type FunctionName } from '../lambda/shared/routes.js';
import {
  DEFAULT_AUTHORIZER_CACHE_TTL_SECONDS,
  DEFAULT_CACHE_TTL_NEWS_SECONDS,
  DEFAULT_REVOCATION_DENYLIST_MAX_AGE_SECONDS,
  DEFAULT_REQUIRED_SCOPES,
  DEFAULT_TAVILY_API_BASE_URL,
  defaultToolScopes,
  scopesSupported,
  type ToolScopes,
} from '../lambda/shared/settings.js';
import type { UsageSettings } from '../lambda/mcp/quota/usage-settings.js';
import { LocalGateway, listen, type AccessLogEntry } from './gateway.js';
import { protectedResourceSettings } from '../lambda/shared/protected-resource-metadata.js';
import { DEFAULT_STAGE_THROTTLE, type Clock, type ThrottleLimits } from './throttle.js';
import { startLocalUsageStore, type LocalUsageStore } from './usage-store-server.js';
import { buildBundles, FunctionPool } from './lambda-runtime.js';
import { DEFAULT_OUTPUT_BUDGET_CHARS } from '../lambda/mcp/tools/output-budget.js';

/** Quotas and the result cache both off: the local stack's default. */
const USAGE_OFF: Omit<UsageSettings, 'usageTableName' | 'usageTableEndpoint'> = {
  quotaCallsPerMinute: 0,
  quotaCreditsPerDay: 0,
  quotaCreditsPerDayTotal: 0,
  quotaOverrides: [],
  quotaOnStoreError: 'allow',
  cacheTtlSeconds: 0,
  cacheTtlNewsSeconds: DEFAULT_CACHE_TTL_NEWS_SECONDS,
  cacheScope: 'shared',
};

/** Loopback browser origins, any port: the local stack's default allow-list. */
export const LOOPBACK_ORIGINS: readonly string[] = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'];

export interface LocalStackOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Addresses to listen on; loopback only. */
  readonly hosts?: readonly string[];
  /** The host name clients use, which the resource identifier must match (`localhost` and `127.0.0.1` differ). */
  readonly publicHost?: string;
  /**
   * The authorization server: a Scalekit environment (or any server shaped like one), or
   * a function that starts one once the stack knows its resource identifier and scopes.
   */
  readonly authorizationServer:
    | { readonly environmentUrl: string; readonly resourceId: string }
    | ((resource: { resourceIdentifier: string; scopes: readonly string[] }) => Promise<StartedAuthorizationServer>);
  /** Default: the local MCP endpoint URL. */
  readonly resourceIdentifier?: string;
  readonly requiredScopes?: readonly string[];
  readonly toolScopes?: ToolScopes;
  readonly toolOutputBudgetChars?: number;
  readonly allowedOrigins?: readonly string[];
  readonly authorizerCacheTtlSeconds?: number;
  /**
   * The stage's throttling, as the deployed stage has it (THROTTLE_RATE_LIMIT, THROTTLE_BURST_LIMIT):
   * each method's default, the register route keeping its own from lambda/shared/routes.ts. Default: the
   * stack's (50 requests/s, burst 100). `false` turns all throttling off, for suites that exceed
   * the limits on purpose (fuzzing, concurrency, quotas); leave it on anywhere else.
   */
  readonly throttle?: ThrottleLimits | false;
  /** The throttle's clock in milliseconds (tests inject one to refill buckets without waiting). */
  readonly now?: Clock;
  readonly tavilyApiKey?: string;
  readonly tavilyApiKeyParameter?: string;
  /** The SSM parameter of the revocation denylist (reached through AWS_ENDPOINT_URL_SSM in `extraEnvironment`). */
  readonly revocationDenylistParameter?: string;
  readonly tavilyApiBaseUrl?: string;
  readonly logLevel?: string;
  /** Extra variables for every function (LOG_LEVEL, AWS endpoints for tests...). */
  readonly extraEnvironment?: Readonly<Record<string, string>>;
  readonly maxInstances?: number;
  /**
   * Quotas and the result cache. Unset: both off. A DynamoDB-compatible store (dynalite) with the
   * stack's table starts on loopback either way, as research tasks live in it.
   */
  readonly usage?: Omit<UsageSettings, 'usageTableName' | 'usageTableEndpoint'>;
  /** The local usage store's port (npm run dev: PORT + 2, where `npm run usage` looks). Default: a free one. */
  readonly usageStorePort?: number;
  readonly onLog?: (functionName: FunctionName, line: string) => void;
  readonly onAccessLog?: (entry: AccessLogEntry) => void;
}

export interface StartedAuthorizationServer {
  readonly environmentUrl: string;
  readonly resourceId: string;
  close(): Promise<void>;
}

export interface LocalStack {
  readonly baseUrl: string;
  readonly mcpUrl: string;
  readonly protectedResourceMetadataUrl: string;
  readonly resourceIdentifier: string;
  readonly environmentUrl: string;
  readonly resourceId: string;
  readonly port: number;
  readonly gateway: LocalGateway;
  readonly pools: Readonly<Record<FunctionName, FunctionPool>>;
  /** The local usage table (`npm run usage` reads it; research tasks live in it). */
  readonly usageStore: LocalUsageStore;
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const bundles = await buildBundles();
  let gateway: LocalGateway | undefined;
  const server = await listen(() => gateway, {
    port: options.port,
    hosts: options.hosts ?? ['127.0.0.1', '::1'],
    onAccessLog: options.onAccessLog,
  });
  const host = options.publicHost ?? 'localhost';
  const baseUrl = `http://${host}:${server.port}`;
  const urls = publicUrls(baseUrl);
  const resourceIdentifier = options.resourceIdentifier ?? urls.mcpUrl;
  const requiredScopes = options.requiredScopes ?? DEFAULT_REQUIRED_SCOPES;
  const toolScopes = options.toolScopes ?? defaultToolScopes();
  const allowedOrigins = options.allowedOrigins ?? LOOPBACK_ORIGINS;

  let authorizationServer: StartedAuthorizationServer | undefined;
  let environmentUrl: string;
  let resourceId: string;
  try {
    if (typeof options.authorizationServer === 'function') {
      authorizationServer = await options.authorizationServer({
        resourceIdentifier,
        scopes: scopesSupported(requiredScopes, toolScopes),
      });
      ({ environmentUrl, resourceId } = authorizationServer);
    } else {
      ({ environmentUrl, resourceId } = options.authorizationServer);
    }
  } catch (error) {
    await server.close();
    throw error;
  }

  let usageStore: LocalUsageStore;
  try {
    usageStore = await startLocalUsageStore({ port: options.usageStorePort ?? 0 });
  } catch (error) {
    await server.close();
    await authorizationServer?.close();
    throw error;
  }

  const environmentInput = {
    environmentUrl,
    resourceId,
    resourceIdentifier,
    requiredScopes,
    toolScopes,
    toolOutputBudgetChars: options.toolOutputBudgetChars ?? DEFAULT_OUTPUT_BUDGET_CHARS,
    allowedOrigins,
    apiBaseUrl: baseUrl,
    tavilyApiBaseUrl: options.tavilyApiBaseUrl ?? DEFAULT_TAVILY_API_BASE_URL,
    logLevel: options.logLevel ?? 'INFO',
    // Locally there is no X-Ray daemon to send traces to.
    tracingEnabled: false,
    ...(options.tavilyApiKey ? { tavilyApiKey: options.tavilyApiKey } : {}),
    ...(options.tavilyApiKeyParameter ? { tavilyApiKeyParameter: options.tavilyApiKeyParameter } : {}),
    ...(options.revocationDenylistParameter
      ? { revocationDenylist: { parameterName: options.revocationDenylistParameter, maxAgeSeconds: DEFAULT_REVOCATION_DENYLIST_MAX_AGE_SECONDS } }
      : {}),
    // The usage table is always there (research tasks live in it), with dynalite's timeout unless the test sets one.
    usage: {
      usageStoreTimeoutMs: usageStore.requestTimeoutMs,
      ...(options.usage ?? USAGE_OFF),
      usageTableName: usageStore.tableName,
      usageTableEndpoint: usageStore.endpoint,
    },
  };
  const pools = Object.fromEntries(
    Object.values(functionSpecs).map((spec) => [
      spec.name,
      new FunctionPool({
        spec,
        bundlePath: bundles[spec.name],
        environment: { ...functionEnvironment(spec.name, environmentInput), ...options.extraEnvironment },
        maxInstances: options.maxInstances,
        onLog: options.onLog,
      }),
    ]),
  ) as Record<FunctionName, FunctionPool>;

  gateway = new LocalGateway({
    pools,
    protectedResourceMetadataUrl: urls.protectedResourceMetadataUrl,
    requiredScopes,
    allowedOrigins,
    authorizerCacheTtlSeconds: options.authorizerCacheTtlSeconds ?? DEFAULT_AUTHORIZER_CACHE_TTL_SECONDS,
    // The protected resource metadata, from the metadata function's own settings, as the stack builds its mock.
    mocks: { protectedResource: protectedResourceSettings(environmentInput) },
    throttle: options.throttle ?? DEFAULT_STAGE_THROTTLE,
    ...(options.now ? { now: options.now } : {}),
  });

  return {
    baseUrl,
    mcpUrl: urls.mcpUrl,
    protectedResourceMetadataUrl: urls.protectedResourceMetadataUrl,
    resourceIdentifier,
    environmentUrl,
    resourceId,
    port: server.port,
    gateway,
    pools,
    usageStore,
    async close() {
      await server.close();
      await usageStore.close();
      await Promise.all(Object.values(pools).map((pool) => pool.close()));
      await authorizationServer?.close();
    },
  };
}
