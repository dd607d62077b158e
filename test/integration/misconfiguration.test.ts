/**
 * What a function does when it cannot do its job: without a Tavily key the
 * tools say which variable to set; with a bad setting a function fails its
 * cold start with one message naming it, and the gateway answers with JSON.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { functionSpecs } from '../../lib/functions.js';
import { buildBundles, FunctionPool } from '../../local/lambda-runtime.js';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import type { TokenIssuer } from '../fixtures/token-issuer.js';

let running: TestStack;
let issuer: TokenIssuer;
let stack: LocalStack;

beforeAll(async () => {
  running = await startTestStack({ tavilyKey: null });
  ({ issuer, stack } = running);
});
afterAll(() => running?.close());

test('no TAVILY_API_KEY: tools/list works, a tool call is an isError result naming the variable', async () => {
  const client = new Client({ name: 'no-key', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(stack.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${await issuer.mint()}` } } }));
  try {
    expect((await client.listTools()).tools).toHaveLength(6);
    const result = await client.callTool({ name: 'web_search', arguments: { query: 'x' } });
    expect(result.isError).toBe(true);
    expect((result.content as Array<{ text: string }>)[0]!.text).toContain('TAVILY_API_KEY');
  } finally {
    await client.close();
  }
});

test('a bad setting fails the cold start with one message naming every bad setting', async () => {
  const bundles = await buildBundles();
  const lines: string[] = [];
  const pool = new FunctionPool({
    spec: functionSpecs.metadata,
    bundlePath: bundles.metadata,
    environment: { SCALEKIT_RESOURCE_ID: 'not-a-resource-id', API_BASE_URL: 'ftp://nope' },
    onLog: (_name, line) => lines.push(line),
  });
  try {
    const outcome = await pool.invoke({ httpMethod: 'GET', path: '/.well-known/oauth-authorization-server', requestContext: { requestId: 'r' } });
    expect(outcome).toMatchObject({ ok: false, kind: 'init_error' });
    const message = (outcome as { message: string }).message;
    expect(message).toContain('Invalid metadata function configuration');
    for (const name of ['SCALEKIT_ENVIRONMENT_URL: missing', 'SCALEKIT_RESOURCE_ID: expected', 'API_BASE_URL: expected']) {
      expect(message).toContain(name);
    }
    expect(lines.join('\n')).toContain('Function init failed');
  } finally {
    await pool.close();
  }
});
