/**
 * Deployed, the MCP function reads the Tavily key from an SSM SecureString
 * with Powertools Parameters. Here its signed GetParameter goes to a loopback SSM,
 * through the same local stack and MCP SDK client as everything else.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { LocalStack } from '../../local/stack.js';
import { startFakeSsm, type FakeSsm } from '../fixtures/fake-ssm.js';
import type { FakeTavily } from '../fixtures/fake-tavily.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import type { TokenIssuer } from '../fixtures/token-issuer.js';

const PARAMETER = '/web-search-mcp/tavily-api-key';
let running: TestStack;
let issuer: TokenIssuer;
let tavily: FakeTavily;
let ssm: FakeSsm;
let stack: LocalStack;

beforeAll(async () => {
  ssm = await startFakeSsm();
  running = await startTestStack({
    tavilyKey: null,
    // One instance per function: "cached between calls" is a claim about one instance, and on a
    // busy machine a client's trailing request can still hold it when the next call arrives,
    // which would start a second instance (with its own, first, read).
    stack: { tavilyApiKeyParameter: PARAMETER, extraEnvironment: ssm.environment, maxInstances: 1 },
  });
  ({ issuer, tavily, stack } = running);
});

afterAll(async () => {
  await running?.close();
  await ssm?.close();
});

async function callSearch() {
  const client = new Client({ name: 'ssm-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${await issuer.mint()}` } },
    }),
  );
  try {
    return await client.callTool({ name: 'web_search', arguments: { query: 'ssm' } });
  } finally {
    await client.close();
  }
}

const text = (result: Awaited<ReturnType<typeof callSearch>>) => (result.content as Array<{ text: string }>)[0]!.text;

test('a missing parameter: an isError result telling the operator how to create it', async () => {
  const result = await callSearch();
  expect(result.isError).toBe(true);
  expect(text(result)).toContain(`aws ssm put-parameter --name ${PARAMETER} --type SecureString`);
  expect(tavily.requests).toHaveLength(0);
});

test('the key is read decrypted from SSM, sent to Tavily, and cached between calls', async () => {
  ssm.parameters.set(PARAMETER, tavily.apiKey);
  const before = ssm.requests.length;
  const first = await callSearch();
  expect(first.isError).toBeFalsy();
  expect(tavily.requests.at(-1)!.headers.authorization).toBe(`Bearer ${tavily.apiKey}`);
  const lookups = ssm.requests.slice(before);
  expect(lookups).toEqual([{ target: 'AmazonSSM.GetParameter', body: { Name: PARAMETER, WithDecryption: true } }]);

  const second = await callSearch();
  expect(second.isError).toBeFalsy();
  // Same instance, within maxAge: no second read.
  expect(ssm.requests.length - before).toBe(1);
});

test('initialize and tools/list never touch SSM', async () => {
  const before = ssm.requests.length;
  const client = new Client({ name: 'ssm-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${await issuer.mint()}` } },
    }),
  );
  await client.listTools();
  await client.close();
  expect(ssm.requests.length).toBe(before);
});
