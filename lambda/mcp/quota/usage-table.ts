/**
 * The one DynamoDB table behind quotas and the result cache, described once:
 * the CDK stack builds it from these names, and the local stack and the tests
 * create it on dynalite with `createTableInput`, so the two cannot drift.
 *
 * Items (one partition key, `pk`, no sort key):
 * - one usage item per counted identity and UTC day, holding all of its counters, so that a call
 *   makes one conditional update per identity:
 *     `usage#<day>#client#<digest>`, `usage#<day>#sub#<digest>`, and `usage#<day>#total` (the server's,
 *     only when QUOTA_CREDITS_PER_DAY_TOTAL caps it)
 *     { credits, calls, minute, n, expiresAt, day, kind, caller }
 *   `credits` and `calls` are the day's (calls that reached the credit check); `n` counts the calls of
 *   the UTC minute named in `minute` (client and sub items, when calls per minute are limited). `day`
 *   puts these items, and only them, in the sparse `byDay` index that `npm run usage` reads; `caller`
 *   is the identity as the token gave it, shortened for display.
 * - cached results  `cache#<scope>#<tool>#<digest of the request>`  { body (gzip), storedAt, expiresAt }
 *   with `<scope>` one of `shared`, `org:<digest>`, `caller:<digest>`.
 * Identities go into keys only as digests (SHA-256, base64url), so an identity of any length makes a
 * key of one length, and the kind before the digest keeps a client, a user and an organisation with
 * the same name apart. DynamoDB deletes expired items itself (TTL on `expiresAt`), within a day or
 * two: readers treat an item past its `expiresAt` as absent, and counters carry their window in the key
 * (the day) or beside the count (the minute).
 */
import { createHash } from 'node:crypto';

export const USAGE_TABLE = {
  partitionKey: 'pk',
  ttlAttribute: 'expiresAt',
  byDayIndex: { name: 'byDay', partitionKey: 'day', sortKey: 'pk', projected: ['credits', 'calls', 'kind', 'caller'] },
} as const;

/** Who a usage item counts: a client, a user, or the whole server. */
export type UsageKind = 'client' | 'sub' | 'total';

/** The `caller` label is for people reading `npm run usage`; the key, not the label, tells identities apart. */
const MAX_CALLER_LABEL_CHARS = 200;

/**
 * SHA-256, base64url, of a value's JSON: the form identities and requests take in keys. JSON
 * writes every string one way only (a lone surrogate as its escape, where UTF-8 would make
 * two of them the same replacement character), so two different values never share a digest.
 */
export async function digestOf(value: unknown): Promise<string> {
  // node:crypto rather than WebCrypto: the same digest, without a thread-pool round trip per key.
  return createHash('sha256').update(JSON.stringify(value), 'utf8').digest('base64url');
}

/** The key of an identity's usage item on a UTC day (`total`: the server's, with no identity). */
export async function usageItemKey(day: string, kind: UsageKind, id: string): Promise<string> {
  return kind === 'total' ? `usage#${day}#total` : `usage#${day}#${kind}#${await digestOf(id)}`;
}

/** The identity as `npm run usage` shows it: well-formed text (DynamoDB refuses anything else), shortened. */
export function callerLabel(id: string): string {
  const characters = Array.from(id.replace(/\p{Cs}/gu, '\uFFFD'));
  return characters.length > MAX_CALLER_LABEL_CHARS ? `${characters.slice(0, MAX_CALLER_LABEL_CHARS - 1).join('')}…` : characters.join('');
}

/** The CreateTable request for the same table (dynalite locally and in tests; CDK builds it deployed). */
export function createTableInput(tableName: string) {
  const { partitionKey, byDayIndex } = USAGE_TABLE;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: 'S' as const },
      { AttributeName: byDayIndex.partitionKey, AttributeType: 'S' as const },
    ],
    KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' as const }],
    GlobalSecondaryIndexes: [
      {
        IndexName: byDayIndex.name,
        KeySchema: [
          { AttributeName: byDayIndex.partitionKey, KeyType: 'HASH' as const },
          { AttributeName: byDayIndex.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...byDayIndex.projected] },
      },
    ],
  };
}
