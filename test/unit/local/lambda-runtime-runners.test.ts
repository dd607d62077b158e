/**
 * The two places a local Lambda instance can run (local/lambda-runtime.ts): a
 * worker thread of a process on Lambda's Node major, or, when the stack runs on
 * another Node, a child process of the Node `npm ci` installed. Both speak the
 * same protocol: an answer, an init failure with its message and log line, a
 * process that is gone after close.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { functionEnvironment, functionSpecs } from '../../../lib/functions.js';
import { defaultToolScopes } from '../../../lambda/shared/settings.js';
import { proxyEvent } from '../../../local/api-gateway-events.js';
import { buildBundles, defaultRunner, FunctionPool, type InstanceRunner } from '../../../local/lambda-runtime.js';

const mcpEnvironment = functionEnvironment('mcp', {
  environmentUrl: 'http://127.0.0.1:1',
  resourceId: 'res_runner',
  resourceIdentifier: 'http://localhost:1/web-search/mcp',
  requiredScopes: ['web-search:read'],
  toolScopes: defaultToolScopes(),
  toolOutputBudgetChars: 60_000,
  allowedOrigins: [],
  apiBaseUrl: 'http://localhost:1',
  tavilyApiBaseUrl: 'http://127.0.0.1:1',
  logLevel: 'INFO',
  tracingEnabled: false,
});

const get = proxyEvent(
  {
    method: 'GET',
    path: '/web-search/mcp',
    resource: '/web-search/mcp',
    rawHeaders: [['Host', 'localhost:1']],
    query: new URLSearchParams(),
    body: Buffer.alloc(0),
    sourceIp: '127.0.0.1',
    requestId: 'runner-request',
    host: 'localhost:1',
  },
  undefined,
);

/** Resolves once a line containing `text` is in `lines` (the test's own timeout bounds the wait). */
async function lineArrives(lines: readonly string[], text: string) {
  while (!lines.some((line) => line.includes(text))) await new Promise((resolve) => setTimeout(resolve, 20));
}

test('on the Node npm run starts (Lambda\'s major), instances are worker threads', () => {
  expect(defaultRunner()).toBe('thread');
});

describe.each<InstanceRunner>(['thread', 'process'])('instances as %s', (runner) => {
  test('the MCP bundle answers GET with 405', async () => {
    const bundles = await buildBundles();
    const pool = new FunctionPool({ spec: functionSpecs.mcp, bundlePath: bundles.mcp, environment: mcpEnvironment, runner, onLog: () => undefined });
    try {
      expect(pool.runner).toBe(runner);
      const outcome = await pool.invoke(get);
      expect(outcome.ok).toBe(true);
      expect((outcome as { result: APIGatewayProxyResult }).result.statusCode).toBe(405);
    } finally {
      await pool.close();
    }
  });

  test('a bad setting is an init error with its message, and its log line reaches onLog', async () => {
    const bundles = await buildBundles();
    const lines: string[] = [];
    const pool = new FunctionPool({
      spec: functionSpecs.metadata,
      bundlePath: bundles.metadata,
      environment: { SCALEKIT_RESOURCE_ID: 'not-a-resource-id' },
      runner,
      onLog: (_name, line) => lines.push(line),
    });
    try {
      const outcome = await pool.invoke(get);
      expect(outcome).toMatchObject({ ok: false, kind: 'init_error' });
      expect((outcome as { message: string }).message).toContain('SCALEKIT_RESOURCE_ID: expected');
      // The line travels through the instance's stderr, which may arrive after the answer.
      await lineArrives(lines, 'Function init failed');
    } finally {
      await pool.close();
    }
  });
});
