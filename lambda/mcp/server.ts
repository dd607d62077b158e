/**
 * The MCP server: the MCP TypeScript SDK v2's protocol engine
 * (`@modelcontextprotocol/server`) with this project's tools, for both protocol
 * eras (2026-07-28, and 2025-11-25 and older). It knows nothing of HTTP;
 * mcp-endpoint.ts serves one request at a time with it.
 *
 * The SDK pins a `Server` to the era of the first request it serves and refuses
 * one that is still serving, so each request gets a new `Server`. That is all
 * that is built per request: the tool table, the listings (per set of scopes)
 * and the handlers' logic are built once per instance, here.
 *
 * It uses the SDK's low-level `Server` rather than `McpServer`: McpServer turns
 * every tool's zod schema into JSON Schema again on each tools/list, advertises
 * `listChanged: true` (a 2026-07-28 `subscriptions/listen` would then be held
 * open until API Gateway's timeout) and cannot show each caller only the tools
 * its scopes allow. A tool call is the one the fast path makes too
 * (tool-call.ts): the scopes check, parse, guard, run and error results.
 *
 * For 2026-07-28 it also serves the tasks extension (tasks/task-methods.ts): a
 * long-running tool's call (web_research) answers with a task handle when the
 * request's client declares the extension, and tasks/get, tasks/cancel and
 * tasks/update are served in both eras (a 2025-era request never declares it).
 */
import {
  ProtocolError,
  ProtocolErrorCode,
  Server,
  type CallToolResult,
  type JSONRPCRequest,
  type Result,
  type ServerContext,
  type Tool,
} from '@modelcontextprotocol/server';
import type { ToolCallResult } from './quota/usage-guard.js';
import type { ResearchTasks } from './tasks/research-tasks.js';
import { createTaskResult, declaresTasks, isCreateTaskResult, registerTaskMethods, TASKS_EXTENSION } from './tasks/task-methods.js';
import type { ToolCaller } from './tool-call.js';
import { CAPABILITIES, INSTRUCTIONS, LIST_CACHE_TTL_MS, SERVER_INFO, toolsFor } from './server-info.js';

export { LIST_CACHE_TTL_MS, SERVER_NAME, SERVER_VERSION } from './server-info.js';

/** What the endpoint passes per request, through the SDK's `authInfo.extra`. */
export interface RequestFacts {
  /** Absolute time (ms since the epoch) by which the response must be ready. */
  readonly deadline: number;
  readonly requestId: string;
}

export type { ToolCallReport } from './tool-call.js';

export interface McpServerOptions {
  /** The instance's tool call (tool-runtime.ts: the one the fast path runs too). */
  readonly toolCaller: ToolCaller;
  /**
   * Research tasks (tasks/research-tasks.ts). Unset where there is nowhere to keep them (no usage
   * table): then no call becomes a task, the research tools say so, and tasks/* find no task.
   */
  readonly research?: ResearchTasks;
  readonly now?: () => number;
}

/** A task handle on its way past the SDK's check of tools/call results (see TaskServer). */
class TaskHandle {
  constructor(readonly result: Result) {}
}

/**
 * The SDK's `Server`, letting tools/call answer with a task handle. The SDK
 * checks every tools/call result as a CallToolResult (`content` required); the
 * tasks extension lets a server answer a CreateTaskResult (`resultType:
 * "task"`) instead, which the SDK's encoder already passes on for tools/call.
 * `_wrapHandler` is the SDK's hook for wrapping handlers: a handle is carried
 * past the check, and every other result still goes through it.
 */
class TaskServer extends Server {
  protected override _wrapHandler(
    method: string,
    handler: (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>,
  ): (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result> {
    if (method !== 'tools/call') return super._wrapHandler(method, handler);
    const checked = super._wrapHandler(method, async (request, ctx) => {
      const result = await handler(request, ctx);
      if (isCreateTaskResult(result)) throw new TaskHandle(result);
      return result;
    });
    return async (request, ctx) => {
      try {
        return await checked(request, ctx);
      } catch (thrown) {
        if (thrown instanceof TaskHandle) return thrown.result;
        throw thrown;
      }
    };
  }
}

/**
 * Builds the `Server` for one request, for the era it serves (2025-era requests: `legacy`);
 * everything it uses was built once, by `createMcpServerFactory`.
 */
export type McpServerFactory = (context?: { readonly era: 'legacy' | 'modern' }) => Server;

/** Who is calling, from what the endpoint passed (the authorizer's caller). */
function callerOf(context: ServerContext) {
  const authInfo = context.http?.authInfo;
  const extra = authInfo?.extra as { sub?: unknown; organizationId?: unknown } | undefined;
  const organizationId = typeof extra?.organizationId === 'string' ? extra.organizationId : undefined;
  return { sub: String(extra?.sub ?? ''), clientId: authInfo?.clientId ?? '', ...(organizationId !== undefined ? { organizationId } : {}) };
}

export function createMcpServerFactory(options: McpServerOptions): McpServerFactory {
  const now = options.now ?? Date.now;
  const { toolCaller } = options;
  const entries = toolCaller.tools.map(({ listing, scopes }) => ({ listing: listing as Tool, scopes }));
  const listings = new Map<string, Tool[]>();

  async function listTools(_request: unknown, context: ServerContext) {
    const granted = context.http?.authInfo?.scopes ?? [];
    const key = [...granted].sort().join(' ');
    let tools = listings.get(key);
    if (!tools) {
      tools = toolsFor(entries, granted);
      if (listings.size < 64) listings.set(key, tools);
    }
    return { tools };
  }

  /** The shared tool call (tool-call.ts), with what only the SDK path has: the unknown tool's -32602, and task handles. */
  async function callTool(
    request: { params: { name: string; arguments?: Record<string, unknown> } },
    context: ServerContext,
  ): Promise<ToolCallResult | ReturnType<typeof createTaskResult>> {
    const found = toolCaller.find(request.params.name);
    if (!found) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Unknown tool: ${request.params.name.slice(0, 100)}. Call tools/list to see the tools available.`,
      );
    }
    const { result, task } = await toolCaller.call(found, request.params.arguments, {
      granted: context.http?.authInfo?.scopes ?? [],
      caller: callerOf(context),
      deadline: deadlineOf(context),
      signal: context.mcpReq.signal,
      declaresTasks: declaresTasks(context),
    });
    return task ? createTaskResult(task, options.research!.pollIntervalMs) : result;
  }

  function deadlineOf(context: ServerContext): number {
    const facts = context.http?.authInfo?.extra as Partial<RequestFacts> | undefined;
    return facts?.deadline ?? now() + 25_000;
  }

  const cacheHint = { ttlMs: LIST_CACHE_TTL_MS, cacheScope: 'private' } as const;
  return function newServer(serving): Server {
    const server = new TaskServer(
      { ...SERVER_INFO },
      {
        capabilities: structuredClone(CAPABILITIES) as { tools: { listChanged: boolean } },
        instructions: INSTRUCTIONS,
        cacheHints: { 'tools/list': cacheHint, 'server/discover': cacheHint },
      },
    );
    server.setRequestHandler('tools/list', listTools);
    // The results are built from this project's own text and structured content (ToolCallResult).
    server.setRequestHandler('tools/call', callTool as (...args: Parameters<typeof callTool>) => Promise<CallToolResult>);
    registerTaskMethods(server, options.research, { caller: callerOf, deadline: deadlineOf });
    // Discovery is 2026-07-28's: a 2025-era client cannot declare the extension per request.
    if (serving?.era === 'modern') server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } });
    return server;
  };
}
