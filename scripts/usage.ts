/**
 * `npm run usage`: today's usage per caller (UTC), from the quotas' table.
 *
 *   npm run usage                          the local stack's store (npm run dev running)
 *   npm run usage -- --table <name>        a deployed table (the UsageTableName output), with your
 *                                          AWS credentials and AWS_REGION, as the AWS CLI finds them
 *   options: --day YYYY-MM-DD, --json, --endpoint http://127.0.0.1:<port>
 *
 * It reads the sparse `byDay` index (daily counters only; never the cached results).
 * It reads the same `.env` as `npm run dev` and the CDK app (the shell wins): the limits shown
 * beside the figures are the stack's QUOTA_* settings, and the local store is found from PORT.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { environmentWithDotEnv } from '../lib/config.js';
import { USAGE_TABLE } from '../lambda/mcp/quota/usage-table.js';
import { QUOTA_AND_CACHE_SETTINGS } from '../lambda/mcp/quota/usage-settings.js';
import { definitions as d, parseSettings } from '../lambda/shared/settings.js';
import { usageStorePort } from '../local/dev-ports.js';
import { LOCAL_USAGE_TABLE_NAME } from '../local/usage-store-server.js';

export interface UsageRow {
  readonly kind: 'client' | 'sub' | 'total';
  readonly caller: string;
  readonly credits: number;
  readonly calls: number;
  /** Today's credit limit for this caller; undefined when there is none. */
  readonly limit?: number;
}

export async function usageOfDay(client: DynamoDBClient, tableName: string, day: string): Promise<UsageRow[]> {
  const rows: UsageRow[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: USAGE_TABLE.byDayIndex.name,
        KeyConditionExpression: '#day = :day',
        ExpressionAttributeNames: { '#day': USAGE_TABLE.byDayIndex.partitionKey },
        ExpressionAttributeValues: { ':day': { S: day } },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      const kind = item.kind?.S;
      if (kind !== 'client' && kind !== 'sub' && kind !== 'total') continue;
      rows.push({ kind, caller: item.caller?.S ?? '?', credits: Number(item.credits?.N ?? 0), calls: Number(item.calls?.N ?? 0) });
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return rows.sort((a, b) => (a.kind === 'total' ? 1 : b.kind === 'total' ? -1 : b.credits - a.credits || b.calls - a.calls));
}

export function formatUsage(day: string, rows: readonly UsageRow[]): string {
  if (rows.length === 0) return `No usage recorded for ${day} (UTC). Quotas count only when a QUOTA_* limit is set.`;
  const table = [['caller', 'kind', 'credits', 'limit', 'calls'], ...rows.map((row) => [row.caller, row.kind === 'sub' ? 'user' : row.kind, String(row.credits), row.limit ? String(row.limit) : '-', String(row.calls)])];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
  const lines = table.map((line) => line.map((cell, column) => (column >= 2 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  '));
  const serverNote = rows.some((row) => row.kind === 'total')
    ? []
    : ['', "The server's total is counted only when QUOTA_CREDITS_PER_DAY_TOTAL caps it; the MCP function's TavilyCredits metric (its daily Sum) gives it either way."];
  return [`Usage on ${day} (UTC), calls that reached the credit check (cache hits excluded):`, '', lines[0]!, ...lines.slice(1), ...serverNote].join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: { table: { type: 'string' }, endpoint: { type: 'string' }, day: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const environment = environmentWithDotEnv();
  const settings = parseSettings({ ...QUOTA_AND_CACHE_SETTINGS, port: ['PORT', d.port] }, environment, 'usage settings');
  const day = values.day ?? new Date().toISOString().slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error('--day: expected YYYY-MM-DD');
  const tableName = values.table || environment.USAGE_TABLE_NAME?.trim() || undefined;
  const local = !tableName;
  const endpoint = values.endpoint ?? (local ? `http://127.0.0.1:${usageStorePort(settings.port)}` : undefined);
  const client = new DynamoDBClient(
    endpoint ? { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {},
  );
  let rows: UsageRow[];
  try {
    rows = await usageOfDay(client, tableName ?? LOCAL_USAGE_TABLE_NAME, day);
  } catch (error) {
    const { name, code } = error as Error & { code?: string };
    const reason = name === 'Error' && code ? code : name;
    const hint = local
      ? `Is npm run dev running (its usage store listens on ${endpoint}), with a QUOTA_* limit or the cache on? For a deployed table: npm run usage -- --table <UsageTableName output>.`
      : 'Check your AWS credentials and AWS_REGION, and the table name (the stack output UsageTableName).';
    throw new Error(`Could not read the usage table (${reason}). ${hint}`);
  } finally {
    client.destroy();
  }
  const withLimits = rows.map((row) => {
    const override = settings.quotaOverrides.find((each) => each.kind === row.kind && each.id === row.caller);
    const limit = row.kind === 'total' ? settings.quotaCreditsPerDayTotal : (override?.creditsPerDay ?? settings.quotaCreditsPerDay);
    return limit > 0 ? { ...row, limit } : row;
  });
  process.stdout.write(values.json ? `${JSON.stringify({ day, rows: withLimits }, null, 2)}\n` : `${formatUsage(day, withLimits)}\n`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
  });
}
