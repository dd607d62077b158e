/**
 * The offline demo (`npm run dev -- --demo`): with no key, every tool answers
 * sample data from the local Tavily stand-in, and says so in what the client
 * sees; the console prints one line per request. It can never be deployed: no
 * function bundle holds the stand-in, and the CDK app refuses a demo setting
 * and a Tavily URL on loopback.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEnv } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parseDeploySettings } from '../../lib/config.js';
import { ConfigurationError } from '../../lambda/shared/settings.js';
import { DevConsole } from '../../local/dev-console.js';
import { machineToken, startDevStack, type DevStack } from '../../local/dev-stack.js';
import { buildBundles } from '../../local/lambda-runtime.js';
import { SAMPLE_DATA_NOTE, SAMPLE_TAVILY_API_KEY } from '../../local/sample-tavily.js';

const written: string[] = [];
// Lines are printed when the test flushes, not on a timer: nothing here depends on how busy the machine is.
const output = new DevConsole({ format: 'text', write: (text) => written.push(text), graceMs: 600_000 });
let dev: DevStack;

beforeAll(async () => {
  // A key in the environment does not matter: the demo never calls Tavily.
  dev = await startDevStack(
    { TAVILY_API_KEY: 'tvly-a-real-looking-key' },
    { demo: true, port: 0, devAuthPort: 0, hosts: ['127.0.0.1'], publicHost: '127.0.0.1', onLog: output.onLog, onAccessLog: output.onAccessLog },
  );
});
afterAll(() => dev?.close());

test('every tool answers marked sample data, with no key, end to end through OAuth and the gateway', async () => {
  expect(dev.demo?.tavilyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const client = new Client({ name: 'demo', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(dev.stack.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${await machineToken(dev)}` } } }));
  try {
    const calls = {
      web_search: { query: 'model context protocol', max_results: 2, include_answer: true },
      web_extract: { urls: ['https://example.com/a'] },
      web_crawl: { url: 'https://example.com', limit: 2 },
      web_map: { url: 'https://example.com' },
    };
    for (const [name, args] of Object.entries(calls)) {
      const result = await client.callTool({ name, arguments: args });
      expect(result.isError).toBeFalsy();
      const text = (result.content as Array<{ text: string }>).map((part) => part.text).join('\n');
      const structured = result.structuredContent as { results?: Array<Record<string, unknown>>; urls?: string[] };
      if (name === 'web_map') {
        expect(structured.urls!.length).toBeGreaterThan(0);
        for (const url of structured.urls!) expect(url).toMatch(/\/sample-data-[^/]*$/);
      } else {
        expect(text).toContain(SAMPLE_DATA_NOTE);
        for (const item of structured.results!) expect(JSON.stringify(item)).toContain(SAMPLE_DATA_NOTE);
      }
    }
  } finally {
    await client.close();
  }
  output.flush();
  const lines = written.join('').split('\n');
  expect(lines.find((line) => line.includes('tools/call web_search'))).toMatch(
    /^\d\d:\d\d:\d\d POST \/web-search\/mcp 200 \d+ ms {2}tools\/call web_search ok, Tavily 200 in \d+ ms · cache miss$/,
  );
  // No JSON and no EMF line reaches the console in the text format.
  expect(lines.filter((line) => line.includes('{'))).toEqual([]);
});

test('no function bundle holds the stand-in or its key', async () => {
  const bundles = await buildBundles();
  const files = Object.values(bundles).flatMap((entry) =>
    readdirSync(dirname(entry), { recursive: true, withFileTypes: true })
      .filter((item) => item.isFile() && /\.c?js$/.test(item.name))
      .map((item) => join(item.parentPath, item.name)),
  );
  expect(files.length).toBeGreaterThanOrEqual(4);
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    expect(source).not.toContain(SAMPLE_TAVILY_API_KEY);
    expect(source).not.toContain('offline demo');
  }
});

test('the CDK app refuses a demo setting and a Tavily URL on loopback', () => {
  const example = parseEnv(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')) as Record<string, string>;
  const environment = { ...example, SCALEKIT_ENVIRONMENT_URL: 'https://acme.scalekit.com', SCALEKIT_RESOURCE_ID: 'res_2b6f0e' };
  expect(() => parseDeploySettings(() => undefined, environment)).not.toThrow();
  let error: unknown;
  try {
    parseDeploySettings((key) => (key === 'DEMO' ? 'true' : undefined), { ...environment, TAVILY_API_BASE_URL: dev.demo!.tavilyUrl });
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigurationError);
  expect((error as ConfigurationError).problems).toEqual([
    'DEMO: the offline demo (sample data from a local Tavily stand-in) runs only with npm run dev -- --demo and is never deployed; remove DEMO',
    `TAVILY_API_BASE_URL: ${dev.demo!.tavilyUrl} is on loopback (a local stand-in), which a deployed function cannot reach; remove it to call https://api.tavily.com`,
  ]);
  expect(() => parseDeploySettings(() => undefined, { ...environment, DEMO: '1' })).toThrow(/DEMO: the offline demo/);
});
