/**
 * `npm run smoke`: MCP Inspector's CLI, a client this project does not control,
 * against the local stack with a client-credentials token from the embedded
 * authorization server: `tools/list`, then one `tools/call`. Tavily is the
 * loopback fake, so the smoke test needs no key and checks this server only.
 *
 * The Inspector needs Node 22: it runs on the one `npm ci` installed, first on
 * the PATH of every npm script.
 */
import { spawn } from 'node:child_process';
import { machineToken, startDevStack } from '../local/dev-stack.js';
import { startFakeTavily } from '../test/fixtures/fake-tavily.js';
import { INSPECTOR } from './pinned-clients.js';

function run(command: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The JSON document the Inspector CLI printed (it may print notices around it). */
function jsonOutput(stdout: string): any {
  const start = stdout.indexOf('{');
  const end = stdout.lastIndexOf('}');
  if (start < 0 || end < start) throw new Error(`no JSON in the Inspector's output:\n${stdout}`);
  return JSON.parse(stdout.slice(start, end + 1));
}

async function main() {
  const tavily = await startFakeTavily();
  const dev = await startDevStack(
    { TAVILY_API_KEY: tavily.apiKey, TAVILY_API_BASE_URL: tavily.url },
    { port: 0, devAuthPort: 0, hosts: ['127.0.0.1'], publicHost: '127.0.0.1', onLog: () => undefined },
  );
  let failed = false;
  const check = (ok: boolean, label: string, detail = '') => {
    process.stdout.write(`${ok ? '✓' : '✗'} ${label}${detail ? `: ${detail}` : ''}\n`);
    if (!ok) failed = true;
  };
  try {
    const token = await machineToken(dev);
    check(true, 'client_credentials token from the embedded authorization server');

    const inspector = (...args: string[]) =>
      run('npx', ['-y', '-p', INSPECTOR, 'mcp-inspector', '--cli', dev.stack.mcpUrl, '--transport', 'http', '--header', `Authorization: Bearer ${token}`, ...args]);

    const list = await inspector('--method', 'tools/list');
    const tools = list.code === 0 ? (jsonOutput(list.stdout).tools as Array<{ name: string }>).map((tool) => tool.name) : [];
    check(list.code === 0 && tools.includes('web_search'), 'Inspector CLI tools/list', list.code === 0 ? tools.join(', ') : list.stderr.trim());

    const call = await inspector('--method', 'tools/call', '--tool-name', 'web_search', '--tool-arg', 'query=model context protocol', 'max_results=2');
    const result = call.code === 0 ? jsonOutput(call.stdout) : undefined;
    check(
      call.code === 0 && result?.isError !== true && result?.structuredContent?.results?.length === 2,
      'Inspector CLI tools/call web_search',
      call.code === 0 ? `${result?.structuredContent?.results?.length ?? 0} results` : call.stderr.trim(),
    );
    check(tavily.requests.at(-1)?.headers.authorization === `Bearer ${tavily.apiKey}`, 'Tavily got the server key, not the client token');
  } finally {
    await dev.close();
    await tavily.close();
  }
  process.exit(failed ? 1 : 0);
}

void main();
