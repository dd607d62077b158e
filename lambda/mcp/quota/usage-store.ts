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
 * DynamoDB is called through aws-json.ts (node:http, signed by aws4), not the
 * AWS SDK. Its client is made on the first operation (or by `warm`), never at
 * cold start, and the store's timeout starts only once it is made: preparing to
 * send is not waiting for the store.
 */
import { AwsRequestError, createAwsJsonClient, DYNAMODB, isThrottling, type AttributeMap, type AttributeValue, type AwsJsonClient } from '../../shared/aws-json.js';
import { findCause, WebSearchMcpError } from '../../shared/errors.js';
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
  /** Prepare what a first request needs (the client), ahead of it; nothing is sent. */
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

/**
 * Whether a failed request is DynamoDB refusing it as such (4xx, not throttling) rather than failing
 * to serve it (throttling, 5xx, no answer: an outage, which retrying later cures).
 */
export function storeFaultOf(error: unknown): StoreFault {
  const failure = findCause(error, AwsRequestError);
  if (!failure || failure.status === undefined || isThrottling(failure)) return 'outage';
  return failure.status >= 400 && failure.status < 500 ? 'rejected' : 'outage';
}

export interface DynamoUsageStoreOptions {
  readonly tableName: string;
  /** Local stack and tests: dynalite on loopback. Deployed: unset (the region's endpoint). */
  readonly endpoint?: string;
  readonly region?: string;
  /** The longest one request may take (USAGE_STORE_TIMEOUT_MS), counted from when it is sent: calls never hang on the store. */
  readonly requestTimeoutMs?: number;
}

/** The usage table's DynamoDB client: the region's endpoint, or the local stack's. */
export function createUsageTableClient(options: { readonly endpoint?: string; readonly region?: string }): AwsJsonClient {
  return createAwsJsonClient(DYNAMODB, options);
}

/** DynamoDB refused a conditional write because its condition did not hold; `details.Item` is the item, when asked for. */
export function conditionFailed(error: unknown): error is AwsRequestError {
  return error instanceof AwsRequestError && error.errorName === 'ConditionalCheckFailedException';
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
  | {
      readonly update: {
        readonly UpdateExpression: string;
        readonly ConditionExpression?: string;
        readonly ExpressionAttributeNames: Record<string, string>;
        readonly ExpressionAttributeValues: AttributeMap;
        readonly ReturnValues: 'ALL_NEW';
        readonly ReturnValuesOnConditionCheckFailure: 'ALL_OLD';
      };
    };

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
  let client: AwsJsonClient | undefined;
  // One retry at most (aws-json.ts): the store has well under a second, and a refused call can be retried by the agent.
  const load = () => (client ??= createUsageTableClient(options));
  const { partitionKey, ttlAttribute } = USAGE_TABLE;
  const TableName = options.tableName;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_USAGE_STORE_TIMEOUT_MS;

  async function send<T>(
    operation: UsageStoreError['operation'],
    call: StoreCall,
    run: (client: AwsJsonClient, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (call.signal.aborted) throw new UsageStoreError(operation, 'no time left', 'outage');
    let ready: AwsJsonClient;
    try {
      ready = load();
    } catch (error) {
      throw new UsageStoreError(operation, 'no client', 'outage', { cause: error });
    }
    // The timeout starts here, with the client made: preparing to send is not waiting for the store.
    const timeout = AbortSignal.timeout(requestTimeoutMs);
    try {
      return await run(ready, AbortSignal.any([call.signal, timeout]));
    } catch (error) {
      if (error instanceof UsageStoreError) throw error;
      if (timeout.aborted) throw new UsageStoreError(operation, 'timed out', 'outage', { cause: error });
      if (call.signal.aborted) throw new UsageStoreError(operation, 'no time left', 'outage', { cause: error });
      // DynamoDB's error name (ThrottlingException, ValidationException...) says what went wrong without saying whose call it was.
      const reason = error instanceof AwsRequestError ? error.reason : ((error as { name?: string }).name ?? 'Error');
      throw new UsageStoreError(operation, reason, storeFaultOf(error), { cause: error });
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
      return send('count', call, async (client, signal) => {
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
            const output = await client.call<{ Attributes?: AttributeMap }>('UpdateItem', { TableName, Key, ...plan.update }, { signal });
            return { counted: true, counters: countersOf(output.Attributes)! };
          } catch (error) {
            if (!conditionFailed(error)) throw error;
            // DynamoDB returns the item with the refusal; a store that does not (dynalite) is asked for it.
            seen =
              countersOf(error.details.Item as AttributeMap | undefined) ??
              countersOf(
                (
                  await client.call<{ Item?: AttributeMap }>(
                    'GetItem',
                    { TableName, Key, ConsistentRead: true, ProjectionExpression: '#c, #k, #m, #n', ExpressionAttributeNames: COUNTER_NAMES },
                    { signal },
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
      return send('get', call, async (client, signal) => {
        const output = await client.call<{ Item?: AttributeMap }>('GetItem', { TableName, Key: { [partitionKey]: { S: key } } }, { signal });
        const item = output.Item;
        if (!item?.body?.B || item.storedAt?.N === undefined || item[ttlAttribute]?.N === undefined) return undefined;
        return { body: item.body.B, storedAt: Number(item.storedAt.N), expiresAt: Number(item[ttlAttribute].N) };
      });
    },

    putCached(key, item, call) {
      return send('put', call, async (client, signal) => {
        const Item: AttributeMap = {
          [partitionKey]: { S: key },
          body: { B: item.body },
          storedAt: N(item.storedAt),
          [ttlAttribute]: N(item.expiresAt),
        };
        await client.call('PutItem', { TableName, Item }, { signal });
      });
    },
  };
}
