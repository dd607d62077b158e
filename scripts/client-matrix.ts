/**
 * `npm run matrix`: clients this project does not control sign in to the local
 * stack on its embedded authorization server with their own OAuth, headless, on
 * loopback, and end with tools/list and a tools/call answered by the fake Tavily:
 *
 * - MCP Inspector's CLI (pinned, run by npx): its interactive OAuth flow
 *   (discovery, DCR, PKCE, its RFC 9207 check), with auto-open forced on and
 *   BROWSER set to scripts/browser-stand-in.mjs, which follows the redirects the
 *   way a browser does and loads the Inspector's callback page;
 * - mcp-remote (a pinned devDependency), the same way, driven over its stdio
 *   like a desktop client: initialize, tools/list, tools/call;
 * - mcpc (`@apify/mcpc`, a pinned devDependency): `mcpc login` (its OAuth flow;
 *   its `xdg-open` is a shim that starts the browser stand-in), then a session;
 * - the Python MCP SDK (pinned in scripts/matrix-requirements.txt, installed in
 *   the .venv virtualenv that .ci/run makes): its OAuthClientProvider
 *   (authorization code with PKCE) and its ClientCredentialsOAuthProvider,
 *   through scripts/matrix-python-client.py.
 *
 * Every client runs on the Node that `npm ci` installed (Lambda's major) and
 * gets a fresh HOME / config directory, so nothing is reused between runs. The
 * versions are printed first. Exits 1 when any check fails. The TypeScript SDK
 * clients (v1, v2) are in jest's test/e2e suites.
 *
 *   npm run matrix [-- inspector mcp-remote mcpc python]    (default: all)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevStack, type DevStack } from '../local/dev-stack.js';
import { PINNED_NODE } from '../local/lambda-node.js';
import { startFakeTavily, type FakeTavily } from '../test/fixtures/fake-tavily.js';
import { INSPECTOR, INSPECTOR_VERSION } from './pinned-clients.js';


const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BROWSER_STAND_IN = join(root, 'scripts', 'browser-stand-in.mjs');
const PYTHON_CLIENT = join(root, 'scripts', 'matrix-python-client.py');
const PYTHON_REQUIREMENTS = join(root, 'scripts', 'matrix-requirements.txt');
/** The virtualenv .ci/run makes for the Python SDK; MATRIX_PYTHON names another interpreter. */
const PYTHON = process.env.MATRIX_PYTHON ?? join(root, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
const CLIENT_TIMEOUT_MS = 60_000;

/** A devDependency's pinned version (package.json) and the one installed. */
function devDependency(name: string): { pinned: string; installed: string | undefined } {
  const pinned = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies[name] ?? '?';
  let installed: string | undefined;
  try {
    installed = (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    installed = undefined;
  }
  return { pinned, installed };
}

const MCP_REMOTE = devDependency('mcp-remote');
const MCPC = devDependency('@apify/mcpc');
/** `mcp==X.Y.Z` in the requirements file. */
const PYTHON_SDK_VERSION = /^mcp==(\S+)$/m.exec(readFileSync(PYTHON_REQUIREMENTS, 'utf8'))?.[1] ?? '?';

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

/**
 * A fresh home for one client, with the browser stand-in (as BROWSER, and as `xdg-open` for the
 * clients that call it by name), npm's cache where it was, and Lambda's Node first on the PATH.
 */
function headlessEnvironment(home: string): NodeJS.ProcessEnv {
  const shims = join(home, 'bin');
  mkdirSync(shims, { recursive: true });
  writeFileSync(join(shims, 'xdg-open'), `#!/bin/sh\nexec "${process.execPath}" "${BROWSER_STAND_IN}" "$1"\n`);
  chmodSync(join(shims, 'xdg-open'), 0o755);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [shims, dirname(PINNED_NODE), process.env.PATH].join(delimiter),
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
function checkCallback(home: string, client: string, advertisedIssuer: string, isCallback: (url: URL) => boolean) {
  const visits = browserVisits(home);
  if (process.env.MATRIX_DEBUG) process.stderr.write(`${client} browser visits: ${JSON.stringify(visits, null, 1)}\n`);
  const errors = visits.filter((visit) => visit.error);
  check(errors.length === 0, `${client}: the browser stand-in completed the sign-in`, errors.map((visit) => visit.error).join('; '));
  const callback = visits.flatMap((visit) => (visit.url ? [new URL(visit.url)] : [])).find(isCallback);
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
        ['-y', '-p', INSPECTOR, 'mcp-inspector', '--cli', dev.stack.mcpUrl, '--transport', 'http', '--callback-url', callbackUrl, '--format', 'json', ...args],
        env,
      );

    const list = await cli('--method', 'tools/list');
    let tools: string[] = [];
    try {
      tools = (JSON.parse(list.stdout).result.tools as Array<{ name: string }>).map((tool) => tool.name);
    } catch {
      // reported below
    }
    check(list.code === 0 && tools.includes('web_search'), `Inspector ${INSPECTOR_VERSION}: its own OAuth flow, then tools/list`, list.code === 0 ? tools.join(', ') : lastLines(list.stderr));
    checkCallback(home, 'Inspector', advertisedIssuer, (url) => url.href.startsWith(callbackUrl));

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
  const label = `mcp-remote ${MCP_REMOTE.installed}`;
  try {
    const initialized = await session.request(1, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'client-matrix', version: '1.0.0' },
    });
    check(Boolean(initialized.result?.serverInfo), `${label}: its own OAuth flow, then initialize over stdio`, initialized.error ? JSON.stringify(initialized.error) : initialized.result?.protocolVersion);
    checkCallback(home, 'mcp-remote', advertisedIssuer, (url) => url.href.startsWith(`http://127.0.0.1:${port}/`));
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

/** mcpc as a person scripts it: `mcpc login` (its OAuth flow, opening "the browser"), then a named session. */
async function mcpc(dev: DevStack, tavily: FakeTavily, advertisedIssuer: string) {
  const home = mkdtempSync(join(tmpdir(), 'matrix-mcpc-'));
  const label = `mcpc ${MCPC.installed}`;
  const env = { ...headlessEnvironment(home), MCPC_HOME_DIR: join(home, '.mcpc') };
  const cli = (...args: string[]) => run(process.execPath, [join(root, 'node_modules', '@apify', 'mcpc', 'bin', 'mcpc'), ...args], env);
  const session = '@matrix';
  try {
    const login = await cli('login', dev.stack.mcpUrl);
    check(login.code === 0, `${label}: its own OAuth flow (mcpc login)`, login.code === 0 ? '' : lastLines(`${login.stdout}\n${login.stderr}`));
    // mcpc's callback is http://localhost:<port>/callback, the port chosen at run time.
    checkCallback(home, 'mcpc', advertisedIssuer, (url) => url.hostname === 'localhost' && url.pathname === '/callback');
    // mcpc gives its session's bridge process 5 s to start, which a loaded machine can exceed
    // ("Bridge failed to start"); a person would run connect again, and so does this.
    let connect = await cli('connect', dev.stack.mcpUrl, session);
    for (let attempt = 2; attempt <= 3 && connect.code !== 0 && /Bridge failed to start/.test(connect.stderr); attempt += 1) {
      connect = await cli('connect', dev.stack.mcpUrl, session);
    }
    check(connect.code === 0, `${label}: a session with the saved profile (mcpc connect)`, connect.code === 0 ? '' : lastLines(`${connect.stdout}\n${connect.stderr}`));

    const list = await cli('--json', session, 'tools-list');
    let tools: string[] = [];
    try {
      tools = (JSON.parse(list.stdout) as Array<{ name: string }>).map((tool) => tool.name);
    } catch {
      // reported below
    }
    check(list.code === 0 && tools.includes('web_search'), `${label}: tools-list`, list.code === 0 ? tools.join(', ') : lastLines(list.stderr));

    const before = tavily.requests.length;
    const call = await cli('--json', session, 'tools-call', 'web_search', 'query:=mcpc oauth', 'max_results:=2');
    let result: any;
    try {
      result = JSON.parse(call.stdout);
    } catch {
      // reported below
    }
    check(
      call.code === 0 && result?.isError !== true && result?.structuredContent?.results?.length === 2 && JSON.stringify(result.content).includes('mcpc oauth'),
      `${label}: tools-call web_search answered by the fake Tavily`,
      call.code === 0 ? `${result?.structuredContent?.results?.length ?? 0} results` : lastLines(call.stderr),
    );
    check(tavily.requests.length === before + 1 && tavily.requests.at(-1)?.headers.authorization === `Bearer ${tavily.apiKey}`, 'mcpc: Tavily got the server key, not the client token');
  } finally {
    // The session's bridge process ends with the session.
    await cli('close', session);
    rmSync(home, { recursive: true, force: true });
  }
}

/** The Python MCP SDK's own OAuth providers, through scripts/matrix-python-client.py, in the .venv virtualenv. */
async function pythonSdk(dev: DevStack, tavily: FakeTavily, advertisedIssuer: string) {
  const label = `Python MCP SDK ${PYTHON_SDK_VERSION}`;
  if (!existsSync(PYTHON)) {
    check(false, label, `no interpreter at ${PYTHON}: python3 -m venv .venv && .venv/bin/pip install -r scripts/matrix-requirements.txt (.ci/run does this), or set MATRIX_PYTHON`);
    return;
  }
  const flows: Array<{ flow: string; args: string[]; what: string }> = [
    { flow: 'authorization_code', args: [BROWSER_STAND_IN], what: 'authorization code with PKCE (DCR, its RFC 9207 check)' },
    {
      flow: 'client_credentials',
      args: [dev.devAuthorizationServer!.clientId, dev.devAuthorizationServer!.clientSecret, advertisedIssuer],
      what: 'client credentials',
    },
  ];
  for (const { flow, args, what } of flows) {
    const home = mkdtempSync(join(tmpdir(), 'matrix-python-'));
    try {
      const before = tavily.requests.length;
      const ran = await run(PYTHON, [PYTHON_CLIENT, flow, dev.stack.mcpUrl, ...args], { ...headlessEnvironment(home), MATRIX_NODE: process.execPath });
      let outcome: any;
      try {
        outcome = JSON.parse(ran.stdout.trim().split('\n').at(-1) ?? '');
      } catch {
        // reported below
      }
      check(outcome?.sdk === PYTHON_SDK_VERSION, `${label}: the pinned version runs`, outcome?.sdk ?? lastLines(ran.stderr, 12));
      check(
        ran.code === 0 && outcome?.tools?.includes('web_search'),
        `${label}: ${what}, then tools/list`,
        ran.code === 0 ? `${outcome?.protocolVersion}: ${outcome?.tools?.join(', ')}` : lastLines(ran.stderr, 12),
      );
      if (flow === 'authorization_code') checkCallback(home, 'Python SDK', advertisedIssuer, (url) => Boolean(outcome?.redirectUri) && url.href.startsWith(outcome.redirectUri));
      check(
        outcome?.isError === false && outcome?.results === 2 && String(outcome?.text).includes(`python sdk ${flow}`),
        `${label} (${flow}): tools/call web_search answered by the fake Tavily`,
        `${outcome?.results ?? 0} results`,
      );
      check(tavily.requests.length === before + 1 && tavily.requests.at(-1)?.headers.authorization === `Bearer ${tavily.apiKey}`, `Python SDK (${flow}): Tavily got the server key, not the client token`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }
}

/** What runs, pinned where, printed before anything runs; an installed version that is not the pin fails. */
async function printVersions() {
  const python = existsSync(PYTHON) ? await run(PYTHON, ['-c', 'import importlib.metadata as m, sys; print(m.version("mcp"), sys.version.split()[0])'], process.env) : undefined;
  const [pythonSdkInstalled, pythonVersion] = python?.code === 0 ? python.stdout.trim().split(' ') : [];
  const rows = [
    ['Node (stack and clients)', process.versions.node, 'npm ci (node-<platform>-<arch>, package.json)'],
    ['MCP Inspector', INSPECTOR_VERSION, 'npx, pinned in scripts/pinned-clients.ts'],
    ['mcp-remote', MCP_REMOTE.installed ?? 'not installed', `devDependency ${MCP_REMOTE.pinned}`],
    ['mcpc (@apify/mcpc)', MCPC.installed ?? 'not installed', `devDependency ${MCPC.pinned}`],
    ['Python MCP SDK (mcp)', pythonSdkInstalled ?? 'not installed', `scripts/matrix-requirements.txt ${PYTHON_SDK_VERSION}, Python ${pythonVersion ?? '?'} at ${PYTHON}`],
  ];
  const width = Math.max(...rows.map(([name]) => name!.length));
  process.stdout.write(`Client matrix, versions:\n${rows.map(([name, version, where]) => `  ${name!.padEnd(width)}  ${version}  (${where})`).join('\n')}\n\n`);
  check(MCP_REMOTE.installed === MCP_REMOTE.pinned && MCPC.installed === MCPC.pinned, 'the npm clients installed are the pinned versions');
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
    const clients = { inspector, 'mcp-remote': mcpRemote, mcpc, python: pythonSdk };
    const unknown = only.filter((name) => !(name in clients));
    if (unknown.length > 0) check(false, `unknown client ${unknown.join(', ')}`, `choose among ${Object.keys(clients).join(', ')}`);
    else {
      await printVersions();
      for (const [name, client] of Object.entries(clients)) {
        if (only.length === 0 || only.includes(name)) await client(dev, tavily, advertisedIssuer);
      }
    }
  } catch (error) {
    check(false, 'client matrix', (error as Error).message);
  } finally {
    await dev.close();
    await tavily.close();
  }
  process.exit(failed ? 1 : 0);
}

void main();
