/**
 * The MCP function: the API Gateway adapter around the MCP endpoint. The
 * server, its tool listings and the Tavily client are built once per instance;
 * the Tavily key is read on the first tool call, never at cold start.
 */
import { proxyHandler } from '../shared/api-gateway.js';
import { createOriginPolicy } from '../shared/cors.js';
import { createLogger } from '../shared/log.js';
import { definitions as d, parseSettings } from '../shared/settings.js';
import { createMcpEndpoint } from './mcp-endpoint.js';
import { createMcpServer } from './server.js';
import { createTavilyClient } from './tavily.js';
import { createTavilyKeyProvider } from './tavily-key.js';
import { tools } from './tools/index.js';

const settings = parseSettings(
  {
    allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
    toolScopes: ['TOOL_SCOPES', d.toolScopes],
    toolOutputBudgetChars: ['TOOL_OUTPUT_BUDGET_CHARS', d.toolOutputBudgetChars],
    tavilyApiBaseUrl: ['TAVILY_API_BASE_URL', d.tavilyApiBaseUrl],
    tavilyApiKey: ['TAVILY_API_KEY', d.tavilyApiKey],
    tavilyApiKeyParameter: ['TAVILY_API_KEY_PARAMETER', d.tavilyApiKeyParameterIfSet],
  },
  process.env,
  'MCP function configuration',
);

const logger = createLogger('mcp');
const originPolicy = createOriginPolicy(settings.allowedOrigins);

const server = createMcpServer({
  tools,
  toolScopes: settings.toolScopes,
  outputBudgetChars: settings.toolOutputBudgetChars,
  tavily: createTavilyClient({
    baseUrl: settings.tavilyApiBaseUrl,
    apiKey: createTavilyKeyProvider({ apiKey: settings.tavilyApiKey, parameterName: settings.tavilyApiKeyParameter }),
  }),
  onToolCall: (report) => logger.info('Tool call', { ...report }),
});

export const handler = proxyHandler(createMcpEndpoint({ server, originPolicy }), { logger, originPolicy });
