/**
 * The four functions: where their code is, how big and how long they may run,
 * and what environment each receives. The CDK stack and the local gateway both
 * build functions from this table, so a function sees the same variables in
 * both places. No CDK imports here.
 */
import { fileURLToPath } from 'node:url';
import { JWKS_DEFAULTS } from '../lambda/authorizer/signing-keys.js';
import { usageEnvironment, type UsageSettings } from '../lambda/mcp/quota/usage-settings.js';
import { REGISTRATION_LIMITS } from '../lambda/register/registration-proxy.js';
import { AS_METADATA_DEFAULTS } from '../lambda/shared/authorization-server-metadata.js';
import { formatToolScopes, type ToolScopes } from '../lambda/shared/settings.js';
import type { FunctionName } from '../lambda/shared/routes.js';

export interface FunctionSpec {
  readonly name: FunctionName;
  /** Absolute path of the TypeScript entry point. */
  readonly entry: string;
  readonly description: string;
  readonly memoryMb: number;
  /**
   * The upstream calls one invocation may make one after another, each bounded by the timeout
   * its code uses (read from the same constant), so that the function's timeout can cover them.
   */
  readonly upstreamCalls: readonly UpstreamCall[];
  readonly timeoutSeconds: number;
}

export interface UpstreamCall {
  readonly what: string;
  readonly timeoutMs: number;
}

const entry = (relative: string) => fileURLToPath(new URL(`../lambda/${relative}`, import.meta.url));

/** API Gateway cuts every integration off after 29 s; the MCP function answers before that. */
export const API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29;

/**
 * Beside its bounded upstream calls, what an invocation may spend: its own work, a first load of
 * the code that calls AWS, an SSM read (with no timeout of its own), and the answer getting back to API Gateway.
 */
export const UPSTREAM_MARGIN_MS = 2_000;

/**
 * The least timeout a function gets, whatever it calls: room for a slow cold instance's first
 * loads and SSM reads, which have no timeout of their own.
 */
export const MINIMUM_TIMEOUT_SECONDS = 10;

/**
 * A timeout that outlasts every upstream call of an invocation (one after another) plus the
 * margin, so that when an upstream is slow the function still answers with its own error
 * (a 503 with Retry-After, an RFC 7591 error) rather than being cut off into API Gateway's 5xx.
 */
export function timeoutCovering(calls: readonly UpstreamCall[]): number {
  const needed = calls.reduce((sum, call) => sum + call.timeoutMs, UPSTREAM_MARGIN_MS);
  return Math.max(MINIMUM_TIMEOUT_SECONDS, Math.ceil(needed / 1000));
}

const AS_METADATA_FETCH: UpstreamCall = { what: "the authorization server's metadata", timeoutMs: AS_METADATA_DEFAULTS.timeoutMs };

function spec(fields: Omit<FunctionSpec, 'timeoutSeconds'>, timeoutSeconds = timeoutCovering(fields.upstreamCalls)): FunctionSpec {
  return { ...fields, timeoutSeconds };
}

/**
 * Memory sizes, from `npm run bench` (peak RSS of a cold start serving its first
 * requests, Node 22): authorizer 55 MB, metadata 58 MB, register 58 MB, mcp 51 MB (the fast path;
 * the SDK path loaded for a tool call adds its bundle and the SDK's schemas, 73 MB before the split).
 * Lambda gives CPU in proportion to memory, and these functions are CPU-bound
 * for their whole (short) run: 256 MB leaves the small functions 4x headroom
 * over their peak and a sixth of a vCPU, enough for one RSA verification or one
 * proxied request at a time. The MCP function gets 512 MB: twice the CPU for its
 * first tool call (loading the SDK path: the MCP SDK, its zod schemas) and room for tool results of
 * up to TOOL_OUTPUT_BUDGET_CHARS serialized twice (text and structured content).
 */
export const functionSpecs: Readonly<Record<FunctionName, FunctionSpec>> = {
  authorizer: spec({
    name: 'authorizer',
    entry: entry('authorizer/index.ts'),
    description: 'Verifies Scalekit access tokens for the MCP endpoint (Lambda REQUEST authorizer).',
    memoryMb: 256,
    upstreamCalls: [{ what: "the authorization server's signing keys (JWKS)", timeoutMs: JWKS_DEFAULTS.timeoutMs }],
  }),
  metadata: spec({
    name: 'metadata',
    entry: entry('metadata/index.ts'),
    description: 'Proxies the authorization server metadata (API Gateway itself serves the protected resource metadata).',
    memoryMb: 256,
    upstreamCalls: [AS_METADATA_FETCH],
  }),
  register: spec({
    name: 'register',
    entry: entry('register/index.ts'),
    description: 'Proxies OAuth dynamic client registration to the authorization server.',
    memoryMb: 256,
    // A cold instance first fetches the metadata for its registration_endpoint, then registers.
    upstreamCalls: [AS_METADATA_FETCH, { what: 'the registration request', timeoutMs: REGISTRATION_LIMITS.timeoutMs }],
  }),
  mcp: spec(
    {
      name: 'mcp',
      entry: entry('mcp/index.ts'),
      description: 'Stateless MCP server (streamable HTTP) with Tavily web search tools.',
      memoryMb: 512,
      // Tavily's calls are bounded by the invocation's own deadline (its remaining time), not a fixed timeout.
      upstreamCalls: [],
    },
    API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS - 1,
  ),
};

/** What the stack (or the local gateway) knows, from which each function's environment is derived. */
export interface FunctionEnvironmentInput {
  readonly environmentUrl: string;
  readonly resourceId: string;
  readonly resourceIdentifier: string;
  readonly requiredScopes: readonly string[];
  readonly toolScopes: ToolScopes;
  readonly toolOutputBudgetChars: number;
  readonly allowedOrigins: readonly string[];
  readonly apiBaseUrl: string;
  readonly tavilyApiBaseUrl: string;
  /** Deployed: the SSM parameter holding the key. */
  readonly tavilyApiKeyParameter?: string;
  /** Local only: the key itself. Never set by the stack. */
  readonly tavilyApiKey?: string;
  readonly logLevel: string;
  readonly tracingEnabled: boolean;
  /** The SSM parameter holding the revocation denylist, and how long the authorizer reuses it. Unset: no denylist. */
  readonly revocationDenylist?: { readonly parameterName: string; readonly maxAgeSeconds: number };
  /** Quotas and the result cache, with the usage table's name. Unset: both off. */
  readonly usage?: UsageSettings;
  /** Research tasks (lambda/mcp/tasks): how long they live, and how long web_research waits. Unset: the defaults. */
  readonly research?: { readonly taskTtlSeconds: number; readonly researchWaitSeconds: number };
}

export function functionEnvironment(name: FunctionName, input: FunctionEnvironmentInput): Record<string, string> {
  const scalekit = {
    SCALEKIT_ENVIRONMENT_URL: input.environmentUrl,
    SCALEKIT_RESOURCE_ID: input.resourceId,
  };
  const scopes = { REQUIRED_SCOPES: input.requiredScopes.join(' '), TOOL_SCOPES: formatToolScopes(input.toolScopes) };
  const origins = { ALLOWED_ORIGINS: input.allowedOrigins.join(',') };
  const observability = { LOG_LEVEL: input.logLevel, ...(input.tracingEnabled ? { POWERTOOLS_TRACE_ENABLED: 'true' } : {}) };
  return { ...observability, ...specific(name, input, scalekit, scopes, origins) };
}

function specific(
  name: FunctionName,
  input: FunctionEnvironmentInput,
  scalekit: Record<string, string>,
  scopes: { REQUIRED_SCOPES: string; TOOL_SCOPES: string },
  origins: Record<string, string>,
): Record<string, string> {
  switch (name) {
    case 'authorizer':
      return {
        ...scalekit,
        RESOURCE_IDENTIFIER: input.resourceIdentifier,
        REQUIRED_SCOPES: scopes.REQUIRED_SCOPES,
        ...(input.revocationDenylist
          ? {
              REVOCATION_DENYLIST_PARAMETER: input.revocationDenylist.parameterName,
              REVOCATION_DENYLIST_MAX_AGE_SECONDS: String(input.revocationDenylist.maxAgeSeconds),
            }
          : {}),
      };
    case 'metadata':
      return { ...scalekit, ...origins, API_BASE_URL: input.apiBaseUrl };
    case 'register':
      // The scopes, so that a registration may only ask for those the metadata lists.
      return { ...scalekit, ...scopes, ...origins };
    case 'mcp':
      return {
        ...scopes,
        ...origins,
        TAVILY_API_BASE_URL: input.tavilyApiBaseUrl,
        TOOL_OUTPUT_BUDGET_CHARS: String(input.toolOutputBudgetChars),
        ...(input.tavilyApiKeyParameter ? { TAVILY_API_KEY_PARAMETER: input.tavilyApiKeyParameter } : {}),
        ...(input.tavilyApiKey ? { TAVILY_API_KEY: input.tavilyApiKey } : {}),
        ...(input.usage ? usageEnvironment(input.usage) : { CACHE_TTL_SECONDS: '0' }),
        ...(input.research
          ? { TASK_TTL_SECONDS: String(input.research.taskTtlSeconds), RESEARCH_WAIT_SECONDS: String(input.research.researchWaitSeconds) }
          : {}),
      };
  }
}
