/**
 * The MCP function: the API Gateway adapter around the MCP endpoint, serving
 * MCP 2026-07-28 and the 2025 revisions on SDK v2. The tool table, its listings
 * and the Tavily client are built once per instance (the SDK's `Server`, per request);
 * the Tavily key is read on the first tool call, never at cold start.
 */
import { proxyHandler } from '../shared/api-gateway.js';
import { createOriginPolicy } from '../shared/cors.js';
import { createObservability, describeError, MetricUnit, sourceMappedStack } from '../shared/observability.js';
import { definitions as d, parseSettings } from '../shared/settings.js';
import { createMcpEndpoint } from './mcp-endpoint.js';
import { USAGE_SETTINGS, usageGuardFromSettings } from './quota/index.js';
import { createMcpServerFactory } from './server.js';
import { createTavilyClient } from './tavily.js';
import { createTavilyKeyProvider } from './tavily-key.js';
import { toolEntries } from './tools/index.js';

const settings = parseSettings(
  {
    allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
    toolScopes: ['TOOL_SCOPES', d.toolScopes],
    toolOutputBudgetChars: ['TOOL_OUTPUT_BUDGET_CHARS', d.toolOutputBudgetChars],
    tavilyApiBaseUrl: ['TAVILY_API_BASE_URL', d.tavilyApiBaseUrl],
    tavilyApiKey: ['TAVILY_API_KEY', d.tavilyApiKey],
    tavilyApiKeyParameter: ['TAVILY_API_KEY_PARAMETER', d.tavilyApiKeyParameterIfSet],
    ...USAGE_SETTINGS,
  },
  process.env,
  'MCP function configuration',
);

const observability = createObservability('mcp');
const { logger } = observability;
const originPolicy = createOriginPolicy(settings.allowedOrigins);

const newServer = createMcpServerFactory({
  tools: toolEntries,
  toolScopes: settings.toolScopes,
  outputBudgetChars: settings.toolOutputBudgetChars,
  tavily: createTavilyClient({
    baseUrl: settings.tavilyApiBaseUrl,
    apiKey: createTavilyKeyProvider({ apiKey: settings.tavilyApiKey, parameterName: settings.tavilyApiKeyParameter }),
  }),
  // Quotas and the result cache; undefined (nothing on the path) when both are off.
  aroundToolCall: usageGuardFromSettings(settings, observability),
  onToolCall: ({ internalError, ...report }) => {
    if (internalError) logger.error('Tool call', { ...report, ...describeError(internalError), stack: sourceMappedStack(internalError) });
    else logger.info('Tool call', { ...report });
    observability.count('ToolCalls', { Tool: report.tool });
    if (report.outcome !== 'ok') {
      observability.count('ToolErrors', { Tool: report.tool, ErrorKind: report.errorKind ?? report.outcome });
    }
    if (report.tavilyMs !== undefined) {
      observability.measure('TavilyLatency', MetricUnit.Milliseconds, report.tavilyMs);
      if (report.errorKind && report.tavilyStatus !== undefined) {
        observability.count('TavilyErrors', { ErrorKind: report.errorKind });
      }
    }
  },
});

const endpoint = createMcpEndpoint({
  newServer,
  originPolicy,
  onRpc: (rpc) => logger.info('JSON-RPC', { ...rpc }),
});

export const handler = proxyHandler(endpoint, { observability, originPolicy });
