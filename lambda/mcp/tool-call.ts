/**
 * One tool call, as both paths of the MCP function run it: the scopes check,
 * the input's parse, the usage guard (quotas and the result cache), the run,
 * the fitting to the output budget, and the error results, each reported once
 * through `onToolCall`. The SDK path's server (server.ts) wraps it in a
 * tools/call handler; the fast path (fast-path.ts, through tool-runtime.ts)
 * calls it without the SDK. Nothing here imports the SDK, and the only zod it
 * touches is the tools' own input schemas.
 */
import type { AroundToolCall, GuardedToolCall, ToolCallResult } from './quota/usage-guard.js';
import { TavilyError, type TavilyClient } from './tavily.js';
import type { ResearchTasks } from './tasks/research-tasks.js';
import type { ResearchTask } from './tasks/task-store.js';
import { DEFAULT_OUTPUT_BUDGET_CHARS, fittedResult } from './tools/output-budget.js';
import type { ToolEntry } from './tools/registry.js';
import { invalidArgumentsMessage, ToolAdviceError, toolFailureMessage } from './tools/tool-errors.js';

export interface ToolCallReport {
  readonly tool: string;
  readonly outcome: 'ok' | 'tool_error' | 'invalid_arguments' | 'forbidden';
  readonly errorKind?: string;
  readonly durationMs: number;
  /** The last Tavily answer's status (0: no answer), when Tavily was called. */
  readonly tavilyStatus?: number;
  /** Time spent waiting on Tavily, retries included. */
  readonly tavilyMs?: number;
  readonly tavilyAttempts?: number;
  /** An error that is nobody's fault but this server's (not a Tavily failure), for the log. */
  readonly internalError?: unknown;
}

export interface ToolCallOptions {
  /** Listings to show, and modules loaded on a tool's first call (tools/registry.ts). */
  readonly tools: readonly ToolEntry[];
  /** Scopes each tool needs (TOOL_SCOPES); a tool missing from the table needs its module's default scopes. */
  readonly toolScopes: Readonly<Record<string, readonly string[]>>;
  readonly tavily: TavilyClient;
  readonly outputBudgetChars?: number;
  readonly now?: () => number;
  readonly onToolCall?: (report: ToolCallReport) => void;
  /**
   * The one hook around a validated tool call: quotas and the result cache (quota/usage-guard.ts).
   * It may answer without running the tool, or run it with the Tavily client it gives.
   */
  readonly aroundToolCall?: AroundToolCall;
  /**
   * Research tasks (tasks/research-tasks.ts). Unset where there is nowhere to keep them (no usage
   * table): then no call becomes a task, and the research tools say so.
   */
  readonly research?: ResearchTasks;
}

/** A tool with the scopes a call of it needs. */
export interface ScopedTool {
  readonly entry: ToolEntry;
  readonly listing: ToolEntry['listing'];
  readonly scopes: readonly string[];
}

/** What one call is made with, besides the tool and its arguments. */
export interface ToolCallFacts {
  /** The scopes the caller's token grants. */
  readonly granted: readonly string[];
  readonly caller: GuardedToolCall['caller'];
  /** Absolute time (ms since the epoch) by which the answer must be ready. */
  readonly deadline: number;
  readonly signal: AbortSignal;
  /** The request declared the tasks extension (2026-07-28): a long-running tool's call may become a task. */
  readonly declaresTasks: boolean;
}

export interface ToolCallOutcome {
  readonly result: ToolCallResult;
  /** The research task the call became (its answer is then the task's handle, not `result`). */
  readonly task?: ResearchTask;
}

function errorResult(text: string): ToolCallResult {
  return { content: [{ type: 'text', text }], isError: true };
}

export function createToolCaller(options: ToolCallOptions) {
  const now = options.now ?? Date.now;
  const budget = options.outputBudgetChars ?? DEFAULT_OUTPUT_BUDGET_CHARS;
  const tools: readonly ScopedTool[] = options.tools.map((entry) => ({
    entry,
    listing: entry.listing,
    scopes: options.toolScopes[entry.listing.name] ?? entry.defaultScopes,
  }));
  const byName = new Map(tools.map((each) => [each.listing.name, each]));

  async function call(found: ScopedTool, args: Record<string, unknown> | undefined, facts: ToolCallFacts): Promise<ToolCallOutcome> {
    const started = now();
    const { name } = found.listing;
    const report = (outcome: ToolCallReport['outcome'], more: Partial<ToolCallReport> = {}) =>
      options.onToolCall?.({ tool: name, outcome, durationMs: now() - started, ...more });

    const missing = found.scopes.filter((scope) => !facts.granted.includes(scope));
    if (missing.length > 0) {
      report('forbidden');
      return {
        result: errorResult(`${name} needs the scope "${missing.join(' ')}", which your access token does not grant. Authorize again requesting it.`),
      };
    }

    const tool = await found.entry.load();

    const parsed = tool.input.safeParse(args ?? {});
    if (!parsed.success) {
      report('invalid_arguments');
      return { result: errorResult(invalidArgumentsMessage(tool.name, parsed.error.issues)) };
    }

    const tavily = { tavilyAttempts: 0, tavilyMs: 0, tavilyStatus: undefined as number | undefined };
    const withTavily = () => (tavily.tavilyAttempts > 0 ? tavily : {});
    const { deadline, caller } = facts;
    // A long-running tool's call becomes a task only for a client that declared the extension on this request.
    const asTask = tool.longRunning === true && options.research !== undefined && facts.declaresTasks;
    const research = options.research?.session(caller, { asTask, startedAt: started, deadline });
    const execute = async (client: TavilyClient): Promise<ToolCallResult> => {
      try {
        const result = await tool.run(parsed.data, {
          tavily: client,
          deadline,
          signal: facts.signal,
          onTavilyAttempt: (status, durationMs) => {
            tavily.tavilyStatus = status;
            tavily.tavilyMs += durationMs;
            tavily.tavilyAttempts += 1;
          },
          ...(research ? { research } : {}),
        });
        report('ok', withTavily());
        return fittedResult(result, tool.render, budget);
      } catch (error) {
        if (error instanceof TavilyError) report('tool_error', { errorKind: error.kind, ...withTavily() });
        else if (error instanceof ToolAdviceError) report('tool_error', { errorKind: error.kind, ...withTavily() });
        else report('tool_error', { errorKind: 'internal', ...withTavily(), internalError: error });
        return errorResult(toolFailureMessage(error, tool));
      }
    };
    const guarded = { tool, args: parsed.data, caller, deadline, tavily: options.tavily };
    const result = options.aroundToolCall ? await options.aroundToolCall(guarded, execute) : await execute(options.tavily);
    // Past the guard (counted, its worst case reserved) and recorded: the client polls the task from here on.
    if (asTask && research?.created && !result.isError) return { result, task: research.created };
    return { result };
  }

  return {
    /** Every tool, in tools/list order, with its scopes. */
    tools,
    /** The tool of that name, if this server has one. */
    find: (name: string): ScopedTool | undefined => byName.get(name),
    call,
  };
}

export type ToolCaller = ReturnType<typeof createToolCaller>;
