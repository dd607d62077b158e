/**
 * The stack as the tests and the template lint (scripts/lint-template.ts) build it:
 * the settings of .env.example with overrides, synthesized into a temporary folder.
 * EVERYTHING_ON turns on every option that adds resources or policies.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { App, type Environment } from 'aws-cdk-lib';
import { parseDeploySettings, type DeploySettings } from '../../lib/config.js';
import { WebSearchMcpStack } from '../../lib/web-search-mcp-stack.js';

export const exampleEnvironment = parseEnv(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8'));

export const CERTIFICATE_ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012';

export const CUSTOM_DOMAIN = { CUSTOM_DOMAIN_NAME: 'mcp.example.com', CUSTOM_DOMAIN_CERTIFICATE_ARN: CERTIFICATE_ARN } as const;

export const EVERYTHING_ON: Readonly<Record<string, string>> = {
  ...CUSTOM_DOMAIN,
  CUSTOM_DOMAIN_HOSTED_ZONE_ID: 'Z0123456789ABCDEFGHIJ',
  WAF_ENABLED: 'true',
  ALARM_EMAIL: 'ops@example.com',
  TRACING_ENABLED: 'true',
  QUOTA_CALLS_PER_MINUTE: '30',
  QUOTA_CREDITS_PER_DAY: '500',
  QUOTA_CREDITS_PER_DAY_TOTAL: '5000',
  QUOTA_OVERRIDES: 'client:batch-agent=calls:600,credits:50000;sub:usr_ops=calls:0',
  USAGE_TABLE_REMOVAL_POLICY: 'retain',
  REVOCATION_DENYLIST_PARAMETER: '/web-search-mcp/revoked',
  ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:*',
  AUTHORIZER_CACHE_TTL_SECONDS: '0',
  PROVISIONED_CONCURRENCY: '2',
};

/** The everything-on variant whose custom domain has no hosted zone (DNS is the operator's). */
export const EVERYTHING_ON_WITHOUT_ZONE: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(EVERYTHING_ON).filter(([name]) => name !== 'CUSTOM_DOMAIN_HOSTED_ZONE_ID'),
);

export function settingsFrom(overrides: Readonly<Record<string, string>> = {}): DeploySettings {
  return parseDeploySettings(() => undefined, { ...exampleEnvironment, ...overrides });
}

export interface SynthOptions {
  /** Bundle the functions (slower): only for tests of the bundles themselves. */
  readonly bundle?: boolean;
  readonly stackName?: string;
  readonly env?: Environment;
  /** Context for the app, e.g. cdk.json's feature flags. */
  readonly context?: Readonly<Record<string, unknown>>;
}

export function synthStack(overrides: Readonly<Record<string, string>> = {}, options: SynthOptions = {}) {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'cdk-variant-')),
    context: { ...options.context, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  const stack = new WebSearchMcpStack(app, options.stackName ?? 'WebSearchMcp', {
    settings: settingsFrom(overrides),
    ...(options.env ? { env: options.env } : {}),
  });
  return { app, stack };
}
