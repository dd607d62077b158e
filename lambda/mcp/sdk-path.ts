/**
 * The MCP function's full path: the MCP TypeScript SDK v2 server with this
 * project's tools (server.ts) behind the MCP endpoint (mcp-endpoint.ts), for a
 * request admission.ts admitted and the fast path (fast-path.ts) left to it.
 * index.ts loads this module on the first such request, never at cold start;
 * everything it builds is built once per instance, from the settings index.ts parsed.
 */
// First: it configures zod before any schema is built.
import './zod-jitless.js';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { coreAnswer, toProxyResult } from '../shared/api-gateway.js';
import { loadParameterReader } from '../shared/parameters.js';
import { MetricUnit, type Observability } from '../shared/observability.js';
import type { AdmittedRequest } from './admission.js';
import { createMcpEndpoint, type EndpointInvocation } from './mcp-endpoint.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from './protocol-answers.generated.js';
import { callsATool } from './protocol.js';
import { usageNeedsTable } from './quota/usage-settings.js';
import { createMcpServerFactory } from './server.js';
import type { McpSettings } from './settings.js';
import { createResearchCredits } from './tasks/research-credits.js';
import { createResearchTasks, type ResearchEvent } from './tasks/research-tasks.js';
import { createDynamoTaskStore } from './tasks/task-store.js';
import { toolEntries, toolRuntime, type ToolRuntime } from './tool-runtime.js';

export type SdkPath = (request: AdmittedRequest, invocation: EndpointInvocation) => Promise<APIGatewayProxyResult>;

/** A log line and the metrics per research event (the stack alarms on the failure rate). */
export function reportResearch(observability: Observability) {
  const { logger } = observability;
  return (event: ResearchEvent) => {
    switch (event.kind) {
      case 'started':
        logger.info('Research started', { model: event.model, asTask: event.asTask });
        observability.count('ResearchStarted', { Model: event.model });
        return;
      case 'completed':
      case 'failed':
        logger.info(event.kind === 'completed' ? 'Research completed' : 'Research failed', { ...event });
        observability.count(event.kind === 'completed' ? 'ResearchCompleted' : 'ResearchFailed', { Model: event.model });
        observability.measure('ResearchDuration', MetricUnit.Milliseconds, event.durationMs);
        return;
      case 'cancelled':
        logger.info('Research cancelled', { model: event.model });
        observability.count('ResearchCancelled', { Model: event.model });
        return;
      case 'check_failed':
        logger.warn('Research status check failed', { errorKind: event.errorKind });
        observability.count('ResearchCheckErrors', { ErrorKind: event.errorKind });
        return;
    }
  };
}

/**
 * Everything a first tool call loads, loaded now, with no request sent: for an
 * instance initialized ahead of its clients (provisioned concurrency), whose
 * init may take the time and must end with nothing in flight. The tools'
 * modules; `fetch` and `Request` (Node loads them on first use); the SSM reader
 * when the key is in SSM; and the quota guard and usage store, when quotas or
 * the cache are on. Failures are left to the first call, which reports them.
 */
export async function loadWhatAToolCallNeeds(settings: McpSettings): Promise<void> {
  void globalThis.Request;
  await Promise.allSettled([
    ...toolEntries.map((entry) => entry.load()),
    ...(settings.tavilyApiKey || !settings.tavilyApiKeyParameter ? [] : [loadParameterReader()]),
    ...(usageNeedsTable(settings) ? [loadUsageStore()] : []),
  ]);
}

/** The quota guard, the usage store and its signed DynamoDB requests (modules only: no client is made, nothing sent). */
async function loadUsageStore(): Promise<void> {
  await Promise.all([import('./quota/usage-guard.js'), import('./quota/usage-store.js')]);
}

/**
 * The SDK path. `supportedVersions` is for the generator of the fast path's
 * answers (scripts/generate-protocol-answers.ts), which takes them from the SDK
 * before it writes them where this module reads them. The key provider, Tavily
 * client, usage guard and tool-call report are the instance's, shared with the
 * fast path (tool-runtime.ts).
 */
export function createSdkHandler(
  settings: McpSettings,
  observability: Observability,
  supportedVersions: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS,
  runtime: ToolRuntime = toolRuntime(settings, observability),
): SdkPath {
  const { logger } = observability;
  const { tavilyKey, tavily, aroundToolCall, onToolCall } = runtime;
  const { usageTableName, usageTableEndpoint } = settings;
  // Research tasks live in the usage table: without one (a misconfiguration) the research tools say so.
  const research = usageTableName
    ? createResearchTasks({
        store: createDynamoTaskStore({ tableName: usageTableName, ...(usageTableEndpoint ? { endpoint: usageTableEndpoint } : {}) }),
        tavily,
        credits: createResearchCredits({
          settings,
          onSettleFailed: (reason) => {
            logger.warn('Research credits not settled', { reason });
            observability.count('UsageStoreErrors', { Operation: 'settle' });
          },
        }),
        ttlMs: settings.taskTtlSeconds * 1000,
        waitMs: settings.researchWaitSeconds * 1000,
        outputBudgetChars: settings.toolOutputBudgetChars,
        finish: async (task, answer, budgetChars) => (await import('./tools/web-research.js')).researchResult(task, answer, budgetChars),
        onEvent: reportResearch(observability),
      })
    : undefined;
  const newServer = createMcpServerFactory({
    tools: toolEntries,
    toolScopes: settings.toolScopes,
    outputBudgetChars: settings.toolOutputBudgetChars,
    tavily,
    ...(research ? { research } : {}),
    ...(aroundToolCall ? { aroundToolCall } : {}),
    onToolCall,
  });

  const endpoint = createMcpEndpoint({
    newServer,
    supportedVersions,
    onRpc: (rpc) => logger.info('JSON-RPC', { ...rpc }),
  });

  return async function serveAdmitted(request, invocation) {
    // The key read (SSM, on a cold instance or once the value in hand is old) starts now, beside the
    // SDK's handling and the cache lookup rather than after them. Its failure is the tool call's to report.
    if (callsATool(request.body)) tavilyKey().catch(() => {});
    const response = await coreAnswer(() => endpoint(request, invocation), invocation.requestId, logger);
    return toProxyResult(response, request.responseHeaders);
  };
}
