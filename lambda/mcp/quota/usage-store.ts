/**
 * Where quotas count and results are cached: a small interface, and its
 * DynamoDB implementation. All the counters of one identity for a day live in
 * one item (usage-table.ts), and a call changes them with one conditional
 * `UpdateItem`: `ADD` to each counter, with a condition that every new total
 * stays within its limit. So any number of Lambda instances counting at once
 * can never take a counter past its limit, and nothing is read before it is
 * written. Only when that update is refused is the item read (DynamoDB returns
 * it with the refusal), to say which limit refused, or to start a new minute.
 *
 * The AWS SDK is loaded on the first operation (it ships in the Lambda runtime,
 * and is external to the bundle: lib/bundling.ts), never at cold start, and the
 * store's timeout starts only once it is loaded: loading is not waiting for the store.
 */
import { createRequire } from 'node:module';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { WebSearchMcpError } from '../../shared/errors.js';
import { DEFAULT_USAGE_STORE_TIMEOUT_MS } from '../../shared/settings.js';
import { USAGE_TABLE } from './usage-table.js';


/** One call's change to one identity's counters (usage-table.ts), made at once or not at all. */
export interface UsageCount {
  /** The identity's item for the day. */
  readonly key: string;
  /** Epoch seconds after which the item is over (its TTL). */
  readonly expiresAt: number;
  /** Written on the item, for `npm run usage` (the `byDay` index): day, kind, caller. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Calls in the UTC minute `minute` (a new minute starts the count again). `amount` -1 gives a call
   * back, and only in that minute. Refused, changing nothing, if the count would end above `max`.
   */
  readonly minuteCalls?: { readonly minute: string; readonly amount: number; readonly max?: number };
  /** Credits today; negative gives credits back. Refused, changing nothing, if they would end above `creditsMax`. */
  readonly credits: number;
  readonly creditsMax?: number;
  /** Calls today that reached the credit check. */
  readonly calls: number;
}

/** An identity's counters, as they stood after an update (or, refused, before it). */
export interface UsageCounters {
  readonly credits: number;
  readonly calls: number;
  /** The minute `minuteCalls` counts; unset when calls per minute were never counted for this item. */
  readonly minute?: string;
  readonly minuteCalls: number;
}

export type CountResult =
  | { readonly counted: true; readonly counters: UsageCounters }
  /** `counters`: as they stood, when known. */
  | { readonly counted: false; readonly over: 'calls_per_minute' | 'credits_per_day'; readonly counters: UsageCounters | undefined };

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
  count(update: UsageCount, call: StoreCall): Promise<CountResult>;
  getCached(key: string, call: StoreCall): Promise<CachedItem | undefined>;
  putCached(key: string, item: CachedItem, call: StoreCall): Promise<void>;
  /** Load what a first request needs (the AWS SDK), ahead of it. */
  warm?(): void;
}

/**
 * What a store failure means. `outage`: the store could not answer in time (unreachable, throttled,
 * timed out, failing): QUOTA_ON_STORE_ERROR decides. `rejected`: the store answered that the request
 * itself is wrong (a ValidationException, a missing table, a denied action): a bug or a
 * misconfiguration, never a reason to let a call through uncounted.
 */
export type StoreFault = 'outage' | 'rejected';

/** A store failure: the caller decides what it means, by its `fault`. */
export class UsageStoreError extends WebSearchMcpError {
  readonly code = 'ERR_USAGE_STORE' as const;
  constructor(
    readonly operation: 'count' | 'get' | 'put',
    /** Short and free of identities: it goes into logs and metrics as it is. */
    readonly reason: string,
    readonly fault: StoreFault,
    options?: ErrorOptions,
  ) {
    super(`The usage store ${fault === 'rejected' ? 'rejected a request' : 'failed'} (${operation}: ${reason})`, options);
  }
}

/** DynamoDB's answers that mean "too much traffic right now", which retrying later cures: an outage, not a bug. */
const THROTTLING = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'LimitExceededException']);

/** Whether an error from the SDK is DynamoDB refusing the request as such (4xx, not throttling) rather than failing to serve it. */
export function storeFaultOf(error: unknown): StoreFault {
  const { name, $fault, $metadata } = (error ?? {}) as { name?: string; $fault?: string; $metadata?: { httpStatusCode?: number } };
  if (name && THROTTLING.has(name)) return 'outage';
  const status = $metadata?.httpStatusCode;
  if (status === 429) return 'outage';
  if ($fault === 'client' || (status !== undefined && status >= 400 && status < 500)) return 'rejected';
  return 'outage';
}

export interface DynamoUsageStoreOptions {
  readonly tableName: string;
  /** Local stack and tests: dynalite on loopback. Deployed: unset (the region's endpoint). */
  readonly endpoint?: string;
  readonly region?: string;
  /** The longest one request may take (USAGE_STORE_TIMEOUT_MS), counted from when it is sent: calls never hang on the store. */
  readonly requestTimeoutMs?: number;
}

type AttributeMap = Record<string, AttributeValue>;
export type DynamoDbSdk = typeof import('@aws-sdk/client-dynamodb');

/**
 * The SDK is loaded with `require`, not `import()`: Lambda's runtime resolves an
 * ES module import of a package it provides through NODE_PATH in a way that
 * breaks once a layer is attached (tracing attaches one), while CommonJS
 * `require` searches NODE_PATH as Node documents. The bundles are CommonJS
 * (lib/bundling.ts), so there `require` is the bundle's own; the sources, run as
 * ES modules by the tests, make one from their URL. (esbuild warns that
 * `import.meta` is empty in a CommonJS bundle; that line never runs there.)
 */
export function loadDynamoDbSdk(): DynamoDbSdk {
  if (typeof require === 'function') return require('@aws-sdk/client-dynamodb') as DynamoDbSdk;
  return createRequire(import.meta.url)('@aws-sdk/client-dynamodb') as DynamoDbSdk;
}

/**
 * A refused update is retried only when the item changed under it (another instance started a
 * new minute between the update and the read): a few times at most, each one request.
 */
const MAX_COUNT_ATTEMPTS = 4;

/** The counters' attribute names, always through placeholders (`minute` is one of DynamoDB's reserved words). */
const COUNTER_NAMES = { '#c': 'credits', '#k': 'calls', '#m': 'minute', '#n': 'n' };

const N = (value: number): AttributeValue => ({ N: String(value) });
const numberIn = (item: AttributeMap | undefined, name: string) => Number(item?.[name]?.N ?? 0);

function countersOf(item: AttributeMap | undefined): UsageCounters | undefined {
  if (!item) return undefined;
  const minute = item.minute?.S;
  return { credits: numberIn(item, 'credits'), calls: numberIn(item, 'calls'), ...(minute !== undefined ? { minute } : {}), minuteCalls: numberIn(item, 'n') };
}

type Plan =
  | { readonly refused: CountResult & { counted: false } }
  | { readonly update: Omit<import('@aws-sdk/client-dynamodb').UpdateItemCommandInput, 'TableName' | 'Key'> };

/**
 * The one UpdateItem for `update`, given the item as last seen (undefined: not read yet, so the common
 * case is assumed: the same minute, or a new item), or the refusal that item already implies.
 */
function planCount(update: UsageCount, seen: UsageCounters | undefined): Plan {
  const { minuteCalls } = update;
  const names: Record<string, string> = { '#e': USAGE_TABLE.ttlAttribute, '#c': 'credits', '#k': 'calls' };
  const values: AttributeMap = { ':e': N(update.expiresAt), ':c': N(update.credits), ':k': N(update.calls) };
  const sets = ['#e = if_not_exists(#e, :e)'];
  const adds = ['#c :c', '#k :k'];
  const conditions: string[] = [];
  Object.entries(update.labels).forEach(([attribute, value], index) => {
    names[`#l${index}`] = attribute;
    values[`:l${index}`] = { S: value };
    sets.push(`#l${index} = :l${index}`);
  });

  // The minute: counted in the item's minute when it is this one (or a later one: another
  // instance's clock is ahead), started again when the item's is an earlier one.
  const seenMinute = seen?.minute;
  const counting = minuteCalls && (minuteCalls.amount > 0 || seenMinute === undefined || seenMinute === minuteCalls.minute);
  if (minuteCalls && counting) {
    names['#m'] = 'minute';
    names['#n'] = 'n';
    values[':n'] = N(minuteCalls.amount);
    if (seenMinute !== undefined && seenMinute < minuteCalls.minute) {
      values[':m'] = { S: minuteCalls.minute };
      values[':seen'] = { S: seenMinute };
      sets.push('#m = :m', '#n = :n');
      conditions.push('#m = :seen');
    } else {
      const minute = seenMinute ?? minuteCalls.minute;
      if (minuteCalls.max !== undefined && minuteCalls.amount > 0) {
        if (seen && seenMinute === minute && seen.minuteCalls + minuteCalls.amount > minuteCalls.max) {
          return { refused: { counted: false, over: 'calls_per_minute', counters: seen } };
        }
        values[':nRoom'] = N(minuteCalls.max - minuteCalls.amount);
        conditions.push('(attribute_not_exists(#n) OR #n <= :nRoom)');
      }
      values[':m'] = { S: minute };
      sets.push('#m = :m');
      adds.push('#n :n');
      // A call given back goes back only to the minute it was counted in.
      conditions.push(minuteCalls.amount > 0 ? '(attribute_not_exists(#m) OR #m = :m)' : '#m = :m');
    }
  }

  if (update.creditsMax !== undefined && update.credits > 0) {
    if (seen && seen.credits + update.credits > update.creditsMax) return { refused: { counted: false, over: 'credits_per_day', counters: seen } };
    values[':cRoom'] = N(update.creditsMax - update.credits);
    conditions.push('(attribute_not_exists(#c) OR #c <= :cRoom)');
  }
  return {
    update: {
      UpdateExpression: `SET ${sets.join(', ')} ADD ${adds.join(', ')}`,
      ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

export function createDynamoUsageStore(options: DynamoUsageStoreOptions): UsageStore {
  let loaded: { client: DynamoDBClient; sdk: DynamoDbSdk } | undefined;
  const load = () => {
    if (loaded) return loaded;
    const sdk = loadDynamoDbSdk();
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
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_USAGE_STORE_TIMEOUT_MS;

  async function send<T>(
    operation: UsageStoreError['operation'],
    call: StoreCall,
    run: (sdk: ReturnType<typeof load>, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (call.signal.aborted) throw new UsageStoreError(operation, 'no time left', 'outage');
    let sdk: ReturnType<typeof load>;
    try {
      sdk = load();
    } catch (error) {
      throw new UsageStoreError(operation, 'client not loaded', 'outage', { cause: error });
    }
    // The timeout starts here, with the client loaded: a slow first load is not a slow store.
    const timeout = AbortSignal.timeout(requestTimeoutMs);
    try {
      return await run(sdk, AbortSignal.any([call.signal, timeout]));
    } catch (error) {
      if (error instanceof UsageStoreError) throw error;
      if (timeout.aborted) throw new UsageStoreError(operation, 'timed out', 'outage', { cause: error });
      if (call.signal.aborted) throw new UsageStoreError(operation, 'no time left', 'outage', { cause: error });
      // The AWS SDK's error name (ThrottlingException, ValidationException...) says what went wrong without saying whose call it was.
      throw new UsageStoreError(operation, (error as { name?: string }).name ?? 'Error', storeFaultOf(error), { cause: error });
    }
  }

  return {
    warm() {
      try {
        load();
      } catch {
        // The first request reports it.
      }
    },

    count(update, call) {
      return send('count', call, async ({ client, sdk }, signal) => {
        const Key = { [partitionKey]: { S: update.key } };
        // More than the limit itself never fits, whatever has been counted.
        const { minuteCalls } = update;
        if (minuteCalls?.max !== undefined && minuteCalls.amount > minuteCalls.max) return { counted: false, over: 'calls_per_minute', counters: undefined };
        if (update.creditsMax !== undefined && update.credits > update.creditsMax) return { counted: false, over: 'credits_per_day', counters: undefined };
        let seen: UsageCounters | undefined;
        for (let attempt = 0; attempt < MAX_COUNT_ATTEMPTS; attempt++) {
          const plan = planCount(update, seen);
          if ('refused' in plan) return plan.refused;
          try {
            const output = await client.send(new sdk.UpdateItemCommand({ TableName, Key, ...plan.update }), { abortSignal: signal });
            return { counted: true, counters: countersOf(output.Attributes)! };
          } catch (error) {
            if (!(error instanceof sdk.ConditionalCheckFailedException)) throw error;
            // DynamoDB returns the item with the refusal; a store that does not (dynalite) is asked for it.
            seen =
              countersOf(error.Item) ??
              countersOf(
                (
                  await client.send(
                    new sdk.GetItemCommand({ TableName, Key, ConsistentRead: true, ProjectionExpression: '#c, #k, #m, #n', ExpressionAttributeNames: COUNTER_NAMES }),
                    { abortSignal: signal },
                  )
                ).Item,
              ) ??
              { credits: 0, calls: 0, minuteCalls: 0 };
          }
        }
        throw new UsageStoreError('count', 'contended', 'outage');
      });
    },

    getCached(key, call) {
      return send('get', call, async ({ client, sdk }, signal) => {
        const output = await client.send(new sdk.GetItemCommand({ TableName, Key: { [partitionKey]: { S: key } } }), { abortSignal: signal });
        const item = output.Item;
        if (!item?.body?.B || item.storedAt?.N === undefined || item[ttlAttribute]?.N === undefined) return undefined;
        return { body: item.body.B, storedAt: Number(item.storedAt.N), expiresAt: Number(item[ttlAttribute].N) };
      });
    },

    putCached(key, item, call) {
      return send('put', call, async ({ client, sdk }, signal) => {
        await client.send(
          new sdk.PutItemCommand({
            TableName,
            Item: {
              [partitionKey]: { S: key },
              body: { B: item.body },
              storedAt: N(item.storedAt),
              [ttlAttribute]: N(item.expiresAt),
            },
          }),
          { abortSignal: signal },
        );
      });
    },
  };
}
