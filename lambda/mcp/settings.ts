/**
 * The MCP function's settings: which variables it reads and how, parsed once
 * per instance by index.ts (and by tests, from an environment of their own).
 */
import { definitions as d, parseSettings } from '../shared/settings.js';
import { USAGE_SETTINGS } from './quota/usage-settings.js';

export const MCP_SETTINGS = {
  allowedOrigins: ['ALLOWED_ORIGINS', d.allowedOrigins],
  toolScopes: ['TOOL_SCOPES', d.toolScopes],
  toolOutputBudgetChars: ['TOOL_OUTPUT_BUDGET_CHARS', d.toolOutputBudgetChars],
  tavilyApiBaseUrl: ['TAVILY_API_BASE_URL', d.tavilyApiBaseUrl],
  tavilyApiKey: ['TAVILY_API_KEY', d.tavilyApiKey],
  tavilyApiKeyParameter: ['TAVILY_API_KEY_PARAMETER', d.tavilyApiKeyParameterIfSet],
  taskTtlSeconds: ['TASK_TTL_SECONDS', d.taskTtlSeconds],
  researchWaitSeconds: ['RESEARCH_WAIT_SECONDS', d.researchWaitSeconds],
  ...USAGE_SETTINGS,
} as const;

export function parseMcpSettings(environment: Readonly<Record<string, string | undefined>>) {
  return parseSettings(MCP_SETTINGS, environment, 'MCP function configuration');
}

export type McpSettings = ReturnType<typeof parseMcpSettings>;
