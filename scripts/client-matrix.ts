/**
 * `npm run matrix`: clients this project does not control sign in to the local
 * stack on its embedded authorization server with their own OAuth, headless, on
 * loopback, and end with tools/list and a tools/call answered by the fake Tavily:
 *
 * - MCP Inspector's CLI (pinned, Node 22 fetched by npx): its interactive OAuth
 *   flow (discovery, DCR, PKCE, its RFC 9207 check), with auto-open forced on and
 *   BROWSER set to scripts/browser-stand-in.mjs, which follows the redirects the
 *   way a browser does and loads the Inspector's callback page;
 * - mcp-remote (the pinned devDependency), the same way, driven over its stdio
 *   like a desktop client: initialize, tools/list, tools/call.
 *
 * Each client gets a fresh HOME / config directory, so nothing is reused between
 * runs. Exits 1 when any check fails. The SDK clients (v1, v2) are in jest's
 * test/e2e suites.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevStack, type DevStack } from '../local/dev-stack.js';
import { startFakeTavily, type FakeTavily } from '../test/fixtures/fake-tavily.js';

export const INSPECTOR = '@modelcontextprotocol/inspector@2.12.0';
/** The devDependency's version, pinned in package.json; what runs is node_modules/mcp-remote. */
export const MCP_REMOTE_VERSION = '0.15.1';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BROWSER_STAND_IN = join(root, 'scripts', 'browser-stand-in.mjs');
const CLIENT_TIMEOUT_MS = 60_000;

let failed = false;
function check(ok: boolean, label: string, detail = ''): boolean {
  process.stdout.write(`${ok ? '✓' : '✗'} ${label}${detail ? `: ${detail}` : ''}\n`);
  if (!ok) failed = true;
  return ok;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A fresh home for one client, with the browser stand-in, and npm's cache where it was. */
function headlessEnvironment(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    npm_config_cache: process.env.npm_config_cache ?? join(homedir(), '.npm'),
    BROWSER: BROWSER_STAND_IN,
    BROWSER_STAND_IN_LOG: join(home, 'browser.log'),
    NO_COLOR: '1',
  };
  // No desktop: xdg-open must fall through to $BROWSER.
  for (const name of ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION', 'KDE_FULL_SESSION', 'GNOME_DESKTOP_SESSION_ID']) delete env[name];
  return env;
}

/** What the stand-in browser visited. */
function browserVisits(home: string): Array<{ url?: string; status?: number; location?: string; error?: string }> {
  try {
    return readFileSync(join(home, 'browser.log'), 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}

/** The callback the authorization server sent the browser to, and whether its `iss` is the advertised issuer. */
function checkCallback(home: string, client: string, advertisedIssuer: string, redirectPrefix: string) {
  const visits = browserVisits(home);
  if (process.env.MATRIX_DEBUG) process.stderr.write(`${client} browser visits: ${JSON.stringify(visits, null, 1)}\n`);
  const errors = visits.filter((visit) => visit.error);
  check(errors.length === 0, `${client}: the browser stand-in completed the sign-in`, errors.map((visit) => visit.error).join('; '));
  const callback = visits.flatMap((visit) => (visit.url ? [new URL(visit.url)] : [])).find((url) => url.href.startsWith(redirectPrefix));
  check(Boolean(callback?.searchParams.get('code')), `${client}: the authorization response reached the client's loopback callback with a code`);
  check(
    callback?.searchParams.get('iss') === advertisedIssuer,
    `${client}: the authorization response's iss is the advertised issuer (RFC 9207)`,
    callback?.searchParams.get('iss') ?? 'no iss',
  );
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), CLIENT_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** The end of a client's stderr, without npm's own warnings and notices. */
const lastLines = (text: string, count = 8) =>
  text
    .trim()
    .split('\n')
    .filter((line) => !/^npm (warn|notice)/.test(line))
    .slice(-count)
    .join('\n');

async function inspector(dev: DevStack, tavily: FakeTavily, advertisedIssuer: string) {
  const home = mkdtempSync(join(tmpdir(), 'matrix-inspector-'));
  try {
    const env = { ...headlessEnvironment(home), MCP_AUTO_OPEN_ENABLED: 'true', MCP_INSPECTOR_SECRET_STORE: 'memory' };
    const callbackUrl = `http://127.0.0.1:${await freePort()}/oauth/callback`;
    const cli = (...args: string[]) =>
      run(
        'npx',
        ['-y', '-p', 'node@22', '-p', INSPECTOR, 'mcp-inspector', '--cli', dev.stack.mcpUrl, '--transport', 'http', '--callback-url', callbackUrl, '--format', 'json', ...args],
        env,
      );

    const list = await cli('--method', 'tools/list');
    let tools: string[] = [];
    try {
      tools = (JSON.parse(list.stdout).result.tools as Array<{ name: string }>).map((tool) => tool.name);
    } catch {
      // reported below
    }
    check(list.code === 0 && tools.includes('web_search'), `Inspector ${INSPECTOR.split('@')[2]}: its own OAuth flow, then tools/list`, list.code === 0 ? tools.join(', ') : lastLines(list.stderr));
    checkCallback(home, 'Inspector', advertisedIssuer, callbackUrl);

    const before = tavily.requests.length;
    const call = await cli('--method', 'tools/call', '--tool-name', 'web_search', '--tool-arg', 'query=inspector oauth', 'max_results=2');
    let result: any;
    try {
      result = JSON.parse(call.stdout).result;
    } catch {
      // reported below
    }
    check(
      call.code === 0 && result?.isError !== true && result?.structuredContent?.results?.length === 2 && JSON.stringify(result.content).includes('inspector oauth'),
      'Inspector: tools/call web_search answered by the fake Tavily',
      call.code === 0 ? `${result?.structuredContent?.results?.length ?? 0} results` : lastLines(call.stderr),
    );
    check(tavily.requests.length === before + 1 && tavily.requests.at(-1)?.headers.authorization === `Bearer ${tavily.apiKey}`, 'Inspector: Tavily got the server key, not the client token');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** mcp-remote as a desktop client runs it: a child process spoken to in JSON-RPC over stdio. */
class StdioSession {
  private buffer = '';
  private readonly waiting = new Map<number, (message: any) => void>();
  stderr = '';

  constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, newline).trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (!line) continue;
        try {
          const message = JSON.parse(line);
          if (typeof message.id === 'number') this.waiting.get(message.id)?.(message);
        } catch {
          // not JSON-RPC: ignore, as a desktop client would
        }
      }
    });
    child.stderr!.on('data', (chunk) => (this.stderr += chunk));
  }

  request(id: number, method: string, params: unknown): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${method} within ${CLIENT_TIMEOUT_MS / 1000} s`)), CLIENT_TIMEOUT_MS);
      this.waiting.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  notify(method: string) {
    this.child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', method })}\n`);
  }
}

async function mcpRemote(dev: DevStack, tavily: FakeTavily, advertisedIssuer: string) {
  const home = mkdtempSync(join(tmpdir(), 'matrix-mcp-remote-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(root, 'node_modules', 'mcp-remote', 'dist', 'proxy.js'), dev.stack.mcpUrl, String(port), '--host', '127.0.0.1'],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...headlessEnvironment(home), MCP_REMOTE_CONFIG_DIR: join(home, 'mcp-auth') }, cwd: tmpdir() },
  );
  const session = new StdioSession(child);
  const label = `mcp-remote ${MCP_REMOTE_VERSION}`;
  try {
    const initialized = await session.request(1, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'client-matrix', version: '1.0.0' },
    });
    check(Boolean(initialized.result?.serverInfo), `${label}: its own OAuth flow, then initialize over stdio`, initialized.error ? JSON.stringify(initialized.error) : initialized.result?.protocolVersion);
    checkCallback(home, 'mcp-remote', advertisedIssuer, `http://127.0.0.1:${port}/`);
    session.notify('notifications/initialized');

    const list = await session.request(2, 'tools/list', {});
    const tools = ((list.result?.tools ?? []) as Array<{ name: string }>).map((tool) => tool.name);
    check(tools.includes('web_search'), `${label}: tools/list`, tools.join(', ') || JSON.stringify(list.error));

    const before = tavily.requests.length;
    const call = await session.request(3, 'tools/call', { name: 'web_search', arguments: { query: 'mcp-remote oauth', max_results: 2 } });
    check(
      call.result?.isError !== true && call.result?.structuredContent?.results?.length === 2 && JSON.stringify(call.result.content).includes('mcp-remote oauth'),
      `${label}: tools/call web_search answered by the fake Tavily`,
      call.error ? JSON.stringify(call.error) : `${call.result?.structuredContent?.results?.length ?? 0} results`,
    );
    check(tavily.requests.length === before + 1 && tavily.requests.at(-1)?.headers.authorization === `Bearer ${tavily.apiKey}`, 'mcp-remote: Tavily got the server key, not the client token');
  } catch (error) {
    check(false, `${label}: over stdio`, `${(error as Error).message}\n${lastLines(session.stderr, 15)}`);
  } finally {
    child.stdin!.end();
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('close', resolve)));
    rmSync(home, { recursive: true, force: true });
  }
}

async function main() {
  const tavily = await startFakeTavily();
  const dev = await startDevStack(
    { TAVILY_API_KEY: tavily.apiKey, TAVILY_API_BASE_URL: tavily.url },
    { port: 0, devAuthPort: 0, hosts: ['127.0.0.1'], publicHost: '127.0.0.1', onLog: () => undefined },
  );
  try {
    const prm = await (await fetch(dev.stack.protectedResourceMetadataUrl)).json();
    const advertisedIssuer = prm.authorization_servers[0] as string;
    const only = process.argv.slice(2);
    if (only.length === 0 || only.includes('inspector')) await inspector(dev, tavily, advertisedIssuer);
    if (only.length === 0 || only.includes('mcp-remote')) await mcpRemote(dev, tavily, advertisedIssuer);
  } catch (error) {
    check(false, 'client matrix', (error as Error).message);
  } finally {
    await dev.close();
    await tavily.close();
  }
  process.exit(failed ? 1 : 0);
}

void main();
