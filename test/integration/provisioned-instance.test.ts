/**
 * An MCP function instance initialized for provisioned concurrency
 * (AWS_LAMBDA_INITIALIZATION_TYPE) loads what a first tool call needs during
 * its init, says so once, and then serves the handshake and a tool call as any
 * instance does. An on-demand instance loads none of it at init.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';

const LOADED = 'Loaded for the first tool call';

async function searchOnce(running: TestStack) {
  const client = new Client({ name: 'provisioned-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(running.stack.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${await running.issuer.mint()}` } },
    }),
  );
  try {
    return await client.callTool({ name: 'web_search', arguments: { query: 'provisioned' } });
  } finally {
    await client.close();
  }
}

describe('initialized for provisioned concurrency', () => {
  let running: TestStack;
  beforeAll(async () => {
    // One instance per function: "logs it once" is about one instance's init, and on a busy machine a
    // client's trailing request could hold it when the next arrives, starting a second one.
    running = await startTestStack({ stack: { maxInstances: 1, extraEnvironment: { AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency' } } });
  });
  afterAll(async () => running?.close());

  test('the init loads what a tool call needs, logs it once, and the first search is answered', async () => {
    const result = await searchOnce(running);
    expect(result.isError).toBeFalsy();
    expect(JSON.stringify(result.content)).toContain('Result 1 for provisioned');
    const loaded = running.logs.filter((line) => line.includes(LOADED));
    expect(loaded).toHaveLength(1);
    expect(JSON.parse(loaded[0]!)).toMatchObject({ level: 'INFO', message: LOADED, initializationType: 'provisioned-concurrency' });
    expect(running.tavily.requests).toHaveLength(1);
  });
});

describe('initialized on demand', () => {
  let running: TestStack;
  beforeAll(async () => {
    running = await startTestStack();
  });
  afterAll(async () => running?.close());

  test('nothing is loaded ahead of need', async () => {
    const result = await searchOnce(running);
    expect(result.isError).toBeFalsy();
    expect(running.logs.some((line) => line.includes(LOADED))).toBe(false);
  });
});
