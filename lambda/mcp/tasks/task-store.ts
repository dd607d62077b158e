/**
 * Where research tasks live: items of the usage table (quota/usage-table.ts),
 * under keys of their own (`task#<id>`), deleted by the table's TTL once their
 * time is up. A task is written once, when its research has started, and then
 * only moved on by conditional updates: from `working` to `completed` (with its
 * result) or `cancelled`, whichever comes first, so that a result is kept once
 * and its credits are settled once however many polls see it finish.
 *
 * Item `task#<id>`:
 * - `owner`: SHA-256 of the caller's `sub` and `client_id` (whose task it is; no identity in the clear);
 * - `requestId`: Tavily's research id (never shown to clients); `input`, `model`: what was asked;
 * - `status`: `working`, `completed` or `cancelled`;
 * - `createdAt`, `updatedAt`, `checkedAt` (last look at Tavily): epoch milliseconds; `ttlMs`;
 * - `expiresAt`: epoch seconds (the table's TTL attribute);
 * - `reservedDay`, `reservedCredits`: the credits held on the daily budgets until the research settles;
 * - `credits`: what it cost, once known;
 * - `result`: the finished CallToolResult's text and structured content, gzip'd like a cached
 *   result (quota/result-cache.ts), and `isError`.
 *
 * DynamoDB is called as the usage store calls it (aws-json.ts), with a client made on the first operation.
 */
import { randomBytes } from 'node:crypto';
import { AwsRequestError, type AttributeMap, type AwsJsonClient } from '../../shared/aws-json.js';
import { WebSearchMcpError } from '../../shared/errors.js';
import { conditionFailed, createUsageTableClient, type StoreCall } from '../quota/usage-store.js';
import { USAGE_TABLE } from '../quota/usage-table.js';

export type TaskStatus = 'working' | 'completed' | 'cancelled';

export interface TaskResult {
  /** gzip of `{ text, structured }` (quota/result-cache.ts's `packResult`). */
  readonly body: Uint8Array;
  readonly isError: boolean;
}

export interface ResearchTask {
  readonly taskId: string;
  /** Whose task it is (`ownerOf`). */
  readonly owner: string;
  /** Tavily's id for the research. */
  readonly requestId: string;
  readonly input: string;
  readonly model: string;
  readonly status: TaskStatus;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When Tavily was last asked how it goes (epoch milliseconds). */
  readonly checkedAt?: number;
  /** Epoch seconds: after this the task is gone, whether or not DynamoDB has deleted it yet. */
  readonly expiresAt: number;
  readonly ttlMs: number;
  /** The credits reserved on the daily budgets until the research settles, and the UTC day they count on. */
  readonly reservation?: { readonly day: string; readonly credits: number };
  /** What the research cost, once finished. */
  readonly credits?: number;
  readonly result?: TaskResult;
}

/** A task store failure (unreachable, throttled, timed out): the research cannot be recorded or read now. */
export class TaskStoreError extends WebSearchMcpError {
  readonly code = 'ERR_TASK_STORE' as const;
  constructor(
    readonly operation: 'create' | 'get' | 'update',
    /** Short and free of identities: it goes into logs as it is. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`The task store failed (${operation}: ${reason})`, options);
  }
}

export interface TaskStore {
  /** Records a new task; fails if the id is taken (it never is: 144 random bits). */
  create(task: ResearchTask, call: StoreCall): Promise<void>;
  /** The task as stored (strongly consistent: a task just created is found), expired or not. */
  get(taskId: string, call: StoreCall): Promise<ResearchTask | undefined>;
  /**
   * The right to ask Tavily about a working task now: taken (true) when it was last asked at or
   * before `checkedBefore`, or never, so that polls arriving together ask Tavily once.
   */
  claimCheck(taskId: string, now: number, checkedBefore: number, call: StoreCall): Promise<boolean>;
  /** Working to completed, with its result and cost; false when it was no longer working (finished or cancelled meanwhile). */
  finish(taskId: string, outcome: { readonly result: TaskResult; readonly credits: number; readonly at: number }, call: StoreCall): Promise<boolean>;
  /** Working to cancelled; false when it was no longer working. */
  cancel(taskId: string, at: number, call: StoreCall): Promise<boolean>;
}

/** 144 random bits, base64url: unguessable, and nothing in it says anything about the task. */
export function newTaskId(): string {
  return randomBytes(18).toString('base64url');
}

/** What a task id looks like: anything else is no task's, and is looked up nowhere. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9_-]{24}$/;

/** The owner of what a caller creates: their `sub` and `client_id`, hashed. */
export async function ownerOf(caller: { readonly sub: string; readonly clientId: string }): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${caller.sub}\n${caller.clientId}`));
  return Buffer.from(digest).toString('hex');
}

const keyOf = (taskId: string) => `task#${taskId}`;

function toItem(task: ResearchTask): AttributeMap {
  const { partitionKey, ttlAttribute } = USAGE_TABLE;
  const number = (value: number) => ({ N: String(value) });
  return {
    [partitionKey]: { S: keyOf(task.taskId) },
    owner: { S: task.owner },
    requestId: { S: task.requestId },
    input: { S: task.input },
    model: { S: task.model },
    status: { S: task.status },
    createdAt: number(task.createdAt),
    updatedAt: number(task.updatedAt),
    ...(task.checkedAt !== undefined ? { checkedAt: number(task.checkedAt) } : {}),
    [ttlAttribute]: number(task.expiresAt),
    ttlMs: number(task.ttlMs),
    ...(task.reservation ? { reservedDay: { S: task.reservation.day }, reservedCredits: number(task.reservation.credits) } : {}),
    ...(task.credits !== undefined ? { credits: number(task.credits) } : {}),
    ...(task.result ? { result: { B: task.result.body }, isError: { BOOL: task.result.isError } } : {}),
  };
}

function fromItem(taskId: string, item: AttributeMap): ResearchTask | undefined {
  const text = (name: string) => item[name]?.S;
  const number = (name: string) => (item[name]?.N === undefined ? undefined : Number(item[name]!.N));
  const status = text('status');
  const [owner, requestId, input, model] = [text('owner'), text('requestId'), text('input'), text('model')];
  const [createdAt, updatedAt, expiresAt, ttlMs] = [number('createdAt'), number('updatedAt'), number(USAGE_TABLE.ttlAttribute), number('ttlMs')];
  if (status !== 'working' && status !== 'completed' && status !== 'cancelled') return undefined;
  if (owner === undefined || requestId === undefined || input === undefined || model === undefined) return undefined;
  if (createdAt === undefined || updatedAt === undefined || expiresAt === undefined || ttlMs === undefined) return undefined;
  const checkedAt = number('checkedAt');
  const reservedDay = text('reservedDay');
  const reservedCredits = number('reservedCredits');
  const credits = number('credits');
  const body = item.result?.B;
  return {
    taskId,
    owner,
    requestId,
    input,
    model,
    status,
    createdAt,
    updatedAt,
    ...(checkedAt !== undefined ? { checkedAt } : {}),
    expiresAt,
    ttlMs,
    ...(reservedDay !== undefined && reservedCredits !== undefined ? { reservation: { day: reservedDay, credits: reservedCredits } } : {}),
    ...(credits !== undefined ? { credits } : {}),
    ...(body ? { result: { body, isError: item.isError?.BOOL === true } } : {}),
  };
}

export interface DynamoTaskStoreOptions {
  readonly tableName: string;
  /** Local stack and tests: dynalite on loopback. Deployed: unset (the region's endpoint). */
  readonly endpoint?: string;
  readonly region?: string;
}

export function createDynamoTaskStore(options: DynamoTaskStoreOptions): TaskStore {
  let client: AwsJsonClient | undefined;
  const load = (operation: TaskStoreError['operation']) => {
    try {
      return (client ??= createUsageTableClient(options));
    } catch (error) {
      throw new TaskStoreError(operation, 'no client', { cause: error });
    }
  };
  const TableName = options.tableName;
  const Key = (taskId: string) => ({ [USAGE_TABLE.partitionKey]: { S: keyOf(taskId) } });

  async function send<T>(operation: TaskStoreError['operation'], call: StoreCall, run: (client: AwsJsonClient) => Promise<T>): Promise<T> {
    if (call.signal.aborted) throw new TaskStoreError(operation, 'no time left');
    try {
      return await run(load(operation));
    } catch (error) {
      if (error instanceof TaskStoreError) throw error;
      const reason = error instanceof AwsRequestError ? error.reason : ((error as { name?: string }).name ?? 'Error');
      throw new TaskStoreError(operation, call.signal.aborted ? 'timed out' : reason, { cause: error });
    }
  }

  /** A conditional update: true when it applied, false when its condition did not hold. */
  function update(call: StoreCall, input: { taskId: string; set: string; condition: string; names: Record<string, string>; values: AttributeMap }) {
    return send('update', call, async (client) => {
      try {
        await client.call(
          'UpdateItem',
          {
            TableName,
            Key: Key(input.taskId),
            UpdateExpression: `SET ${input.set}`,
            ConditionExpression: `attribute_exists(#pk) AND ${input.condition}`,
            ExpressionAttributeNames: { '#pk': USAGE_TABLE.partitionKey, ...input.names },
            ExpressionAttributeValues: input.values,
          },
          { signal: call.signal },
        );
        return true;
      } catch (error) {
        if (conditionFailed(error)) return false;
        throw error;
      }
    });
  }

  const working = { ':working': { S: 'working' } };

  return {
    create(task, call) {
      return send('create', call, async (client) => {
        await client.call(
          'PutItem',
          {
            TableName,
            Item: toItem(task),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': USAGE_TABLE.partitionKey },
          },
          { signal: call.signal },
        );
      });
    },

    get(taskId, call) {
      return send('get', call, async (client) => {
        const output = await client.call<{ Item?: AttributeMap }>('GetItem', { TableName, Key: Key(taskId), ConsistentRead: true }, { signal: call.signal });
        return output.Item ? fromItem(taskId, output.Item) : undefined;
      });
    },

    claimCheck(taskId, now, checkedBefore, call) {
      return update(call, {
        taskId,
        set: '#c = :now',
        condition: '#s = :working AND (attribute_not_exists(#c) OR #c <= :before)',
        names: { '#c': 'checkedAt', '#s': 'status' },
        values: { ':now': { N: String(now) }, ':before': { N: String(checkedBefore) }, ...working },
      });
    },

    finish(taskId, outcome, call) {
      return update(call, {
        taskId,
        set: '#s = :completed, #u = :at, #r = :result, #e = :isError, #k = :credits',
        condition: '#s = :working',
        names: { '#s': 'status', '#u': 'updatedAt', '#r': 'result', '#e': 'isError', '#k': 'credits' },
        values: {
          ':completed': { S: 'completed' },
          ':at': { N: String(outcome.at) },
          ':result': { B: outcome.result.body },
          ':isError': { BOOL: outcome.result.isError },
          ':credits': { N: String(outcome.credits) },
          ...working,
        },
      });
    },

    cancel(taskId, at, call) {
      return update(call, {
        taskId,
        set: '#s = :cancelled, #u = :at',
        condition: '#s = :working',
        names: { '#s': 'status', '#u': 'updatedAt' },
        values: { ':cancelled': { S: 'cancelled' }, ':at': { N: String(at) }, ...working },
      });
    },
  };
}
