/**
 * `npm run conformance`: the official MCP conformance suite against the local
 * stack, for the scenarios that apply to this server (a stateless tools server),
 * in both eras: the 2025 scenarios from the suite's stable release, and the
 * 2026-07-28 ones from its 0.2 pre-release (the first to test that revision).
 *
 * The suite cannot send a bearer token, so it talks to a loopback proxy that
 * adds one, a client-credentials token from the embedded authorization server,
 * the way a deployed server receives it from a real client. Everything else
 * (Host, Origin, body) passes through untouched.
 */
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { machineToken, startDevStack } from '../local/dev-stack.js';
import { startFakeTavily } from '../test/fixtures/fake-tavily.js';

interface Suite {
  readonly package: string;
  /** Passed as --spec-version, so a scenario runs in that revision's form. */
  readonly specVersion?: string;
  /** The suite's own baseline of checks that cannot apply here, each with its reason (in the file). */
  readonly expectedFailures?: string;
  readonly scenarios: readonly string[];
}

export const SUITES: readonly Suite[] = [
  {
    package: '@modelcontextprotocol/conformance@0.1.16',
    scenarios: ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection'],
  },
  {
    package: '@modelcontextprotocol/conformance@0.2.0-alpha.12',
    specVersion: '2026-07-28',
    expectedFailures: fileURLToPath(new URL('./conformance-expected-failures.2026-07-28.yaml', import.meta.url)),
    scenarios: ['server-stateless', 'tools-list', 'caching', 'http-header-validation', 'dns-rebinding-protection'],
  },
];

/** A proxy on 127.0.0.1 that forwards to `target` with an Authorization header added. */
async function startTokenProxy(target: URL, authorization: string) {
  const server = createServer((incoming, outgoing) => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, authorization },
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    upstream.on('error', () => {
      outgoing.writeHead(502, { 'Content-Type': 'application/json' });
      outgoing.end('{"error":"proxy_upstream_failed"}');
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function runScenario(url: string, suite: Suite, scenario: string): Promise<{ code: number; output: string }> {
  const args = ['-y', '-p', 'node@22', '-p', suite.package, 'conformance', 'server', '--url', url, '--scenario', scenario];
  if (suite.specVersion) args.push('--spec-version', suite.specVersion);
  if (suite.expectedFailures) args.push('--expected-failures', suite.expectedFailures);
  return new Promise((resolve, reject) => {
    const child = spawn('npx', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function main() {
  const tavily = await startFakeTavily();
  const dev = await startDevStack(
    { TAVILY_API_KEY: tavily.apiKey, TAVILY_API_BASE_URL: tavily.url },
    { port: 0, devAuthPort: 0, hosts: ['127.0.0.1'], publicHost: '127.0.0.1', onLog: () => undefined },
  );
  let failures = 0;
  let total = 0;
  try {
    const token = await machineToken(dev);
    const proxy = await startTokenProxy(new URL(dev.stack.baseUrl), `Bearer ${token}`);
    try {
      const url = `http://127.0.0.1:${proxy.port}/web-search/mcp`;
      for (const suite of SUITES) {
        for (const scenario of suite.scenarios) {
          const { code, output } = await runScenario(url, suite, scenario);
          const passed = code === 0;
          total += 1;
          if (!passed) failures += 1;
          process.stdout.write(`${passed ? '✓' : '✗'} ${scenario} (${suite.specVersion ?? '2025-11-25'}, ${suite.package.split('@').pop()})\n`);
          if (!passed || process.env.VERBOSE) process.stdout.write(`${output.trim()}\n\n`);
        }
      }
    } finally {
      await proxy.close();
    }
  } finally {
    await dev.close();
    await tavily.close();
  }
  process.stdout.write(`conformance: ${total - failures} of ${total} scenarios passed\n`);
  process.exit(failures === 0 ? 0 : 1);
}

void main();
