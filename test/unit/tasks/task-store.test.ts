/**
 * The task store against dynalite (the local stack's DynamoDB), with the usage
 * table as the stack defines it: what a task item holds, that it only moves
 * on from `working` once (finished or cancelled, whichever comes first), that
 * polls arriving together get one look at Tavily, and the ids.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { packResult } from '../../../lambda/mcp/quota/result-cache.js';
import { USAGE_TABLE } from '../../../lambda/mcp/quota/usage-table.js';
import {
  createDynamoTaskStore,
  newTaskId,
  ownerOf,
  TASK_ID_PATTERN,
  TaskStoreError,
  type ResearchTask,
  type TaskStore,
} from '../../../lambda/mcp/tasks/task-store.js';
import { WebSearchMcpError } from '../../../lambda/shared/errors.js';
import { startLocalUsageStore, type LocalUsageStore } from '../../../local/usage-store-server.js';

let local: LocalUsageStore;
let store: TaskStore;
const call = () => ({ signal: AbortSignal.timeout(10_000) });
const T0 = Date.parse('2026-12-03T10:00:00Z');

beforeAll(async () => {
  local = await startLocalUsageStore();
  store = createDynamoTaskStore({ tableName: local.tableName, endpoint: local.endpoint });
});
afterAll(() => local?.close());

async function task(fields: Partial<ResearchTask> = {}): Promise<ResearchTask> {
  return {
    taskId: newTaskId(),
    owner: await ownerOf({ sub: 'usr_1', clientId: 'client_1' }),
    requestId: '123e4567-e89b-12d3-a456-426614174111',
    input: 'How do MCP tasks work?',
    model: 'mini',
    status: 'working',
    createdAt: T0,
    updatedAt: T0,
    expiresAt: Math.ceil((T0 + 3_600_000) / 1000),
    ttlMs: 3_600_000,
    reservation: { day: '2026-12-03', credits: 110 },
    ...fields,
  };
}

async function rawItem(taskId: string) {
  const client = new DynamoDBClient({ endpoint: local.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  try {
    return (await client.send(new GetItemCommand({ TableName: local.tableName, Key: { pk: { S: `task#${taskId}` } } }))).Item!;
  } finally {
    client.destroy();
  }
}

test('a task is kept as written, under task#<id>, with the table TTL; it is not one of the usage report items', async () => {
  const written = await task();
  await store.create(written, call());
  expect(await store.get(written.taskId, call())).toEqual(written);
  const item = await rawItem(written.taskId);
  expect(item[USAGE_TABLE.ttlAttribute]).toEqual({ N: String(written.expiresAt) });
  // `day` would put it in the byDay index `npm run usage` reads.
  expect(Object.keys(item)).not.toContain(USAGE_TABLE.byDayIndex.partitionKey);
  expect(JSON.stringify(item)).not.toContain('usr_1');
  expect(await store.get(newTaskId(), call())).toBeUndefined();
});

test('an id is never reused: a second task under the same id is refused', async () => {
  const written = await task();
  await store.create(written, call());
  const error = await store.create({ ...written, input: 'another' }, call()).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(TaskStoreError);
  expect(error).toMatchObject({ operation: 'create', reason: 'ConditionalCheckFailedException' });
  expect((await store.get(written.taskId, call()))!.input).toBe('How do MCP tasks work?');
});

test('finishing keeps the result and cost once: a second finish, or a cancel after it, changes nothing', async () => {
  const written = await task();
  await store.create(written, call());
  const body = (await packResult({ text: 'The report.', structured: { report: 'The report.' } }))!;
  expect(await store.finish(written.taskId, { result: { body, isError: false }, credits: 40, at: T0 + 30_000 }, call())).toBe(true);
  expect(await store.finish(written.taskId, { result: { body, isError: true }, credits: 99, at: T0 + 31_000 }, call())).toBe(false);
  expect(await store.cancel(written.taskId, T0 + 32_000, call())).toBe(false);
  expect(await store.get(written.taskId, call())).toEqual({
    ...written,
    status: 'completed',
    updatedAt: T0 + 30_000,
    credits: 40,
    result: { body: expect.any(Uint8Array), isError: false },
  });
});

test('a cancelled task stays cancelled: a research finishing later is not recorded', async () => {
  const written = await task();
  await store.create(written, call());
  expect(await store.cancel(written.taskId, T0 + 5_000, call())).toBe(true);
  expect(await store.cancel(written.taskId, T0 + 6_000, call())).toBe(false);
  const body = (await packResult({ text: 'late', structured: {} }))!;
  expect(await store.finish(written.taskId, { result: { body, isError: false }, credits: 40, at: T0 + 7_000 }, call())).toBe(false);
  expect(await store.get(written.taskId, call())).toMatchObject({ status: 'cancelled', updatedAt: T0 + 5_000 });
  expect(await store.claimCheck(written.taskId, T0 + 8_000, T0 + 7_000, call())).toBe(false);
});

test('one look at Tavily per interval: a claim is taken when the last look is old enough, and by one of two at once', async () => {
  const written = await task();
  await store.create(written, call());
  const [first, second] = await Promise.all([
    store.claimCheck(written.taskId, T0 + 1_000, T0, call()),
    store.claimCheck(written.taskId, T0 + 1_000, T0, call()),
  ]);
  expect([first, second].sort()).toEqual([false, true]);
  expect(await store.claimCheck(written.taskId, T0 + 1_500, T0 + 500, call())).toBe(false);
  expect(await store.claimCheck(written.taskId, T0 + 2_000, T0 + 1_000, call())).toBe(true);
  expect((await store.get(written.taskId, call()))!.checkedAt).toBe(T0 + 2_000);
});

test('an id that names no task: nothing is created by a claim, a finish or a cancel', async () => {
  const id = newTaskId();
  const body = (await packResult({ text: 'x', structured: {} }))!;
  expect(await store.claimCheck(id, T0, T0, call())).toBe(false);
  expect(await store.finish(id, { result: { body, isError: false }, credits: 1, at: T0 }, call())).toBe(false);
  expect(await store.cancel(id, T0, call())).toBe(false);
  expect(await store.get(id, call())).toBeUndefined();
});

test('ids: 144 random bits as 24 base64url characters, never the same twice', () => {
  const ids = Array.from({ length: 2_000 }, newTaskId);
  for (const id of ids) expect(id).toMatch(TASK_ID_PATTERN);
  expect(new Set(ids).size).toBe(ids.length);
  expect(TASK_ID_PATTERN.test('../task#x')).toBe(false);
});

test('the owner is the sub and the client together, hashed', async () => {
  const owner = await ownerOf({ sub: 'usr_1', clientId: 'client_1' });
  expect(owner).toMatch(/^[0-9a-f]{64}$/);
  expect(await ownerOf({ sub: 'usr_1', clientId: 'client_1' })).toBe(owner);
  expect(await ownerOf({ sub: 'usr_1', clientId: 'client_2' })).not.toBe(owner);
  expect(await ownerOf({ sub: 'usr_2', clientId: 'client_1' })).not.toBe(owner);
});

test('a store that cannot be reached: a TaskStoreError naming the operation, the SDK error as its cause', async () => {
  const down = await startLocalUsageStore();
  const unreachable = createDynamoTaskStore({ tableName: down.tableName, endpoint: down.endpoint });
  await down.close();
  const error = await unreachable.get(newTaskId(), call()).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(TaskStoreError);
  expect(error).toBeInstanceOf(WebSearchMcpError);
  expect(error).toMatchObject({ code: 'ERR_TASK_STORE', operation: 'get' });
  expect((error as TaskStoreError).cause).toBeDefined();
  expect(await unreachable.get(newTaskId(), { signal: AbortSignal.abort() }).catch((caught: unknown) => caught)).toMatchObject({ reason: 'no time left' });
});
