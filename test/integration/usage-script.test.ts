/**
 * `npm run usage` against the local store: counters written by the usage guard
 * (through the real AWS SDK, on dynalite), read back from the byDay index, per caller.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createUsageGuard } from '../../lambda/mcp/quota/usage-guard.js';
import { createDynamoUsageStore } from '../../lambda/mcp/quota/usage-store.js';
import { formatUsage } from '../../scripts/usage.js';
import type { TavilyClient } from '../../lambda/mcp/tavily.js';
import webSearch from '../../lambda/mcp/tools/web-search.js';
import { startLocalUsageStore, type LocalUsageStore } from '../../local/usage-store-server.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
let local: LocalUsageStore;

beforeAll(async () => {
  local = await startLocalUsageStore();
  const guard = createUsageGuard({
    store: createDynamoUsageStore({ tableName: local.tableName, endpoint: local.endpoint }),
    // A total cap, so that the server's item is counted (without one it is not).
    limits: { callsPerMinute: 0, creditsPerDay: 10, creditsPerDayTotal: 50, overrides: [{ kind: 'client', id: 'client-1' }], onStoreError: 'deny' },
    cache: { ttlSeconds: 600, newsTtlSeconds: 60, scope: 'shared' },
  });
  const tavily: TavilyClient = { call: async () => ({ results: [] }) };
  const tool = async (client: TavilyClient) => {
    await client.call('search', {}, { deadline: Date.now() + 5_000 });
    return { content: [{ type: 'text', text: 'ok' }], structuredContent: { results: [] } };
  };
  const call = (sub: string, clientId: string, depth: string, query: string) =>
    guard({ tool: webSearch, args: webSearch.input.parse({ query, search_depth: depth }), caller: { sub, clientId }, deadline: Date.now() + 20_000, tavily }, tool);
  await call('usr_a', 'client-1', 'advanced', 'one');
  await call('usr_a', 'client-1', 'basic', 'two');
  await call('usr_b', 'client-1', 'basic', 'three');
  await call('usr_b', 'client-1', 'basic', 'three'); // a cache hit: no credits, not a billed call
});
afterAll(() => local?.close());

test('today per caller: users and clients apart, the server total last', async () => {
  const { stdout } = await run('npx', ['tsx', 'scripts/usage.ts', '--endpoint', local.endpoint, '--json'], {
    cwd: root,
    env: { ...process.env, QUOTA_CREDITS_PER_DAY: '10', USAGE_TABLE_NAME: '' },
  });
  const { day, rows } = JSON.parse(stdout) as { day: string; rows: Array<Record<string, unknown>> };
  expect(day).toBe(new Date().toISOString().slice(0, 10));
  expect(rows).toEqual([
    { kind: 'client', caller: 'client-1', credits: 4, calls: 3, limit: 10 },
    { kind: 'sub', caller: 'usr_a', credits: 3, calls: 2, limit: 10 },
    { kind: 'sub', caller: 'usr_b', credits: 1, calls: 1, limit: 10 },
    { kind: 'total', caller: '*', credits: 4, calls: 3 },
  ]);
  const { stdout: text } = await run('npx', ['tsx', 'scripts/usage.ts', '--endpoint', local.endpoint], { cwd: root, env: { ...process.env, USAGE_TABLE_NAME: '' } });
  expect(text).toContain('client-1');
  expect(text.split('\n').find((line) => line.startsWith('usr_a'))).toMatch(/^usr_a\s+user\s+3\s+-\s+2$/);
});

test("reads the stack's .env: the local store from PORT, the limits from QUOTA_*, nothing repeated in the shell", async () => {
  const directory = mkdtempSync(join(tmpdir(), 'usage-dotenv-'));
  const storePort = Number(new URL(local.endpoint).port);
  writeFileSync(join(directory, '.env'), `PORT=${storePort - 2}\nQUOTA_CREDITS_PER_DAY=10\nQUOTA_CREDITS_PER_DAY_TOTAL=50\n`);
  const shell = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(PORT|QUOTA_|USAGE_TABLE_NAME$)/.test(name)));
  try {
    const { stdout } = await run(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'scripts', 'usage.ts'), '--json'], { cwd: directory, env: shell });
    const { rows } = JSON.parse(stdout) as { rows: Array<Record<string, unknown>> };
    expect(rows.find((row) => row.caller === 'usr_a')).toMatchObject({ credits: 3, limit: 10 });
    expect(rows.find((row) => row.kind === 'total')).toMatchObject({ credits: 4, limit: 50 });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('another day has nothing; a store that is not there is named with a hint, not a stack trace', async () => {
  const { stdout } = await run('npx', ['tsx', 'scripts/usage.ts', '--endpoint', local.endpoint, '--day', '2001-01-01'], { cwd: root });
  expect(stdout).toContain('No usage recorded for 2001-01-01');
  const failed = await run('npx', ['tsx', 'scripts/usage.ts', '--endpoint', 'http://127.0.0.1:9'], { cwd: root, env: { ...process.env, USAGE_TABLE_NAME: '' } }).catch((error: { stderr: string; code: number }) => error);
  expect((failed as { code: number }).code).toBe(1);
  expect((failed as { stderr: string }).stderr).toMatch(/^Could not read the usage table \(\w+\)\. Is npm run dev running/m);
  expect((failed as { stderr: string }).stderr).not.toContain('    at ');
});

test("without a total cap there is no server item, and the table says where the server's total is", () => {
  const text = formatUsage('2026-12-03', [{ kind: 'client', caller: 'client-1', credits: 4, calls: 3 }]);
  expect(text).toContain('client-1');
  expect(text).toContain('QUOTA_CREDITS_PER_DAY_TOTAL');
  expect(formatUsage('2026-12-03', [{ kind: 'total', caller: '*', credits: 4, calls: 3 }])).not.toContain('QUOTA_CREDITS_PER_DAY_TOTAL');
});
