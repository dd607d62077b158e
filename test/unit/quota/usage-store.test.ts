/**
 * The DynamoDB store's failures, against a loopback stand-in for DynamoDB: each
 * is a UsageStoreError naming the operation and a reason fit for a log line (the
 * SDK's error name, never the request), with the SDK's error as its cause.
 */
import { createDynamoUsageStore, UsageStoreError } from '../../../lambda/mcp/quota/usage-store.js';
import { WebSearchMcpError } from '../../../lambda/shared/errors.js';
import { sendJson, startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.js';

let dynamo: LoopbackServer;
beforeAll(async () => {
  dynamo = await startLoopbackServer((_request, res) =>
    sendJson(res, 400, { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' }),
  );
});
afterAll(() => dynamo.close());

const counter = { key: 'calls#t#client#c', attribute: 'n' as const, amount: 1, max: 3, expiresAt: 2_000_000_000 };

async function storeFailure(promise: Promise<unknown>): Promise<UsageStoreError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(UsageStoreError);
  return error as UsageStoreError;
}

test("an answer DynamoDB refuses: the SDK's error name as the reason, the SDK's error as the cause", async () => {
  const store = createDynamoUsageStore({ tableName: 'missing', endpoint: dynamo.url });
  const error = await storeFailure(store.add(counter, { signal: AbortSignal.timeout(10_000) }));
  expect(error).toBeInstanceOf(WebSearchMcpError);
  expect(error).toMatchObject({ code: 'ERR_USAGE_STORE', name: 'UsageStoreError', operation: 'add', reason: 'ResourceNotFoundException' });
  expect(error.cause).toMatchObject({ name: 'ResourceNotFoundException' });
  expect(dynamo.requests.at(-1)?.headers['x-amz-target']).toBe('DynamoDB_20120810.UpdateItem');
  const get = await storeFailure(store.getCached('cache#shared#web_search#0', { signal: AbortSignal.timeout(10_000) }));
  expect(get).toMatchObject({ operation: 'get', reason: 'ResourceNotFoundException' });
});

test('no time left: refused before anything is sent', async () => {
  const store = createDynamoUsageStore({ tableName: 'usage', endpoint: dynamo.url });
  const sent = dynamo.requests.length;
  const error = await storeFailure(store.add(counter, { signal: AbortSignal.abort() }));
  expect(error).toMatchObject({ operation: 'add', reason: 'no time left' });
  expect(dynamo.requests).toHaveLength(sent);
});
