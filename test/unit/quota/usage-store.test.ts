/**
 * The DynamoDB store against a loopback stand-in for DynamoDB: each failure is
 * a UsageStoreError naming the operation, a reason fit for a log line
 * (DynamoDB's error name, never the request) and whether it is an outage or a
 * request DynamoDB rejected as such (a bug: never let through uncounted), with
 * the failed request as its cause; a refused update is explained from the item
 * DynamoDB returns with the refusal, without reading it again; and the
 * timeout counts from the request, not from the client's first load.
 */
import { createDynamoUsageStore, storeFaultOf, UsageStoreError, type UsageCount } from '../../../lambda/mcp/quota/usage-store.js';
import { AwsRequestError } from '../../../lambda/shared/aws-json.js';
import { WebSearchMcpError } from '../../../lambda/shared/errors.js';
import { sendJson, startLoopbackServer, type LoopbackServer } from '../helpers/loopback-server.js';

let dynamo: LoopbackServer;
const dynamoError = (type: string, message = 'refused') => ({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
beforeAll(async () => {
  dynamo = await startLoopbackServer();
});
afterAll(() => dynamo.close());

const update: UsageCount = {
  key: 'usage#2026-12-02#client#c',
  expiresAt: 2_000_000_000,
  labels: { day: '2026-12-02', kind: 'client', caller: 'c' },
  minuteCalls: { minute: '2026-12-02T12:00', amount: 1, max: 3 },
  credits: 2,
  creditsMax: 10,
  calls: 1,
};
const call = () => ({ signal: AbortSignal.timeout(10_000) });
const target = (index: number) => dynamo.requests.at(index)?.headers['x-amz-target'];

async function storeFailure(promise: Promise<unknown>): Promise<UsageStoreError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(UsageStoreError);
  return error as UsageStoreError;
}

test('one conditional UpdateItem per identity: every counter of the item, each within its limit, the item returned with a refusal', async () => {
  dynamo.handler = (_request, res) =>
    sendJson(res, 200, { Attributes: { credits: { N: '2' }, calls: { N: '1' }, minute: { S: '2026-12-02T12:00' }, n: { N: '1' } } });
  const store = createDynamoUsageStore({ tableName: 'usage', endpoint: dynamo.url });
  const sent = dynamo.requests.length;
  expect(await store.count(update, call())).toEqual({
    counted: true,
    counters: { credits: 2, calls: 1, minute: '2026-12-02T12:00', minuteCalls: 1 },
  });
  expect(dynamo.requests).toHaveLength(sent + 1);
  expect(target(-1)).toBe('DynamoDB_20120810.UpdateItem');
  const body = JSON.parse(dynamo.requests.at(-1)!.body);
  expect(body).toMatchObject({
    TableName: 'usage',
    Key: { pk: { S: update.key } },
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  });
  expect(body.UpdateExpression).toMatch(/^SET .* ADD #c :c, #k :k, #n :n$/);
  expect(body.ConditionExpression).toBe(
    '(attribute_not_exists(#n) OR #n <= :nRoom) AND (attribute_not_exists(#m) OR #m = :m) AND (attribute_not_exists(#c) OR #c <= :cRoom)',
  );
  expect(body.ExpressionAttributeValues).toMatchObject({ ':nRoom': { N: '2' }, ':cRoom': { N: '8' }, ':m': { S: '2026-12-02T12:00' } });
});

test('a refusal is read from the item DynamoDB returns with it: no second request', async () => {
  dynamo.handler = (_request, res) =>
    sendJson(res, 400, {
      ...dynamoError('ConditionalCheckFailedException', 'The conditional request failed'),
      Item: { pk: { S: update.key }, credits: { N: '9' }, calls: { N: '4' }, minute: { S: '2026-12-02T12:00' }, n: { N: '1' } },
    });
  const store = createDynamoUsageStore({ tableName: 'usage', endpoint: dynamo.url });
  const sent = dynamo.requests.length;
  expect(await store.count(update, call())).toEqual({
    counted: false,
    over: 'credits_per_day',
    counters: { credits: 9, calls: 4, minute: '2026-12-02T12:00', minuteCalls: 1 },
  });
  expect(dynamo.requests).toHaveLength(sent + 1);
});

test("DynamoDB refusing the request itself (a ValidationException, a missing table) is 'rejected'; throttling, 5xx and the network are outages", async () => {
  const store = createDynamoUsageStore({ tableName: 'missing', endpoint: dynamo.url });
  for (const type of ['ValidationException', 'ResourceNotFoundException', 'AccessDeniedException']) {
    dynamo.handler = (_request, res) => sendJson(res, 400, dynamoError(type));
    const error = await storeFailure(store.count(update, call()));
    expect(error).toBeInstanceOf(WebSearchMcpError);
    expect(error).toMatchObject({ code: 'ERR_USAGE_STORE', name: 'UsageStoreError', operation: 'count', reason: type, fault: 'rejected' });
    expect(error.cause).toBeInstanceOf(AwsRequestError);
    expect(error.cause).toMatchObject({ service: 'dynamodb', operation: 'UpdateItem', errorName: type, status: 400 });
  }
  dynamo.handler = (_request, res) => sendJson(res, 400, dynamoError('ProvisionedThroughputExceededException'));
  expect(await storeFailure(store.getCached('cache#shared#web_search#0', call()))).toMatchObject({
    operation: 'get',
    reason: 'ProvisionedThroughputExceededException',
    fault: 'outage',
  });
  dynamo.handler = (_request, res) => sendJson(res, 500, dynamoError('InternalServerError'));
  expect(await storeFailure(store.putCached('cache#shared#web_search#0', { body: new Uint8Array([1]), storedAt: 1, expiresAt: 2 }, call()))).toMatchObject({
    operation: 'put',
    fault: 'outage',
  });
  const failed = (status?: number, errorName?: string) =>
    new AwsRequestError({ service: 'dynamodb', operation: 'UpdateItem', ...(status !== undefined ? { status } : {}), ...(errorName ? { errorName } : {}) });
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  expect(storeFaultOf(new AwsRequestError({ service: 'dynamodb', operation: 'GetItem' }, { cause: refused }))).toBe('outage');
  expect(storeFaultOf(refused)).toBe('outage');
  expect(storeFaultOf(failed(400, 'ThrottlingException'))).toBe('outage');
  expect(storeFaultOf(failed(400, 'RequestLimitExceeded'))).toBe('outage');
  expect(storeFaultOf(failed(429, 'Whatever'))).toBe('outage');
  expect(storeFaultOf(failed(503))).toBe('outage');
  expect(storeFaultOf(failed(400, 'ValidationException'))).toBe('rejected');
  expect(storeFaultOf(failed(403))).toBe('rejected');
  // Found in a cause chain, as the guard meets it.
  expect(storeFaultOf(new UsageStoreError('count', 'x', 'outage', { cause: failed(400, 'ResourceNotFoundException') }))).toBe('rejected');
});

test('a cached body is sent as DynamoDB JSON binary (base64) and read back as the same bytes', async () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 255]);
  const store = createDynamoUsageStore({ tableName: 'usage', endpoint: dynamo.url });
  dynamo.handler = (_request, res) => sendJson(res, 200, {});
  await store.putCached('cache#k', { body: bytes, storedAt: 5, expiresAt: 6 }, call());
  const sent = JSON.parse(dynamo.requests.at(-1)!.body);
  expect(target(-1)).toBe('DynamoDB_20120810.PutItem');
  expect(sent.Item).toEqual({ pk: { S: 'cache#k' }, body: { B: 'AAEC+v8=' }, storedAt: { N: '5' }, expiresAt: { N: '6' } });
  dynamo.handler = (_request, res) => sendJson(res, 200, { Item: sent.Item });
  const read = await store.getCached('cache#k', call());
  expect(read).toEqual({ body: bytes, storedAt: 5, expiresAt: 6 });
  expect(read!.body).toBeInstanceOf(Uint8Array);
});

test('no time left: refused before anything is sent', async () => {
  const store = createDynamoUsageStore({ tableName: 'usage', endpoint: dynamo.url });
  const sent = dynamo.requests.length;
  const error = await storeFailure(store.count(update, { signal: AbortSignal.abort() }));
  expect(error).toMatchObject({ operation: 'count', reason: 'no time left', fault: 'outage' });
  expect(dynamo.requests).toHaveLength(sent);
});

test("the timeout counts from the request: a store slower than it is an outage ('timed out')", async () => {
  dynamo.handler = async (_request, res) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (!res.destroyed) sendJson(res, 200, { Attributes: {} });
  };
  const store = createDynamoUsageStore({ tableName: 'usage', endpoint: dynamo.url, requestTimeoutMs: 100 });
  expect(await storeFailure(store.count(update, call()))).toMatchObject({ reason: 'timed out', fault: 'outage' });
});
