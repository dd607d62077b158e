/**
 * The deploy-time settings: read once by the CDK app from `-c` context (or
 * cdk.json's context) and environment variables (a `.env` file fills in what the
 * shell does not set), validated with the same definitions the functions use.
 * Context wins over the environment. A bad setting fails `cdk synth` with one
 * message naming every problem.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigurationError, definitions as d, parseSettings } from '../lambda/shared/settings.js';
import { isLoopbackHost } from '../lambda/shared/loopback.js';
import { QUOTA_AND_CACHE_SETTINGS } from '../lambda/mcp/quota/usage-settings.js';

export const DEPLOY_SETTINGS = {
  environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
  resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
  resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifierOrDefault],
  requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
  toolScopes: ['TOOL_SCOPES', d.toolScopes],
  toolOutputBudgetChars: ['TOOL_OUTPUT_BUDGET_CHARS', d.toolOutputBudgetChars],
  tavilyApiKeyParameter: ['TAVILY_API_KEY_PARAMETER', d.tavilyApiKeyParameter],
  revocationDenylistParameter: ['REVOCATION_DENYLIST_PARAMETER', d.revocationDenylistParameter],
  revocationDenylistMaxAgeSeconds: ['REVOCATION_DENYLIST_MAX_AGE_SECONDS', d.revocationDenylistMaxAgeSeconds],
  tavilyApiBaseUrl: ['TAVILY_API_BASE_URL', d.tavilyApiBaseUrl],
  authorizerCacheTtlSeconds: ['AUTHORIZER_CACHE_TTL_SECONDS', d.authorizerCacheTtlSeconds],
  allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
  throttleRateLimit: ['THROTTLE_RATE_LIMIT', d.throttleRateLimit],
  throttleBurstLimit: ['THROTTLE_BURST_LIMIT', d.throttleBurstLimit],
  logLevel: ['LOG_LEVEL', d.logLevel],
  logRetentionDays: ['LOG_RETENTION_DAYS', d.logRetentionDays],
  tracingEnabled: ['TRACING_ENABLED', d.tracingEnabled],
  alarmEmail: ['ALARM_EMAIL', d.alarmEmail],
  customDomainName: ['CUSTOM_DOMAIN_NAME', d.customDomainName],
  certificateArn: ['CUSTOM_DOMAIN_CERTIFICATE_ARN', d.certificateArn],
  hostedZoneId: ['CUSTOM_DOMAIN_HOSTED_ZONE_ID', d.hostedZoneId],
  wafEnabled: ['WAF_ENABLED', d.wafEnabled],
  wafRateLimit: ['WAF_RATE_LIMIT', d.wafRateLimit],
  provisionedConcurrency: ['PROVISIONED_CONCURRENCY', d.provisionedConcurrency],
  // Quotas and the result cache (lambda/mcp/quota; the table in lib/usage-table.ts).
  ...QUOTA_AND_CACHE_SETTINGS,
  usageTableRemovalPolicy: ['USAGE_TABLE_REMOVAL_POLICY', d.usageTableRemovalPolicy],
  // Research tasks (lambda/mcp/tasks), kept in the same table.
  taskTtlSeconds: ['TASK_TTL_SECONDS', d.taskTtlSeconds],
  researchWaitSeconds: ['RESEARCH_WAIT_SECONDS', d.researchWaitSeconds],
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
  const settings = parseSettings(DEPLOY_SETTINGS, source, 'deployment settings');
  // Settings that only make sense together.
  const problems: string[] = [];
  if (Boolean(settings.customDomainName) !== Boolean(settings.certificateArn)) {
    problems.push(
      'CUSTOM_DOMAIN_NAME and CUSTOM_DOMAIN_CERTIFICATE_ARN: set both (the domain, and an ACM certificate for it in the stack\'s region) or neither',
    );
  }
  if (settings.hostedZoneId && !settings.customDomainName) {
    problems.push('CUSTOM_DOMAIN_HOSTED_ZONE_ID: only used with CUSTOM_DOMAIN_NAME; set the domain too, or remove it');
  }
  // The offline demo (sample data from a local Tavily stand-in) is for `npm run dev -- --demo` only.
  const demo = context('DEMO') ?? environment.DEMO;
  if (demo !== undefined && demo !== null && String(demo).trim() !== '') {
    problems.push('DEMO: the offline demo (sample data from a local Tavily stand-in) runs only with npm run dev -- --demo and is never deployed; remove DEMO');
  }
  if (isLoopbackHost(new URL(settings.tavilyApiBaseUrl).hostname)) {
    problems.push(
      `TAVILY_API_BASE_URL: ${settings.tavilyApiBaseUrl} is on loopback (a local stand-in), which a deployed function cannot reach; remove it to call https://api.tavily.com`,
    );
  }
  if (problems.length > 0) throw new ConfigurationError(problems, 'deployment settings');
  return settings;
}

/**
 * The example values `.env.example` ships with. They pass every format check, and
 * a stack built with them trusts no real token (nobody's Scalekit environment),
 * so `cdk synth` and `npm run dev` refuse them, saying what belongs there.
 */
export const PLACEHOLDER_SETTINGS = {
  SCALEKIT_ENVIRONMENT_URL: {
    matches: (value: string) => URL.canParse(value) && new URL(value).hostname.toLowerCase() === 'your-company.scalekit.com',
    fix: 'this is the placeholder from .env.example; put your Scalekit environment URL there (Scalekit dashboard > Settings > API credentials, e.g. https://acme.scalekit.com), or remove the line to use the embedded development server with npm run dev',
  },
  SCALEKIT_RESOURCE_ID: {
    matches: (value: string) => value === 'res_1234567890',
    fix: 'this is the placeholder from .env.example; put the resource id of your MCP server in Scalekit there (Scalekit dashboard > MCP servers, res_...), or remove the line to use the embedded development server with npm run dev',
  },
} as const;

/** Throws a ConfigurationError naming every placeholder still in place. */
export function refusePlaceholders(
  values: { readonly environmentUrl?: string | undefined; readonly resourceId?: string | undefined },
  what = 'deployment settings',
): void {
  const problems: string[] = [];
  const given = { SCALEKIT_ENVIRONMENT_URL: values.environmentUrl, SCALEKIT_RESOURCE_ID: values.resourceId };
  for (const [variable, placeholder] of Object.entries(PLACEHOLDER_SETTINGS)) {
    const value = given[variable as keyof typeof given];
    if (value !== undefined && placeholder.matches(value)) problems.push(`${variable}: ${placeholder.fix}`);
  }
  if (problems.length > 0) throw new ConfigurationError(problems, what);
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
