/**
 * `npm run doctor` against the local stack: healthy, every step passes; with
 * one fault injected, the step that owns it fails and says what to fix.
 * Faults: a resource identifier on another origin, the authorization server
 * gone, a token without a scope the server requires, and a URL that is no MCP
 * server at all.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDevAuthorizationServer, type DevAuthorizationServer } from '../../local/dev-authorization-server.js';
import { startDevStack, type DevStack } from '../../local/dev-stack.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { runDoctor } from '../../scripts/doctor/doctor.js';
import { createHttpClient } from '../../scripts/doctor/http.js';
import { authorizationServerMetadataUrls } from '../../scripts/doctor/steps/authorization-server.js';
import { checkTasksDiscovery } from '../../scripts/doctor/steps/token-and-tools.js';
import { resolveTarget } from '../../scripts/doctor/target.js';
import { main, type CliStreams } from '../../scripts/doctor/cli.js';
import { formatReport, type CheckResult, type DoctorReport } from '../../scripts/doctor/report.js';
import { parseWwwAuthenticate } from '../../scripts/doctor/www-authenticate.js';
import { startFakeTavily, type FakeTavily } from '../fixtures/fake-tavily.js';

const LOOPBACK = { port: 0, devAuthPort: 0, hosts: ['127.0.0.1'], publicHost: '127.0.0.1', onLog: () => undefined } as const;

let tavily: FakeTavily;

beforeAll(async () => {
  tavily = await startFakeTavily();
});

afterAll(async () => {
  await tavily?.close();
});

function startStack(environment: Record<string, string> = {}): Promise<DevStack> {
  return startDevStack({ TAVILY_API_KEY: tavily.apiKey, TAVILY_API_BASE_URL: tavily.url, ...environment }, LOOPBACK);
}

const problems = (report: DoctorReport) => report.checks.filter((check) => check.status === 'fail' || check.status === 'blocked');
const firstProblem = (report: DoctorReport) => problems(report)[0];
const byId = (report: DoctorReport, id: string) => report.checks.find((check) => check.id === id);

/** A failure names what went wrong and comes with a fix that names something to change. */
function expectActionableFailure(check: CheckResult | undefined, step: number, id: string) {
  expect(check).toBeDefined();
  expect(check).toMatchObject({ step, id, status: 'fail' });
  expect(check!.fix).toEqual(expect.any(String));
  expect(check!.fix!.length).toBeGreaterThan(20);
}

function captureStreams(): CliStreams & { out: () => string } {
  let text = '';
  const sink = { write: (chunk: string) => void (text += chunk) };
  return { stdout: sink, stderr: sink, out: () => text };
}

describe('a healthy stack', () => {
  let dev: DevStack;

  beforeAll(async () => {
    dev = await startStack();
  });

  afterAll(async () => {
    await dev?.close();
  });

  test('every step passes, through tools/list with the M2M client', async () => {
    const { clientId, clientSecret } = dev.devAuthorizationServer!;
    const report = await runDoctor({ url: dev.stack.baseUrl, clientId, clientSecret });

    expect(problems(report)).toEqual([]);
    expect(report.checks.filter((check) => check.status === 'warn')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(new Set(report.checks.map((check) => check.step))).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(report.discovered).toMatchObject({
      resource: dev.stack.mcpUrl,
      authorizationServer: `${dev.devAuthorizationServer!.url}/resources/res_dev`,
      jwksUri: `${dev.devAuthorizationServer!.url}/keys`,
      requiredScopes: ['web-search:read'],
      tools: expect.arrayContaining(['web_search', 'web_extract', 'web_map', 'web_research', 'web_research_result']),
    });
    // Last of step 5: 2026-07-28 discovery advertises the tasks extension.
    expect(byId(report, 'tasks')).toMatchObject({ step: 5, status: 'pass', summary: expect.stringContaining('io.modelcontextprotocol/tasks') });
    const checkLines = formatReport(report)
      .split('\n')
      .filter((line) => /^[✓✗]/.test(line));
    expect(checkLines).toHaveLength(report.checks.length);
    expect(checkLines.every((line) => line.startsWith('✓ '))).toBe(true);
  });

  test('--sign-in runs a whole authorization-code flow, checking iss as RFC 9207 clients do', async () => {
    const report = await runDoctor({ url: dev.stack.baseUrl, signIn: true });
    expect(problems(report)).toEqual([]);
    expect(byId(report, 'sign-in.iss')).toMatchObject({ step: 6, status: 'pass' });
    expect(report.checks.filter((check) => check.step === 6).map((check) => check.status)).toEqual(['pass', 'pass', 'pass']);
  });

  test('the MCP URL itself works as well as the base URL', async () => {
    const report = await runDoctor({ url: `${dev.stack.mcpUrl}/` });
    expect(report.target.mcpUrl).toBe(dev.stack.mcpUrl);
    expect(report.ok).toBe(true);
    expect(report.notRun).toMatch(/--client-id/);
  });

  test('the command line exits 0 and prints neither the secret, the client id nor a token', async () => {
    const { clientId, clientSecret } = dev.devAuthorizationServer!;
    for (const format of [[], ['--json']]) {
      const streams = captureStreams();
      const status = await main([dev.stack.baseUrl, '--client-id', clientId, '--client-secret', clientSecret, ...format], streams);
      const output = streams.out();
      expect(status).toBe(0);
      expect(output).toContain('web_search');
      expect(output).toContain(clientId.slice(0, 8));
      expect(output).not.toContain(clientSecret);
      expect(output).not.toContain(clientId);
      expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // a JWT's header
      if (format.length > 0) expect(JSON.parse(output)).toMatchObject({ ok: true });
    }
  });

  test('a wrong secret fails the token step, exits 1, and is not printed either', async () => {
    const streams = captureStreams();
    const wrongSecret = 'not-the-dev-m2m-secret';
    const status = await main([dev.stack.baseUrl, '--client-id', dev.devAuthorizationServer!.clientId, '--client-secret', wrongSecret], streams);
    expect(status).toBe(1);
    expect(streams.out()).toMatch(/✗ 5\. the token endpoint refused client_credentials: invalid_client/);
    expect(streams.out()).toMatch(/\n {4}fix: Check --client-id and --client-secret/);
    expect(streams.out()).not.toContain(wrongSecret);
  });

  test('asking for a scope the authorization server does not know yields a token without the required one', async () => {
    // oidc-provider, like many servers, drops an unknown scope instead of refusing the request.
    const { clientId, clientSecret } = dev.devAuthorizationServer!;
    const report = await runDoctor({ url: dev.stack.baseUrl, clientId, clientSecret, scope: 'web-search:admin' });
    expect(byId(report, 'token')?.status).toBe('pass');
    const failure = firstProblem(report);
    expectActionableFailure(failure, 5, 'token.scope');
    expect(failure!.summary).toContain('"web-search:read"');
    expect(failure!.fix).toContain('--scope asked only for "web-search:admin": ask for "web-search:read"');
    expect(byId(report, 'tools')?.status).toBe('fail');
  });

  test('a command line without a URL is a usage error', async () => {
    const streams = captureStreams();
    expect(await main([], streams)).toBe(2);
    expect(streams.out()).toContain('Usage: npm run doctor');
  });
});

describe('fault: the resource identifier is on another origin', () => {
  let dev: DevStack;

  beforeAll(async () => {
    dev = await startStack({ RESOURCE_IDENTIFIER: 'http://127.0.0.1:1/web-search/mcp' });
  });

  afterAll(async () => {
    await dev?.close();
  });

  test('step 2 refuses the metadata as the MCP SDK client would, and says to set RESOURCE_IDENTIFIER', async () => {
    const { clientId, clientSecret } = dev.devAuthorizationServer!;
    const report = await runDoctor({ url: dev.stack.baseUrl, clientId, clientSecret });

    expect(byId(report, 'challenge')?.status).toBe('pass');
    expect(problems(report)).toHaveLength(1);
    const failure = firstProblem(report);
    expectActionableFailure(failure, 2, 'resource-metadata.resource');
    expect(failure!.summary).toContain('http://127.0.0.1:1/web-search/mcp');
    expect(failure!.fix).toContain(`RESOURCE_IDENTIFIER to ${dev.stack.mcpUrl}`);
    expect(failure!.fix).toContain('Server URL');
    expect(report.ok).toBe(false);
  });
});

describe('fault: the authorization server is down', () => {
  let stack: LocalStack;
  let authorizationServer: DevAuthorizationServer;
  const m2mClient = { clientId: 'doctor-m2m-client', clientSecret: 'doctor-m2m-secret' };

  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      hosts: ['127.0.0.1'],
      publicHost: '127.0.0.1',
      authorizationServer: async ({ resourceIdentifier, scopes }) => {
        authorizationServer = await startDevAuthorizationServer({ publicHost: '127.0.0.1', scopes, defaultResource: resourceIdentifier, m2mClient });
        return { environmentUrl: authorizationServer.environmentUrl, resourceId: authorizationServer.resourceId, close: () => authorizationServer.close() };
      },
      tavilyApiKey: tavily.apiKey,
      tavilyApiBaseUrl: tavily.url,
      onLog: () => undefined,
    });
    await authorizationServer.close();
  });

  afterAll(async () => {
    await stack?.close();
  });

  test('step 3 cannot reach it, says so, and the token step is not attempted', async () => {
    const report = await runDoctor({ url: stack.baseUrl, ...m2mClient });

    expect(report.checks.filter((check) => check.step <= 2 && check.status !== 'pass')).toEqual([]);
    const failure = firstProblem(report);
    expectActionableFailure(failure, 3, 'authorization-server');
    expect(failure!.summary).toContain('connection refused');
    expect(failure!.summary).toContain(authorizationServer.authorizationServerUrl);
    expect(failure!.fix).toContain('not running');
    expect(failure!.fix).toContain('SCALEKIT_ENVIRONMENT_URL');
    expect(byId(report, 'signing-keys')?.status).toBe('fail');
    expect(byId(report, 'token')?.status).toBe('blocked');
    expect(report.ok).toBe(false);
  });
});

describe('fault: the token lacks a scope the server requires', () => {
  let dev: DevStack;

  beforeAll(async () => {
    dev = await startStack({ REQUIRED_SCOPES: 'web-search:read web-search:admin' });
  });

  afterAll(async () => {
    await dev?.close();
  });

  test('the scope check in step 5 names the missing scope, and tools/list gets 403', async () => {
    const { clientId, clientSecret } = dev.devAuthorizationServer!;
    const report = await runDoctor({ url: dev.stack.baseUrl, clientId, clientSecret, scope: 'web-search:read' });

    expect(byId(report, 'challenge')?.summary).toContain('"web-search:read web-search:admin"');
    expect(byId(report, 'token')?.status).toBe('pass');
    const failure = firstProblem(report);
    expectActionableFailure(failure, 5, 'token.scope');
    expect(failure!.summary).toContain('"web-search:admin"');
    expect(failure!.fix).toContain('--scope asked only for "web-search:read"');
    expect(failure!.fix).toContain('REQUIRED_SCOPES');
    const tools = byId(report, 'tools');
    expectActionableFailure(tools, 5, 'tools');
    expect(tools!.summary).toContain('403');
  });
});

describe('fault: the URL is not an MCP server', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/html' });
      res.end('<h1>Not Found</h1>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('step 1 reports the 404 and where the MCP endpoint should be; later steps are not checked', async () => {
    const report = await runDoctor({ url });

    const failure = firstProblem(report);
    expectActionableFailure(failure, 1, 'challenge');
    expect(failure!.summary).toContain('HTTP 404');
    expect(failure!.fix).toContain('/web-search/mcp');
    expect(byId(report, 'resource-metadata')?.status).toBe('fail');
    expect(byId(report, 'authorization-server')?.status).toBe('blocked');
    expect(byId(report, 'signing-keys')?.status).toBe('blocked');

    const streams = captureStreams();
    expect(await main([url], streams)).toBe(1);
    expect(streams.out()).toMatch(/^✗ 1\. POST .* HTTP 404/m);
    expect(streams.out()).toMatch(/^ {4}fix: /m);
  });
});

describe('what API Gateway gets wrong, as a scripted server on loopback', () => {
  let server: Server;
  let url: string;
  let answer: RequestListener;

  beforeAll(async () => {
    server = createServer((req, res) => answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const json = (status: number, body: unknown, headers: Record<string, string> = {}): RequestListener => (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  test('200 without a token: no authorizer in front of the MCP function', async () => {
    answer = json(200, { jsonrpc: '2.0', id: 1, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'x', version: '1' } } });
    const failure = firstProblem(await runDoctor({ url }));
    expectActionableFailure(failure, 1, 'challenge');
    expect(failure!.summary).toContain('no authorizer');
    expect(failure!.fix).toContain('Method request → Authorization');
  });

  test('a challenge renamed to x-amzn-Remapped-WWW-Authenticate is caught, and discovery carries on with it', async () => {
    answer = (req, res) => {
      if (req.method === 'POST') {
        json(401, { message: 'Unauthorized' }, { 'x-amzn-Remapped-WWW-Authenticate': `Bearer resource_metadata="${url}/.well-known/oauth-protected-resource/web-search/mcp", scope="web-search:read"` })(req, res);
      } else {
        json(404, { message: 'Not Found' })(req, res);
      }
    };
    const report = await runDoctor({ url });
    const failure = firstProblem(report);
    expectActionableFailure(failure, 1, 'challenge');
    expect(failure!.summary).toContain('x-amzn-Remapped-WWW-Authenticate');
    expect(failure!.fix).toContain('UNAUTHORIZED gateway response');
    expect(report.discovered.requiredScopes).toEqual(['web-search:read']);
    expect(byId(report, 'resource-metadata')?.summary).toContain("the challenge's resource_metadata does not answer");
  });

  test("API Gateway's own 403 Missing Authentication Token: wrong path or stage", async () => {
    answer = json(403, { message: 'Missing Authentication Token' });
    const failure = firstProblem(await runDoctor({ url: `${url}/dev` }));
    expectActionableFailure(failure, 1, 'challenge');
    expect(failure!.summary).toContain('Missing Authentication Token');
    expect(failure!.fix).toContain('McpUrl output');
  });

  test('a server that never answers is reported as such once the timeout passes', async () => {
    answer = () => undefined;
    const failure = firstProblem(await runDoctor({ url, timeoutMs: 300 }));
    expectActionableFailure(failure, 1, 'challenge');
    expect(failure!.summary).toContain('did not answer within 0.3 s');
  });
});

describe('the pure parts', () => {
  test('a base URL, an MCP URL and a stage prefix all resolve to one MCP endpoint', () => {
    expect(resolveTarget('https://api.example.com')).toMatchObject({ mcpUrl: 'https://api.example.com/web-search/mcp', baseUrl: 'https://api.example.com' });
    expect(resolveTarget('https://abc.execute-api.eu-west-1.amazonaws.com/prod/web-search/mcp/')).toMatchObject({
      mcpUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/web-search/mcp',
      baseUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/prod',
    });
    expect(() => resolveTarget('localhost:10000')).toThrow(/http/);
  });

  test('authorization server metadata URLs: the MCP SDK order, then the path-appended form Scalekit documents', () => {
    expect(authorizationServerMetadataUrls('https://acme.scalekit.dev/resources/res_1').map(({ url, triedBySdk }) => [url, triedBySdk])).toEqual([
      ['https://acme.scalekit.dev/.well-known/oauth-authorization-server/resources/res_1', true],
      ['https://acme.scalekit.dev/.well-known/openid-configuration/resources/res_1', true],
      ['https://acme.scalekit.dev/resources/res_1/.well-known/openid-configuration', true],
      ['https://acme.scalekit.dev/resources/res_1/.well-known/oauth-authorization-server', false],
    ]);
  });

  test('WWW-Authenticate: several challenges, quoted and bare values, token68, and garbage', () => {
    expect(parseWwwAuthenticate('Basic realm="a, b", Bearer error=insufficient_scope, scope="x y", resource_metadata="https://h/p"')).toEqual([
      { scheme: 'Basic', params: { realm: 'a, b' } },
      { scheme: 'Bearer', params: { error: 'insufficient_scope', scope: 'x y', resource_metadata: 'https://h/p' } },
    ]);
    expect(parseWwwAuthenticate('Negotiate abc==')).toEqual([{ scheme: 'Negotiate', params: {}, token68: 'abc==' }]);
    expect(parseWwwAuthenticate('Bearer "unquoted start')).toBeUndefined();
  });
});

describe('the tasks extension check', () => {
  /** A stand-in MCP endpoint whose server/discover advertises these capabilities. */
  async function discoverAnswering(capabilities: Record<string, unknown>) {
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { supportedVersions: ['2026-07-28'], capabilities, resultType: 'complete' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  test('fails, saying what clients lose and what to do, when 2026-07-28 discovery does not advertise it', async () => {
    const without = await discoverAnswering({ tools: { listChanged: false } });
    const withIt = await discoverAnswering({ tools: { listChanged: false }, extensions: { 'io.modelcontextprotocol/tasks': {} } });
    try {
      const failed = await checkTasksDiscovery(createHttpClient(), resolveTarget(without.url), 'token');
      expectActionableFailure(failed, 5, 'tasks');
      expect(failed.summary).toMatch(/does not advertise io\.modelcontextprotocol\/tasks/);
      expect(failed.fix).toMatch(/redeploy/);
      expect(await checkTasksDiscovery(createHttpClient(), resolveTarget(withIt.url), 'token')).toMatchObject({ status: 'pass' });
    } finally {
      without.server.close();
      withIt.server.close();
    }
  });
});
