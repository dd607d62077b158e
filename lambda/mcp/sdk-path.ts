/**
 * The MCP function's full path: the MCP TypeScript SDK v2 server with this
 * project's tools (server.ts) behind the MCP endpoint (mcp-endpoint.ts), in the
 * API Gateway adapter. index.ts loads this module on the first request the fast
 * path (fast-path.ts) leaves to it, never at cold start; everything it builds is
 * built once per instance, from the settings index.ts parsed.
 */
import { proxyHandler } from '../shared/api-gateway.js';
import type { OriginPolicy } from '../shared/cors.js';
import { describeError, MetricUnit, sourceMappedStack, type Observability } from '../shared/observability.js';
import { createMcpEndpoint } from './mcp-endpoint.js';
import { usageGuardFromSettings } from './quota/index.js';
import { createMcpServerFactory } from './server.js';
import type { McpSettings } from './settings.js';
import { createTavilyClient } from './tavily.js';
import { createTavilyKeyProvider } from './tavily-key.js';
import { toolEntries } from './tools/index.js';

export function createSdkHandler(settings: McpSettings, observability: Observability, originPolicy: OriginPolicy) {
  const { logger } = observability;
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

  return proxyHandler(endpoint, { observability, originPolicy });
}
