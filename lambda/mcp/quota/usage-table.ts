/**
 * The one DynamoDB table behind quotas and the result cache, described once:
 * the CDK stack builds it from these names, and the local stack and the tests
 * create it on dynalite with `createTableInput`, so the two cannot drift.
 *
 * Items (one partition key, `pk`, no sort key):
 * - per-minute call counters  `calls#<minute>#<kind>#<id>`   { n, expiresAt }
 * - per-day credit counters   `credits#<day>#<kind>#<id>`    { credits, calls, expiresAt, day, kind, caller }
 *   (`kind` is `client`, `sub` or `total`; `day` puts them, and only them, in the sparse `byDay` index
 *   that `npm run usage` reads)
 * - cached results            `cache#<scope>#<tool>#<hash>`  { body (gzip), storedAt, expiresAt }
 * DynamoDB deletes expired items itself (TTL on `expiresAt`), within a day or two: readers treat an
 * item past its `expiresAt` as absent, and counters carry their window in the key.
 */
export const USAGE_TABLE = {
  partitionKey: 'pk',
  ttlAttribute: 'expiresAt',
  byDayIndex: { name: 'byDay', partitionKey: 'day', sortKey: 'pk', projected: ['credits', 'calls', 'kind', 'caller'] },
} as const;

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
