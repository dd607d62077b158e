/**
 * The local stand-in for the quotas' DynamoDB table: dynalite (a pure-JS
 * implementation of the DynamoDB API, in memory) on loopback, with the table
 * created from the same definition the stack deploys (lambda/mcp/quota/usage-table.ts).
 * `npm run dev` and the tests start it; nothing to install or run by hand.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTableInput } from '../lambda/mcp/quota/usage-table.js';

type Dynalite = (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as Dynalite;

export const LOCAL_USAGE_TABLE_NAME = 'web-search-mcp-usage';

/**
 * USAGE_STORE_TIMEOUT_MS for the functions of the local stack. dynalite runs in the stack's own
 * process, in JavaScript, beside the gateway and every test's work: on a loaded two-core laptop a
 * burst of requests can wait seconds for it. The deployed default (1 s) would call that an outage
 * and, with QUOTA_ON_STORE_ERROR=allow, let calls through uncounted.
 */
export const LOCAL_USAGE_STORE_TIMEOUT_MS = 15_000;

export interface LocalUsageStore {
  /** `http://127.0.0.1:<port>`: USAGE_TABLE_ENDPOINT for the functions. */
  readonly endpoint: string;
  readonly tableName: string;
  /** USAGE_STORE_TIMEOUT_MS for clients of this store. */
  readonly requestTimeoutMs: number;
  close(): Promise<void>;
  /** Stop answering (tests of a store that is down); `resume` listens again on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export async function startLocalUsageStore(options: { port?: number; tableName?: string } = {}): Promise<LocalUsageStore> {
  const tableName = options.tableName ?? LOCAL_USAGE_TABLE_NAME;
  let server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(options.port ?? 0);
  const endpoint = `http://127.0.0.1:${port}`;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });

  const { DynamoDBClient, CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (error) {
    await closeServer();
    throw error;
  } finally {
    client.destroy();
  }

  let paused: { server: Server } | undefined;
  return {
    endpoint,
    tableName,
    requestTimeoutMs: LOCAL_USAGE_STORE_TIMEOUT_MS,
    close: () => (paused ? Promise.resolve() : closeServer()),
    async pause() {
      if (paused) return;
      // Keep the data: a paused store is a store the network cannot reach, not an empty one.
      paused = { server };
      await closeServer();
    },
    async resume() {
      if (!paused) return;
      server = paused.server;
      paused = undefined;
      await listen(port);
    },
  };
}
