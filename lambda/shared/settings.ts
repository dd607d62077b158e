/**
 * Every setting this project reads, validated with zod in one place.
 *
 * The CDK app parses the deploy-time settings at synth time (lib/config.ts) and
 * each function parses its own subset from its environment at cold start. Both
 * use the setting definitions below, so a value that passes `cdk synth` also
 * passes the function's cold start. A bad configuration fails with one message
 * naming every bad setting and what is expected.
 *
 * `zod/mini` keeps these definitions out of the functions' cold start budget:
 * its tree-shakable API costs a few kilobytes where classic zod costs hundreds.
 */
import * as z from 'zod/mini';
import { DEFAULT_OUTPUT_BUDGET_CHARS } from '../mcp/tools/output-budget.js';
import { TOOL_DEFAULT_SCOPES } from '../mcp/tools/tool-scopes.generated.js';
import { WebSearchMcpError } from './errors.js';
import { isLoopbackHost } from './loopback.js';

/** Settings that do not parse: the message names every bad one, `problems` lists them one by one. */
export class ConfigurationError extends WebSearchMcpError {
  readonly code = 'ERR_CONFIGURATION' as const;
  constructor(
    readonly problems: readonly string[],
    what = 'configuration',
  ) {
    super(
      `Invalid ${what} (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
  }
}

/** A converter's refusal that says more than "expected …, got …": what to put there instead. */
class Refusal {
  constructor(readonly message: string) {}
}

type Convert<T> = (text: string) => T | undefined;
/** A converter that may also refuse with its own message. */
type ConvertOrRefuse<T> = (text: string) => T | Refusal | undefined;

/**
 * One setting read from a string (an environment variable or a CDK context value).
 * Blank counts as unset. `expected` is what the message tells the operator to supply.
 */
function setting<T>(expected: string, convert: ConvertOrRefuse<T>, fallback: { required: true } | { value: T }) {
  return z.pipe(
    z.optional(z.string({ error: `expected ${expected}` })),
    z.transform((raw: string | undefined, ctx): T => {
      const text = raw?.trim();
      if (!text) {
        if ('value' in fallback) return fallback.value;
        ctx.issues.push({ code: 'custom', input: raw, message: `missing; expected ${expected}` });
        return z.NEVER;
      }
      const value = convert(text);
      if (value instanceof Refusal) {
        ctx.issues.push({ code: 'custom', input: raw, message: value.message });
        return z.NEVER;
      }
      if (value === undefined) {
        const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
        ctx.issues.push({ code: 'custom', input: raw, message: `expected ${expected}, got ${JSON.stringify(shown)}` });
        return z.NEVER;
      }
      return value;
    }),
  );
}

function optionalSetting<T>(expected: string, convert: ConvertOrRefuse<T>) {
  return setting<T | undefined>(expected, convert, { value: undefined });
}

/** https anywhere; plain http only on loopback (the local stack). No query, no fragment. */
function webUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  if (!secure || url.search || url.hash || url.username || url.password) return undefined;
  return url;
}

/** A base URL, without a trailing slash, so that `${base}/keys` is what the operator expects. */
const baseUrl: Convert<string> = (text) => webUrl(text)?.href.replace(/\/+$/, '');

/**
 * A Scalekit environment's root URL. It is the tokens' issuer and `{url}/keys` its JWKS, so a
 * path (a resource's URL pasted from the dashboard, say) makes both wrong, and the metadata would
 * name `{url}/resources/{id}` under it: refused, saying what to put there, and where a
 * `/resources/res_…` path's id belongs.
 */
const environmentRootUrl: ConvertOrRefuse<string> = (text) => {
  const url = webUrl(text);
  if (!url) return undefined;
  if (/^\/*$/.test(url.pathname)) return url.href.replace(/\/+$/, '');
  const resourceId = /^\/resources\/(res_[A-Za-z0-9_-]+)\/?/.exec(url.pathname)?.[1];
  const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return new Refusal(
    `expected the environment's root URL, without a path: put ${url.origin} here${resourceId ? ` and ${resourceId} in SCALEKIT_RESOURCE_ID` : ''} (got ${JSON.stringify(shown)})`,
  );
};

/** A resource URL as given (RFC 8707 compares resource identifiers as strings). */
const resourceUrl: Convert<string> = (text) => (webUrl(text) ? text : undefined);

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 section 3.3

export const scopeList: Convert<readonly string[]> = (text) => {
  const scopes = [...new Set(text.split(/[\s,]+/).filter(Boolean))];
  return scopes.length > 0 && scopes.every((scope) => SCOPE_TOKEN.test(scope)) ? scopes : undefined;
};

function integer(min: number, max: number): Convert<number> {
  return (text) => {
    if (!/^-?\d+$/.test(text)) return undefined;
    const value = Number(text);
    return value >= min && value <= max ? value : undefined;
  };
}

/**
 * Browser origins allowed to call the API: exact origins (`https://app.example.com`),
 * `*` for any, or a loopback origin with any port (`http://localhost:*`).
 */
const originList: Convert<readonly string[]> = (text) => {
  const entries = [...new Set(text.split(/[\s,]+/).filter(Boolean))];
  const normalized: string[] = [];
  for (const entry of entries) {
    if (entry === '*') {
      normalized.push(entry);
      continue;
    }
    const anyPort = entry.endsWith(':*');
    const url = webUrl(anyPort ? entry.slice(0, -2) : entry);
    if (!url || url.pathname !== '/' || entry.endsWith('/')) return undefined;
    if (anyPort && (!isLoopbackHost(url.hostname) || url.port !== '')) return undefined;
    normalized.push(anyPort ? `${url.origin}:*` : url.origin);
  }
  return [...new Set(normalized)];
};

/** The MCP tools, by name (generated from the tool modules): the tool-to-scopes table may only name these. */
export type ToolName = keyof typeof TOOL_DEFAULT_SCOPES;
export const TOOL_NAMES = Object.keys(TOOL_DEFAULT_SCOPES) as readonly ToolName[];

export type ToolScopes = Readonly<Record<ToolName, readonly string[]>>;

/**
 * `tool=scope [scope...]` entries separated by `;`, e.g.
 * `web_crawl=web-search:crawl;web_map=web-search:crawl`. Tools not named keep
 * the default scope.
 */
export function defaultToolScopes(): ToolScopes {
  return Object.fromEntries(TOOL_NAMES.map((name) => [name, [...TOOL_DEFAULT_SCOPES[name]]])) as unknown as ToolScopes;
}

const toolScopeTable: Convert<ToolScopes> = (text) => {
  const table: Record<string, readonly string[]> = { ...defaultToolScopes() };
  for (const entry of text.split(';').map((part) => part.trim()).filter(Boolean)) {
    const [name, scopes, ...rest] = entry.split('=');
    const parsed = scopes === undefined ? undefined : scopeList(scopes);
    if (rest.length > 0 || !TOOL_NAMES.includes(name?.trim() as ToolName) || !parsed) return undefined;
    table[name!.trim()] = parsed;
  }
  return table as ToolScopes;
};

const resourceIdPattern = /^res_[A-Za-z0-9_-]+$/;

const boolean: Convert<boolean> = (text) => (/^(true|1|yes)$/i.test(text) ? true : /^(false|0|no)$/i.test(text) ? false : undefined);

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const ssmParameterName: Convert<string> = (text) =>
  text.length <= 2048 && /^(\/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$/.test(text) ? text : undefined;
const nonEmpty: Convert<string> = (text) => text;

/** Per-caller limits that replace the defaults for one `client_id` or one `sub` (a trusted batch client, say). */
export interface QuotaOverride {
  readonly kind: 'client' | 'sub';
  readonly id: string;
  /** 0: unlimited for this caller. Absent: the default applies. */
  readonly callsPerMinute?: number;
  readonly creditsPerDay?: number;
}

const QUOTA_LIMIT_MAX = 1_000_000_000;

/**
 * `client:<client_id>=calls:<n>,credits:<n>` or `sub:<sub>=...` entries separated by `;`,
 * e.g. `client:batch-agent=calls:600,credits:50000;sub:usr_123=credits:2000`. 0 means unlimited.
 */
const quotaOverrideList: Convert<readonly QuotaOverride[]> = (text) => {
  const overrides: QuotaOverride[] = [];
  const seen = new Set<string>();
  for (const entry of text.split(';').map((part) => part.trim()).filter(Boolean)) {
    const match = /^(client|sub):([^=\s;]{1,256})=(.+)$/.exec(entry);
    if (!match) return undefined;
    const [, kind, id, limits] = match as unknown as [string, 'client' | 'sub', string, string];
    if (seen.has(`${kind}:${id}`)) return undefined;
    seen.add(`${kind}:${id}`);
    const override: { kind: 'client' | 'sub'; id: string; callsPerMinute?: number; creditsPerDay?: number } = { kind, id };
    for (const limit of limits.split(',').map((part) => part.trim())) {
      const pair = /^(calls|credits):(\d{1,10})$/.exec(limit);
      if (!pair || Number(pair[2]) > QUOTA_LIMIT_MAX) return undefined;
      const field = pair[1] === 'calls' ? 'callsPerMinute' : 'creditsPerDay';
      if (override[field] !== undefined) return undefined;
      override[field] = Number(pair[2]);
    }
    overrides.push(override);
  }
  return overrides;
};

/** The overrides in their text form, for a function's environment. */
export function formatQuotaOverrides(overrides: readonly QuotaOverride[]): string {
  return overrides
    .map((each) => {
      const limits = [
        ...(each.callsPerMinute !== undefined ? [`calls:${each.callsPerMinute}`] : []),
        ...(each.creditsPerDay !== undefined ? [`credits:${each.creditsPerDay}`] : []),
      ];
      return `${each.kind}:${each.id}=${limits.join(',')}`;
    })
    .join(';');
}

/** The Tavily result cache's default lifetime, and the shorter one for `topic: news` searches. */
export const DEFAULT_CACHE_TTL_SECONDS = 600;
export const DEFAULT_CACHE_TTL_NEWS_SECONDS = 60;

/**
 * The longest one request to the usage table may take, counted from when it is sent. Tight when
 * deployed (DynamoDB answers in milliseconds, and a call waits on it); the local stack sets its own,
 * for dynalite on a busy laptop.
 */
export const DEFAULT_USAGE_STORE_TIMEOUT_MS = 1_000;

/** How long a research task and its result are kept (its `ttlMs`), and how long web_research waits for clients without tasks. */
export const DEFAULT_TASK_TTL_SECONDS = 3 * 3600;
export const DEFAULT_RESEARCH_WAIT_SECONDS = 20;

/** The scopes a deployment uses: those every token needs, and those the tools need. */
export function scopesSupported(requiredScopes: readonly string[], toolScopes: ToolScopes): string[] {
  return [...new Set([...requiredScopes, ...Object.values(toolScopes).flat()])];
}

/** The table in its text form, for a function's environment. */
export function formatToolScopes(toolScopes: ToolScopes): string {
  return Object.entries(toolScopes)
    .map(([name, scopes]) => `${name}=${scopes.join(' ')}`)
    .join(';');
}

/** Names and defaults shared by the CDK app, the functions and the local stack. */
export const DEFAULT_REQUIRED_SCOPES: readonly string[] = ['web-search:read'];
export const DEFAULT_TAVILY_API_KEY_PARAMETER = '/web-search-mcp/tavily-api-key';
export const DEFAULT_TAVILY_API_BASE_URL = 'https://api.tavily.com';
/** Below the shortest token lifetime Scalekit recommends (300 s), so a denylisted or revoked token stops within a minute. */
export const DEFAULT_AUTHORIZER_CACHE_TTL_SECONDS = 60;
/** How long the authorizer reuses the denylist it read before reading it again. */
export const DEFAULT_REVOCATION_DENYLIST_MAX_AGE_SECONDS = 60;

const RESOURCE_URL = "this MCP server's resource URL as registered in Scalekit, e.g. https://mcp.example.com/web-search/mcp";
const SSM_NAME = 'an SSM parameter name, e.g. /web-search-mcp/tavily-api-key';

/** The definitions. Each use names the variable it reads (see `parseSettings`). */
export const definitions = {
  environmentUrl: setting('the Scalekit environment URL, e.g. https://acme.scalekit.com (https; http only on loopback)', environmentRootUrl, {
    required: true,
  }),
  resourceId: setting(
    'the Scalekit resource id of this MCP server, like res_1234567890 (Dashboard > MCP servers)',
    (text) => (resourceIdPattern.test(text) ? text : undefined),
    { required: true },
  ),
  resourceIdentifier: setting(RESOURCE_URL, resourceUrl, { required: true }),
  resourceIdentifierOrDefault: optionalSetting(`${RESOURCE_URL} (unset: the deployed MCP endpoint URL)`, resourceUrl),
  requiredScopes: setting('space- or comma-separated OAuth scopes, e.g. "web-search:read"', scopeList, {
    value: DEFAULT_REQUIRED_SCOPES,
  }),
  tavilyApiKeyParameter: setting(SSM_NAME, ssmParameterName, { value: DEFAULT_TAVILY_API_KEY_PARAMETER }),
  tavilyApiKeyParameterIfSet: optionalSetting(SSM_NAME, ssmParameterName),
  // The optional revocation denylist (jti, sub and client_id entries) the authorizer reads.
  revocationDenylistParameter: optionalSetting('an SSM parameter name (String or StringList), e.g. /web-search-mcp/revoked', ssmParameterName),
  revocationDenylistMaxAgeSeconds: setting('whole seconds from 1 to 3600', integer(1, 3600), {
    value: DEFAULT_REVOCATION_DENYLIST_MAX_AGE_SECONDS,
  }),
  tavilyApiKey: optionalSetting('a Tavily API key (tvly-...)', nonEmpty),
  tavilyApiBaseUrl: setting('the Tavily API base URL (https; http only on loopback)', baseUrl, {
    value: DEFAULT_TAVILY_API_BASE_URL,
  }),
  authorizerCacheTtlSeconds: setting('whole seconds from 0 (no caching) to 3600', integer(0, 3600), {
    value: DEFAULT_AUTHORIZER_CACHE_TTL_SECONDS,
  }),
  allowedOrigins: setting(
    'comma-separated browser origins such as https://app.example.com, http://localhost:* (any loopback port), or *',
    originList,
    { value: [] as readonly string[] },
  ),
  throttleRateLimit: setting('requests per second for the whole stage, from 1 to 10000', integer(1, 10_000), { value: 50 }),
  throttleBurstLimit: setting('a burst size for the whole stage, from 1 to 5000', integer(1, 5000), { value: 100 }),
  apiBaseUrl: setting('the public base URL of the API (set by the stack or the local gateway)', baseUrl, { required: true }),
  logLevel: setting('one of DEBUG, INFO, WARN, ERROR', (text) => (/^(DEBUG|INFO|WARN|ERROR)$/i.test(text) ? text.toUpperCase() : undefined), {
    value: 'INFO',
  }),
  // Operations: logs, traces, alarms, custom domain, WAF.
  logRetentionDays: setting(
    `days to keep logs, one of ${LOG_RETENTION_DAYS.join(', ')}`,
    (text) => (LOG_RETENTION_DAYS.includes(Number(text)) && /^\d+$/.test(text) ? Number(text) : undefined),
    { value: 30 },
  ),
  tracingEnabled: setting('true or false', boolean, { value: false }),
  alarmEmail: optionalSetting('an email address for alarm notifications', (text) =>
    /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text) && text.length <= 254 ? text : undefined,
  ),
  customDomainName: optionalSetting('a domain name such as mcp.example.com (no scheme, no path)', (text) =>
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(text.toLowerCase()) ? text.toLowerCase() : undefined,
  ),
  certificateArn: optionalSetting(
    'an ACM certificate ARN in the stack\'s region, arn:aws:acm:REGION:ACCOUNT:certificate/ID',
    (text) => (/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/.test(text) ? text : undefined),
  ),
  hostedZoneId: optionalSetting('a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ', (text) =>
    /^Z[A-Z0-9]{1,32}$/.test(text) ? text : undefined,
  ),
  provisionedConcurrency: setting(
    'instances kept initialized for the MCP function and for the authorizer, each: a whole number from 0 (off) to 1000',
    integer(0, 1000),
    { value: 0 },
  ),
  wafEnabled: setting('true or false', boolean, { value: false }),
  wafRateLimit: setting('requests per 5 minutes per client IP, from 100 to 2000000000', integer(100, 2_000_000_000), {
    value: 2000,
  }),
  // The local stack's own settings (npm run dev).
  environmentUrlIfSet: optionalSetting(
    'the Scalekit environment URL, e.g. https://acme.scalekit.com (unset: the embedded development authorization server)',
    environmentRootUrl,
  ),
  resourceIdIfSet: optionalSetting('the Scalekit resource id of this MCP server, like res_1234567890', (text) =>
    resourceIdPattern.test(text) ? text : undefined,
  ),
  port: setting('a TCP port from 1 to 65535', integer(1, 65_535), { value: 10_000 }),
  tokenLifetimeSeconds: setting('whole seconds from 1 to 86400', integer(1, 86_400), { value: 300 }),
  portIfSet: optionalSetting('a TCP port from 1 to 65535', integer(1, 65_535)),
  clientId: setting('an OAuth client id (letters, digits, "-", "_", ".")', (text) => (/^[\w.-]{1,128}$/.test(text) ? text : undefined), {
    value: 'dev-m2m-client',
  }),
  clientSecret: setting('an OAuth client secret of 8 to 256 printable characters', (text) =>
    /^[\x21-\x7e]{8,256}$/.test(text) ? text : undefined,
  { value: 'dev-m2m-secret' }),
  toolScopes: setting(
    `"tool=scope [scope...]" entries separated by ";" for tools among ${TOOL_NAMES.join(', ')}, e.g. "web_crawl=web-search:crawl"`,
    toolScopeTable,
    { value: defaultToolScopes() },
  ),
  // Default: what Claude Code (about 25,000 tokens) and Claude.ai (about 150,000 characters) take per result.
  // At most 1,000,000: text and structured content, JSON-escaped, stay under Lambda's 6 MB.
  toolOutputBudgetChars: setting('a number of characters per tool result, from 10000 to 1000000', integer(10_000, 1_000_000), {
    value: DEFAULT_OUTPUT_BUDGET_CHARS,
  }),
  // Quotas and the result cache (lambda/mcp/quota). 0 or unset: off.
  quotaCallsPerMinute: setting('tool calls per caller per minute, from 0 (no limit) to 1000000000', integer(0, QUOTA_LIMIT_MAX), { value: 0 }),
  quotaCreditsPerDay: setting('Tavily credits per caller per UTC day, from 0 (no limit) to 1000000000', integer(0, QUOTA_LIMIT_MAX), {
    value: 0,
  }),
  quotaCreditsPerDayTotal: setting('Tavily credits for the whole server per UTC day, from 0 (no limit) to 1000000000', integer(0, QUOTA_LIMIT_MAX), {
    value: 0,
  }),
  quotaOverrides: setting(
    '"client:<client_id>=calls:<n>,credits:<n>" or "sub:<sub>=..." entries separated by ";" (0 = unlimited), e.g. "client:batch-agent=calls:600,credits:50000"',
    quotaOverrideList,
    { value: [] as readonly QuotaOverride[] },
  ),
  quotaOnStoreError: setting('allow or deny', (text) => (/^(allow|deny)$/i.test(text) ? (text.toLowerCase() as 'allow' | 'deny') : undefined), {
    value: 'allow' as 'allow' | 'deny',
  }),
  cacheTtlSeconds: setting('seconds to keep Tavily results, from 0 (no cache) to 86400', integer(0, 86_400), { value: DEFAULT_CACHE_TTL_SECONDS }),
  cacheTtlNewsSeconds: setting('seconds to keep topic "news" search results, from 0 (not cached) to 86400', integer(0, 86_400), {
    value: DEFAULT_CACHE_TTL_NEWS_SECONDS,
  }),
  cacheScope: setting(
    'organization, caller or shared',
    (text) => (/^(organization|caller|shared)$/i.test(text) ? (text.toLowerCase() as 'organization' | 'caller' | 'shared') : undefined),
    { value: 'organization' as 'organization' | 'caller' | 'shared' },
  ),
  usageStoreTimeoutMs: setting('milliseconds one usage table request may take, from 100 to 20000', integer(100, 20_000), {
    value: DEFAULT_USAGE_STORE_TIMEOUT_MS,
  }),
  // Long work (lambda/mcp/tasks): research tasks live in the usage table for this long.
  taskTtlSeconds: setting('seconds to keep a research task and its report, from 600 to 604800 (7 days)', integer(600, 604_800), {
    value: DEFAULT_TASK_TTL_SECONDS,
  }),
  // At most 20: with the research started first, the answer stays well within API Gateway's 29 s.
  researchWaitSeconds: setting('seconds web_research waits for its report before answering that it is still running, from 1 to 20', integer(1, 20), {
    value: DEFAULT_RESEARCH_WAIT_SECONDS,
  }),
  usageTableName: optionalSetting('a DynamoDB table name (set by the stack)', (text) => (/^[A-Za-z0-9_.-]{3,255}$/.test(text) ? text : undefined)),
  usageTableEndpoint: optionalSetting('a DynamoDB endpoint on loopback, e.g. http://127.0.0.1:8000 (local stack and tests only)', (text) => {
    const url = webUrl(text);
    return url && url.protocol === 'http:' ? url.origin : undefined;
  }),
  usageTableRemovalPolicy: setting('destroy or retain', (text) => (/^(destroy|retain)$/i.test(text) ? (text.toLowerCase() as 'destroy' | 'retain') : undefined), {
    value: 'destroy' as 'destroy' | 'retain',
  }),
} as const;

type Definition = (typeof definitions)[keyof typeof definitions];
type Shape = Record<string, readonly [variable: string, definition: Definition]>;

/**
 * Parse settings from a source of strings (the environment, or CDK context).
 * `shape` maps each result key to the variable it is read from and its definition.
 */
export function parseSettings<const S extends Shape>(
  shape: S,
  source: Readonly<Record<string, unknown>>,
  what = 'configuration',
): { [K in keyof S]: z.output<S[K][1]> } {
  const schemaShape: Record<string, Definition> = {};
  const input: Record<string, string | undefined> = {};
  for (const [key, [variable, definition]] of Object.entries(shape)) {
    schemaShape[key] = definition;
    const raw = source[variable];
    input[key] = raw === undefined || raw === null ? undefined : String(raw);
  }
  const result = z.object(schemaShape).safeParse(input);
  if (!result.success) {
    throw new ConfigurationError(
      result.error.issues.map((issue) => `${shape[String(issue.path[0])]?.[0] ?? String(issue.path[0])}: ${issue.message}`),
      what,
    );
  }
  // zod cannot carry the per-key output types through the loop above; they are exactly the mapped type.
  return result.data as never;
}
