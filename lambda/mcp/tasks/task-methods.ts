/**
 * The tasks extension's methods (`io.modelcontextprotocol/tasks`, for
 * 2026-07-28): tasks/get, tasks/cancel and tasks/update, as request handlers
 * of the SDK's `Server`, with the task shapes they answer.
 *
 * The SDK takes them as custom methods (`setRequestHandler` with a params
 * schema: it knows tasks/get and tasks/cancel as names the extension reuses),
 * after applying its own rules for 2026-07-28 requests: the envelope, the
 * standard headers, and `Mcp-Name`, which must equal `params.taskId`.
 * Admission (admission.ts) has judged the request before either.
 *
 * - A request whose client did not declare the extension gets -32021 with the
 *   capability it lacks, whatever it asks (2025-era requests never declare it).
 * - An unknown id, another caller's and an expired one get the same -32602.
 * - tasks/update is always refused: no task here ever asks for input.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import * as z from 'zod/v4';
import type { Caller } from './research-credits.js';
import type { ResearchTasks } from './research-tasks.js';
import type { ResearchTask } from './task-store.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

export const TASK_NOT_FOUND_MESSAGE = 'Failed to retrieve task: Task not found';
export const TASK_UPDATE_MESSAGE = 'Failed to update task: no task of this server asks for input, so there is nothing to update';

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Whether a request's `_meta` declares the tasks extension among its client capabilities. */
function declaredIn(meta: unknown): boolean {
  const capabilities = isPlainObject(meta) ? meta[CLIENT_CAPABILITIES_META_KEY] : undefined;
  return isPlainObject(capabilities) && isPlainObject(capabilities.extensions) && isPlainObject(capabilities.extensions[TASKS_EXTENSION]);
}

/** Whether the request's client declared the tasks extension (only a 2026-07-28 request can: it is per request). */
export function declaresTasks(context: ServerContext): boolean {
  return declaredIn(context.mcpReq.envelope);
}

/** The task as the extension shows it: its state, and for a working one how often to poll. */
export function taskFields(task: ResearchTask, pollIntervalMs: number) {
  const messages = {
    working: `Tavily is researching (model "${task.model}").`,
    completed: task.result?.isError ? 'The research ended without a report.' : 'The report is ready.',
    cancelled: 'Cancelled. Tavily cannot stop a research it has started: it may still finish, and be charged.',
  } as const;
  return {
    taskId: task.taskId,
    status: task.status,
    statusMessage: messages[task.status],
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.updatedAt).toISOString(),
    ttlMs: task.ttlMs,
    ...(task.status === 'working' ? { pollIntervalMs } : {}),
  };
}

/** tools/call's answer for a task-declaring client: the task handle (it is stored by then). */
export function createTaskResult(task: ResearchTask, pollIntervalMs: number) {
  return { resultType: 'task' as const, ...taskFields(task, pollIntervalMs) };
}

/** A result whose `resultType` says it is a task handle rather than the method's own result. */
export function isCreateTaskResult(result: unknown): boolean {
  return isPlainObject(result) && result.resultType === 'task';
}

const missingExtension = () =>
  new MissingRequiredClientCapabilityError(
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    `Missing required client capability: the ${TASKS_EXTENSION} extension (declare it in the request's client capabilities)`,
  );

/**
 * The JSON-RPC error for a `subscriptions/listen` that asks for task status notifications
 * (`notifications.taskIds`) from a client that did not declare the extension: -32021, as the
 * extension requires. The SDK serves listen itself, before any handler of this server, and knows
 * nothing of the extension, so the endpoint asks this first. Undefined for any other message.
 */
export function listenWithoutTasks(message: unknown): { code: number; message: string; data: unknown } | undefined {
  if (!isPlainObject(message) || message.method !== 'subscriptions/listen' || !isPlainObject(message.params)) return undefined;
  const { notifications, _meta: meta } = message.params;
  if (!isPlainObject(notifications) || notifications.taskIds === undefined || declaredIn(meta)) return undefined;
  const error = missingExtension();
  return { code: error.code, message: error.message, data: error.data };
}

const taskNotFound = () => new ProtocolError(ProtocolErrorCode.InvalidParams, TASK_NOT_FOUND_MESSAGE);

const taskIdParams = z.object({ taskId: z.string() });
const updateParams = z.object({ taskId: z.string(), inputResponses: z.record(z.string(), z.unknown()).optional() });

/** What the handlers need of each request: who asks, and by when the answer is due. */
export interface TaskRequestFacts {
  caller(context: ServerContext): Caller;
  deadline(context: ServerContext): number;
}

/** tasks/get, tasks/cancel and tasks/update on `server`; `research` undefined: no task exists here (no store). */
export function registerTaskMethods(server: Server, research: ResearchTasks | undefined, facts: TaskRequestFacts): void {
  /** The caller's task by id, after the capability check, or the one "not found". */
  async function taskFor(params: { taskId: string }, context: ServerContext): Promise<ResearchTask> {
    if (!declaresTasks(context)) throw missingExtension();
    const task = research && (await research.find(facts.caller(context), params.taskId, facts.deadline(context)));
    if (!task) throw taskNotFound();
    return task;
  }

  server.setRequestHandler('tasks/get', { params: taskIdParams }, async (params, context) => {
    const task = await taskFor(params, context);
    const current = await research!.poll(facts.caller(context), task, facts.deadline(context));
    const fields = taskFields(current, research!.pollIntervalMs);
    if (current.status !== 'completed') return { resultType: 'complete', ...fields };
    const kept = await research!.resultOf(current);
    const result = kept.isError
      ? { content: [{ type: 'text', text: kept.text }], isError: true }
      : { content: [{ type: 'text', text: kept.text }], structuredContent: kept.structured };
    return { resultType: 'complete', ...fields, result };
  });

  server.setRequestHandler('tasks/cancel', { params: taskIdParams }, async (params, context) => {
    const task = await taskFor(params, context);
    await research!.cancel(task, facts.deadline(context));
    return { resultType: 'complete' };
  });

  server.setRequestHandler('tasks/update', { params: updateParams }, async (_params, context) => {
    if (!declaresTasks(context)) throw missingExtension();
    // The same answer for every id: nothing here waits for input, whoever's the task.
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, TASK_UPDATE_MESSAGE);
  });
}
