/**
 * Where quotas count and results are cached: a small interface, and its
 * DynamoDB implementation. Counting is one conditional `UpdateItem` per counter
 * (`ADD`, with a condition that the new total stays within the limit), so any
 * number of Lambda instances counting at once can never take a counter past its
 * limit, and nothing is read before it is written.
 *
 * The AWS SDK is loaded on the first operation (it ships in the Lambda runtime,
 * and is external to the bundle: lib/bundling.ts), never at cold start.
 */
import { createRequire } from 'node:module';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { WebSearchMcpError } from '../../shared/errors.js';
import { USAGE_TABLE } from './usage-table.js';

export interface CounterUpdate {
  /** The counter's item key (its window is part of it). */
  readonly key: string;
  /** The attribute counted: `n` for call counters, `credits` for daily credit counters. */
  readonly attribute: 'n' | 'credits';
  /** May be negative (a refund, or the difference between the estimate and the actual cost). */
  readonly amount: number;
  /** Refuse, changing nothing, if the counter would end above this. Unset: always count. */
  readonly max?: number;
  /** Epoch seconds after which the window is over (the item's TTL). */
  readonly expiresAt: number;
  /** Counted unconditionally in the same update (a daily item's number of calls). */
  readonly alsoAdd?: Readonly<Record<string, number>>;
  /** Written on the item, for `npm run usage` (the `byDay` index). */
  readonly labels?: Readonly<Record<string, string>>;
}

export type CounterResult =
  | { readonly counted: true; readonly value: number }
  /** `value`: the counter as it stood, when known. */
  | { readonly counted: false; readonly value: number | undefined };

export interface CachedItem {
  readonly body: Uint8Array;
  /** Epoch milliseconds. */
  readonly storedAt: number;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export interface StoreCall {
  /** Aborts the operation: the store never holds a tool call past its deadline. */
  readonly signal: AbortSignal;
}

export interface UsageStore {
  add(update: CounterUpdate, call: StoreCall): Promise<CounterResult>;
  getCached(key: string, call: StoreCall): Promise<CachedItem | undefined>;
  putCached(key: string, item: CachedItem, call: StoreCall): Promise<void>;
}

/** A store failure (unreachable, throttled, timed out, misconfigured): the caller decides what it means. */
export class UsageStoreError extends WebSearchMcpError {
  readonly code = 'ERR_USAGE_STORE' as const;
  constructor(
    readonly operation: 'add' | 'get' | 'put',
    /** Short and free of identities: it goes into logs and metrics as it is. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`The usage store failed (${operation}: ${reason})`, options);
  }
}

export interface DynamoUsageStoreOptions {
  readonly tableName: string;
  /** Local stack and tests: dynalite on loopback. Deployed: unset (the region's endpoint). */
  readonly endpoint?: string;
  readonly region?: string;
}

type AttributeMap = Record<string, { N?: string; S?: string; B?: Uint8Array }>;
export type DynamoDbSdk = typeof import('@aws-sdk/client-dynamodb');

/**
 * The SDK is loaded with `require`, not `import()`: Lambda's runtime resolves an
 * ES module import of a package it provides through NODE_PATH in a way that
 * breaks once a layer is attached (tracing attaches one), while CommonJS
 * `require` searches NODE_PATH as Node documents. The bundles are CommonJS
 * (lib/bundling.ts), so there `require` is the bundle's own; the sources, run as
 * ES modules by the tests, make one from their URL. (esbuild leaves
 * `import.meta` empty in a CommonJS bundle, where that line never runs; inside
 * `try` it does not warn about it.)
 */
export function loadDynamoDbSdk(operation: UsageStoreError['operation']): DynamoDbSdk {
  try {
    if (typeof require === 'function') return require('@aws-sdk/client-dynamodb') as DynamoDbSdk;
    return createRequire(import.meta.url)('@aws-sdk/client-dynamodb') as DynamoDbSdk;
  } catch (error) {
    throw new UsageStoreError(operation, 'client not loaded', { cause: error });
  }
}

export function createDynamoUsageStore(options: DynamoUsageStoreOptions): UsageStore {
  let loaded: { client: DynamoDBClient; sdk: DynamoDbSdk } | undefined;
  const load = (operation: UsageStoreError['operation']) => {
    if (loaded) return loaded;
    const sdk = loadDynamoDbSdk(operation);
    loaded = {
      sdk,
      client: new sdk.DynamoDBClient({
        region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
        // One retry at most: the store has well under a second, and a refused call can be retried by the agent.
        maxAttempts: 2,
        ...(options.endpoint
          ? { endpoint: options.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
          : {}),
      }),
    };
    return loaded;
  };
  const { partitionKey, ttlAttribute } = USAGE_TABLE;
  const TableName = options.tableName;

  async function send<T>(operation: UsageStoreError['operation'], call: StoreCall, run: (sdk: ReturnType<typeof load>) => Promise<T>) {
    if (call.signal.aborted) throw new UsageStoreError(operation, 'no time left');
    try {
      return await run(load(operation));
    } catch (error) {
      if (error instanceof UsageStoreError) throw error;
      // The AWS SDK's error name (ThrottlingException, ...) says what went wrong without saying whose call it was.
      const name = (error as { name?: string }).name ?? 'Error';
      throw new UsageStoreError(operation, call.signal.aborted ? 'timed out' : name, { cause: error });
    }
  }

  return {
    add(update, call) {
      return send('add', call, async ({ client, sdk }) => {
        if (update.max !== undefined && update.amount > update.max) return { counted: false, value: undefined };
        const names: Record<string, string> = { '#v': update.attribute, '#e': ttlAttribute };
        const values: Record<string, AttributeValue> = { ':a': { N: String(update.amount) }, ':e': { N: String(update.expiresAt) } };
        const adds = ['#v :a'];
        const sets = ['#e = if_not_exists(#e, :e)'];
        Object.entries(update.alsoAdd ?? {}).forEach(([attribute, amount], index) => {
          names[`#x${index}`] = attribute;
          values[`:x${index}`] = { N: String(amount) };
          adds.push(`#x${index} :x${index}`);
        });
        Object.entries(update.labels ?? {}).forEach(([attribute, value], index) => {
          names[`#l${index}`] = attribute;
          values[`:l${index}`] = { S: value };
          sets.push(`#l${index} = :l${index}`);
        });
        let condition: string | undefined;
        if (update.max !== undefined) {
          values[':room'] = { N: String(update.max - update.amount) };
          condition = 'attribute_not_exists(#v) OR #v <= :room';
        }
        try {
          const output = await client.send(
            new sdk.UpdateItemCommand({
              TableName,
              Key: { [partitionKey]: { S: update.key } },
              UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
              ...(condition ? { ConditionExpression: condition } : {}),
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
              ReturnValues: 'UPDATED_NEW',
            }),
            { abortSignal: call.signal },
          );
          return { counted: true, value: Number((output.Attributes as AttributeMap | undefined)?.[update.attribute]?.N ?? update.amount) };
        } catch (error) {
          if (!(error instanceof sdk.ConditionalCheckFailedException)) throw error;
        }
        // Refused. Only now, and only for the message, read where the counter stands.
        const current = await client.send(
          new sdk.GetItemCommand({ TableName, Key: { [partitionKey]: { S: update.key } }, ConsistentRead: true, ProjectionExpression: '#v', ExpressionAttributeNames: { '#v': update.attribute } }),
          { abortSignal: call.signal },
        ).catch(() => undefined);
        const value = (current?.Item as AttributeMap | undefined)?.[update.attribute]?.N;
        return { counted: false, value: value === undefined ? undefined : Number(value) };
      });
    },

    getCached(key, call) {
      return send('get', call, async ({ client, sdk }) => {
        const output = await client.send(new sdk.GetItemCommand({ TableName, Key: { [partitionKey]: { S: key } } }), { abortSignal: call.signal });
        const item = output.Item as AttributeMap | undefined;
        if (!item?.body?.B || item.storedAt?.N === undefined || item[ttlAttribute]?.N === undefined) return undefined;
        return { body: item.body.B, storedAt: Number(item.storedAt.N), expiresAt: Number(item[ttlAttribute].N) };
      });
    },

    putCached(key, item, call) {
      return send('put', call, async ({ client, sdk }) => {
        await client.send(
          new sdk.PutItemCommand({
            TableName,
            Item: {
              [partitionKey]: { S: key },
              body: { B: item.body },
              storedAt: { N: String(item.storedAt) },
              [ttlAttribute]: { N: String(item.expiresAt) },
            },
          }),
          { abortSignal: call.signal },
        );
      });
    },
  };
}
