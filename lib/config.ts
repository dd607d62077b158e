/**
 * The deploy-time settings: read once by the CDK app from `-c` context (or
 * cdk.json's context) and environment variables (a `.env` file fills in what the
 * shell does not set), validated with the same definitions the functions use.
 * Context wins over the environment. A bad setting fails `cdk synth` with one
 * message naming every problem.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { definitions as d, parseSettings } from '../lambda/shared/settings.js';

export const DEPLOY_SETTINGS = {
  environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
  resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
  resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifierOrDefault],
  requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
  toolScopes: ['TOOL_SCOPES', d.toolScopes],
  toolOutputBudgetChars: ['TOOL_OUTPUT_BUDGET_CHARS', d.toolOutputBudgetChars],
  tavilyApiKeyParameter: ['TAVILY_API_KEY_PARAMETER', d.tavilyApiKeyParameter],
  tavilyApiBaseUrl: ['TAVILY_API_BASE_URL', d.tavilyApiBaseUrl],
  authorizerCacheTtlSeconds: ['AUTHORIZER_CACHE_TTL_SECONDS', d.authorizerCacheTtlSeconds],
  allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
  throttleRateLimit: ['THROTTLE_RATE_LIMIT', d.throttleRateLimit],
  throttleBurstLimit: ['THROTTLE_BURST_LIMIT', d.throttleBurstLimit],
} as const;

export type DeploySettings = ReturnType<typeof parseDeploySettings>;

/** Parse from a context lookup and an environment; context values win. */
export function parseDeploySettings(
  context: (key: string) => unknown,
  environment: Readonly<Record<string, string | undefined>>,
) {
  const source: Record<string, unknown> = {};
  for (const [variable] of Object.values(DEPLOY_SETTINGS)) {
    const fromContext = context(variable);
    source[variable] = fromContext !== undefined && fromContext !== null ? fromContext : environment[variable];
  }
  return parseSettings(DEPLOY_SETTINGS, source, 'deployment settings');
}

/**
 * Variables from a `.env` file that the environment does not already set.
 * The shell always wins, so `FOO=bar npx cdk synth` overrides the file.
 */
export function environmentWithDotEnv(
  environment: NodeJS.ProcessEnv = process.env,
  path = '.env',
): Record<string, string | undefined> {
  if (!existsSync(path)) return { ...environment };
  const fromFile = parseEnv(readFileSync(path, 'utf8'));
  return { ...fromFile, ...environment };
}
