/**
 * What a tool call needs, built once per instance and shared by the MCP
 * function's two paths: the Tavily key provider (one key cache), the Tavily
 * client, the usage guard (quotas and the result cache), research tasks, the
 * tool-call report (its log line and metrics) and the tool call itself
 * (tool-call.ts). index.ts loads this module on the first tools/call the fast
 * path takes; sdk-path.ts imports it. Both bundles leave it to its own file
 * (lib/bundling.ts), so that an instance holds one of each, and the errors the
 * tools, Tavily client and task store throw are one set of classes.
 *
 * It also runs the fast path's tool call, without the SDK.
 */
import { describeError, MetricUnit, sourceMappedStack, type Observability } from '../shared/observability.js';
import { loadParameterReader } from '../shared/parameters.js';
import type { AdmittedRequest } from './admission.js';
import { RESPONSE_MARGIN_MS } from './protocol.js';
import { usageGuardFromSettings } from './quota/index.js';
import type { AroundToolCall, ToolCallResult } from './quota/usage-guard.js';
import type { UsageStore } from './quota/usage-store.js';
import { usageNeedsTable } from './quota/usage-settings.js';
import type { McpSettings } from './settings.js';
import { createTavilyClient, type TavilyApi } from './tavily.js';
import { createTavilyKeyProvider } from './tavily-key.js';
import { createResearchCredits } from './tasks/research-credits.js';
import { createResearchTasks, type ResearchEvent, type ResearchTasks } from './tasks/research-tasks.js';
import { createDynamoTaskStore } from './tasks/task-store.js';
import { createToolCaller, type ToolCaller, type ToolCallReport } from './tool-call.js';
import { toolEntries } from './tools/index.js';

// The SDK path takes the tools from here: one copy of their modules per instance.

export interface ToolRuntime {
  /** The Tavily key, read on first need and kept for a while (tavily-key.ts). */
  readonly tavilyKey: () => Promise<string>;
  readonly tavily: TavilyApi;
  /** Quotas and the result cache; undefined (nothing on the path) when both are off. */
  readonly aroundToolCall: AroundToolCall | undefined;
  readonly onToolCall: (report: ToolCallReport) => void;
  /** Undefined without a usage table (a misconfiguration): then the research tools say so. */
  readonly research: ResearchTasks | undefined;
  /** The tool call with all of these. */
  readonly toolCaller: ToolCaller;
}

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

/** The log line and metrics of one tool call (the stack alarms on the error counts). */
export function reportToolCall(observability: Observability) {
  const { logger } = observability;
  return ({ internalError, ...report }: ToolCallReport) => {
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
  };
}

/** A runtime of its own; `usageStore` stands in for the DynamoDB table (tests). Instances use `toolRuntime`. */
export function createToolRuntime(settings: McpSettings, observability: Observability, more: { readonly usageStore?: UsageStore } = {}): ToolRuntime {
  const tavilyKey = createTavilyKeyProvider({ apiKey: settings.tavilyApiKey, parameterName: settings.tavilyApiKeyParameter });
  const tavily = createTavilyClient({ baseUrl: settings.tavilyApiBaseUrl, apiKey: tavilyKey });
  const aroundToolCall = usageGuardFromSettings(settings, observability, more.usageStore);
  const onToolCall = reportToolCall(observability);
  const { logger } = observability;
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
  const toolCaller = createToolCaller({
    tools: toolEntries,
    toolScopes: settings.toolScopes,
    outputBudgetChars: settings.toolOutputBudgetChars,
    tavily,
    onToolCall,
    ...(aroundToolCall ? { aroundToolCall } : {}),
    ...(research ? { research } : {}),
  });
  return { tavilyKey, tavily, aroundToolCall, onToolCall, research, toolCaller };
}

const runtimes = new WeakMap<McpSettings, WeakMap<Observability, ToolRuntime>>();

/** The instance's runtime for these settings, built on first need: both paths get the same one. */
export function toolRuntime(settings: McpSettings, observability: Observability): ToolRuntime {
  let bySettings = runtimes.get(settings);
  if (!bySettings) runtimes.set(settings, (bySettings = new WeakMap()));
  let runtime = bySettings.get(observability);
  if (!runtime) bySettings.set(observability, (runtime = createToolRuntime(settings, observability)));
  return runtime;
}

/** A tools/call the fast path judged plain (fast-path.ts): a known tool's name, and its arguments as sent. */
export interface PlainToolCall {
  readonly name: string;
  readonly arguments: Record<string, unknown> | undefined;
}

/**
 * The fast path's tool call: the tool's result, or undefined for a tool the
 * SDK path must serve (one that works with research tasks, which only it
 * keeps). Nothing has run when it declines.
 */
export async function runPlainToolCall(
  runtime: ToolRuntime,
  call: PlainToolCall,
  request: AdmittedRequest,
  remainingTimeMs: () => number,
  now: () => number = Date.now,
): Promise<ToolCallResult | undefined> {
  const found = runtime.toolCaller.find(call.name);
  if (!found) return undefined;
  const tool = await found.entry.load();
  if (tool.usesResearch || tool.longRunning) return undefined;
  // As on the SDK path: the key read (SSM, on a cold instance) starts beside the guard's lookup. Its failure is the call's to report.
  runtime.tavilyKey().catch(() => {});
  const { caller } = request;
  const { result } = await runtime.toolCaller.call(found, call.arguments, {
    granted: caller.scopes,
    caller: { sub: caller.sub, clientId: caller.clientId, ...(caller.organizationId !== undefined ? { organizationId: caller.organizationId } : {}) },
    deadline: now() + remainingTimeMs() - RESPONSE_MARGIN_MS,
    // Stateless and one request per invocation: nothing can cancel this call before its answer (the SDK's signal never fires here either).
    signal: new AbortController().signal,
    declaresTasks: false,
  });
  return result;
}
