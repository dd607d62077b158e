/**
 * Long work through the whole local stack (gateway, authorizer, the MCP
 * function's bundle in its Lambda instance, dynalite, the fake Tavily), in raw
 * HTTP: 2026-07-28 requests built by hand from the tasks extension's schema,
 * and 2025-11-25 requests beside them.
 *
 * - A client that declares `io.modelcontextprotocol/tasks` gets a task from
 *   web_research, polls tasks/get to the report, can cancel, sees a failed
 *   research as a completed task with an error result; tasks/update is refused.
 * - Any other client gets the report within the call, or a research_id and
 *   web_research_result; it never gets a task, and its tasks/* get -32021.
 * - Another caller's task id is answered exactly as an unknown one.
 * - Credits: the worst case is reserved, over budget is refused by name with
 *   no Tavily call, and a finished research settles to what it cost.
 * - A task outlives the stack: stopped after creation and started again on
 *   the same store, it is polled to its report.
 *
 * Research here never depends on time: the fake Tavily finishes a research
 * when told (or after a number of looks), and the functions wait at most
 * RESEARCH_WAIT_SECONDS=1 before answering that it is still running.
 */
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { startLocalUsageStore, type LocalUsageStore } from '../../local/usage-store-server.js';
import { TASK_NOT_FOUND_MESSAGE, TASK_UPDATE_MESSAGE, TASKS_EXTENSION } from '../../lambda/mcp/tasks/task-methods.js';
import { POLL_INTERVAL_MS } from '../../lambda/mcp/tasks/research-tasks.js';
import { RESEARCH_NOT_FOUND_MESSAGE } from '../../lambda/mcp/tools/web-research-result.js';
import { DEFAULT_TASK_TTL_SECONDS } from '../../lambda/shared/settings.js';
import { startFakeTavily, type FakeTavily } from '../fixtures/fake-tavily.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';
import { startTokenIssuer, type TokenIssuer } from '../fixtures/token-issuer.js';

const MODERN = '2026-07-28';
const LEGACY = '2025-11-25';
const WAITS_ONE_SECOND = { RESEARCH_WAIT_SECONDS: '1' };
const MALLORY = { sub: 'usr_mallory', client_id: 'skc_client_mallory' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One caller's raw MCP requests to one stack. */
function clientOf(stack: () => LocalStack, token: () => string) {
  async function post(body: unknown, headers: Record<string, string | undefined>) {
    const all: Record<string, string> = { Authorization: `Bearer ${token()}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) delete all[name];
      else all[name] = value;
    }
    const response = await fetch(stack().mcpUrl, { method: 'POST', headers: all, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { result?: any; error?: any } };
  }
  /** A 2026-07-28 request, its envelope declaring the tasks extension or not, with the headers the spec wants. */
  function modern(method: string, params: Record<string, unknown>, options: { tasks?: boolean; headers?: Record<string, string | undefined> } = {}) {
    const capabilities = options.tasks === false ? {} : { extensions: { [TASKS_EXTENSION]: {} } };
    const name = method === 'tools/call' ? params.name : params.taskId;
    const headers = { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': method, ...(typeof name === 'string' ? { 'Mcp-Name': name } : {}), ...options.headers };
    const _meta = {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientCapabilities': capabilities,
      'io.modelcontextprotocol/clientInfo': { name: 'raw-tasks-client', version: '1.0.0' },
    };
    return post({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta } }, headers);
  }
  const legacy = (method: string, params: Record<string, unknown>) => post({ jsonrpc: '2.0', id: 1, method, params }, { 'MCP-Protocol-Version': LEGACY });
  return {
    modern,
    legacy,
    research: (args: Record<string, unknown>, tasks = true) => modern('tools/call', { name: 'web_research', arguments: args }, { tasks }),
    get: (taskId: string) => modern('tasks/get', { taskId }),
    cancel: (taskId: string) => modern('tasks/cancel', { taskId }),
    /** tasks/get until the task leaves `working` (each poll may look at Tavily once a second at most). */
    async untilDone(taskId: string) {
      for (let poll = 0; poll < 40; poll++) {
        const { body } = await modern('tasks/get', { taskId });
        if (body.result?.status !== 'working') return body;
        await sleep(300);
      }
      throw new Error(`task ${taskId} still working after 40 polls`);
    },
  };
}

describe('2026-07-28 with the tasks extension, and every other client', () => {
  let running: TestStack;
  let alice: ReturnType<typeof clientOf>;
  let mallory: ReturnType<typeof clientOf>;
  let aliceToken: string;
  let malloryToken: string;

  beforeAll(async () => {
    running = await startTestStack({ stack: { extraEnvironment: WAITS_ONE_SECOND } });
    aliceToken = await running.issuer.mint({ expiresInSeconds: 900 });
    malloryToken = await running.issuer.mint({ expiresInSeconds: 900, claims: MALLORY });
    alice = clientOf(() => running.stack, () => aliceToken);
    mallory = clientOf(() => running.stack, () => malloryToken);
  });
  afterAll(() => running?.close());
  beforeEach(() => running.tavily.reset());

  const researchPosts = () => running.tavily.requests.filter((request) => request.endpoint === 'research').length;
  const statusChecks = () => running.tavily.requests.filter((request) => request.method === 'GET').length;

  test('server/discover advertises the extension; the 2025 handshake does not', async () => {
    const discover = await alice.modern('server/discover', {});
    expect(discover.body.result.capabilities).toEqual({ tools: { listChanged: false }, extensions: { [TASKS_EXTENSION]: {} } });
    const initialize = await alice.legacy('initialize', { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'legacy', version: '1' } });
    expect(initialize.body.result.capabilities).toEqual({ tools: { listChanged: false } });
  });

  test('a task: created only once stored, polled while working, completed with the report; a finished one is kept', async () => {
    running.tavily.planResearch({ runningChecks: 'held', content: 'MCP tasks let a server answer later [1].' });
    const created = await alice.research({ input: 'How do MCP tasks work?', model: 'mini' });
    expect(created.status).toBe(200);
    const task = created.body.result;
    expect(task).toEqual({
      resultType: 'task',
      taskId: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
      status: 'working',
      statusMessage: 'Tavily is researching (model "mini").',
      createdAt: expect.any(String),
      lastUpdatedAt: expect.any(String),
      ttlMs: DEFAULT_TASK_TTL_SECONDS * 1000,
      pollIntervalMs: POLL_INTERVAL_MS,
      _meta: { 'io.modelcontextprotocol/serverInfo': expect.objectContaining({ name: 'web-search-mcp' }) },
    });
    expect(Date.parse(task.createdAt)).not.toBeNaN();
    // The research was started once, with the server's key, and not waited for.
    expect(researchPosts()).toBe(1);
    expect(running.tavily.requests[0]!.headers.authorization).toBe(`Bearer ${running.tavily.apiKey}`);

    // Found at once (it was stored before the handle was given), still working.
    const first = await alice.get(task.taskId);
    expect(first.body.result).toMatchObject({ resultType: 'complete', taskId: task.taskId, status: 'working', pollIntervalMs: POLL_INTERVAL_MS });
    expect(first.body.result.result).toBeUndefined();

    running.tavily.researches[0]!.finish();
    const done = await alice.untilDone(task.taskId);
    expect(done.result).toMatchObject({ resultType: 'complete', taskId: task.taskId, status: 'completed', statusMessage: 'The report is ready.' });
    expect(done.result.pollIntervalMs).toBeUndefined();
    const result = done.result.result;
    expect(result.isError).toBeUndefined();
    expect(result.content[0].text).toContain('MCP tasks let a server answer later [1].');
    expect(result.content[0].text).toContain('<page-content>');
    expect(result.structuredContent).toMatchObject({ research_id: task.taskId, status: 'completed', model: 'mini', report: 'MCP tasks let a server answer later [1].' });

    const checks = statusChecks();
    const again = await alice.get(task.taskId);
    expect(again.body.result.result).toEqual(result);
    expect(statusChecks()).toBe(checks);
  });

  test('cancelling: acknowledged with an empty result; the task ends cancelled and Tavily is not asked again', async () => {
    running.tavily.planResearch({ runningChecks: 'held' });
    const { taskId } = (await alice.research({ input: 'Something to cancel', model: 'pro' })).body.result;
    const cancelled = await alice.cancel(taskId);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.result).toEqual({ resultType: 'complete', _meta: expect.any(Object) });
    running.tavily.researches[0]!.finish();
    const checks = statusChecks();
    const after = await alice.get(taskId);
    expect(after.body.result).toMatchObject({ status: 'cancelled', taskId });
    expect(after.body.result.result).toBeUndefined();
    expect(statusChecks()).toBe(checks);
    // Cancelling again, or a finished task, is still acknowledged.
    expect((await alice.cancel(taskId)).body.result.resultType).toBe('complete');
  });

  test('a research Tavily fails is a completed task whose result is an error, not a failed task', async () => {
    running.tavily.planResearch({ outcome: 'failed' });
    const { taskId } = (await alice.research({ input: 'Doomed', model: 'mini' })).body.result;
    const done = await alice.untilDone(taskId);
    expect(done.result.status).toBe('completed');
    expect(done.result.result).toEqual({ content: [{ type: 'text', text: expect.stringMatching(/^Tavily's research did not produce a report/) }], isError: true });
  });

  test('tasks/update is refused: no task here asks for input', async () => {
    running.tavily.planResearch({ runningChecks: 'held' });
    const { taskId } = (await alice.research({ input: 'q', model: 'mini' })).body.result;
    const update = await alice.modern('tasks/update', { taskId, inputResponses: {} });
    expect(update.body.error).toEqual({ code: -32602, message: TASK_UPDATE_MESSAGE });
  });

  test("another caller's task id is answered exactly as an unknown one, by tasks/get, tasks/cancel and web_research_result", async () => {
    running.tavily.planResearch({ runningChecks: 'held' });
    const { taskId } = (await alice.research({ input: "Alice's question", model: 'mini' })).body.result;
    const unknown = 'AAAAAAAAAAAAAAAAAAAAAAAA';
    for (const method of ['tasks/get', 'tasks/cancel'] as const) {
      const theirs = await mallory.modern(method, { taskId });
      const nobodys = await mallory.modern(method, { taskId: unknown });
      expect(theirs).toEqual({ status: 200, body: { jsonrpc: '2.0', id: 1, error: { code: -32602, message: TASK_NOT_FOUND_MESSAGE } } });
      expect(nobodys).toEqual(theirs);
    }
    const read = await mallory.modern('tools/call', { name: 'web_research_result', arguments: { research_id: taskId } }, { tasks: false });
    const readUnknown = await mallory.modern('tools/call', { name: 'web_research_result', arguments: { research_id: unknown } }, { tasks: false });
    expect(read.body.result).toMatchObject({ isError: true, content: [{ type: 'text', text: RESEARCH_NOT_FOUND_MESSAGE }] });
    expect(readUnknown.body.result.content).toEqual(read.body.result.content);
    // Mallory's cancel changed nothing of Alice's.
    expect((await alice.get(taskId)).body.result.status).toBe('working');
    expect(running.logs.join('\n')).not.toContain(taskId.slice(4));
  });

  test('Mcp-Name must equal params.taskId: missing or different, 400 with -32020 from the SDK, before any look at the task', async () => {
    running.tavily.planResearch({ runningChecks: 'held' });
    const { taskId } = (await alice.research({ input: 'q', model: 'mini' })).body.result;
    const checks = statusChecks();
    for (const headers of [{ 'Mcp-Name': undefined }, { 'Mcp-Name': 'AAAAAAAAAAAAAAAAAAAAAAAA' }]) {
      for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
        const refused = await alice.modern(method, { taskId, inputResponses: {} }, { headers });
        expect([method, refused.status, refused.body.error?.code]).toEqual([method, 400, -32020]);
      }
    }
    expect(statusChecks()).toBe(checks);
    expect((await alice.get(taskId)).body.result.status).toBe('working');
  });

  test('a 2026-07-28 client without the extension never gets a task: the report within the call, and -32021 for tasks/*', async () => {
    running.tavily.planResearch({ runningChecks: 0, content: 'Quick report.' });
    const answered = await alice.research({ input: 'A quick one', model: 'mini' }, false);
    expect(answered.body.result.resultType).toBe('complete');
    expect(answered.body.result.structuredContent).toMatchObject({ status: 'completed', report: 'Quick report.' });
    const { research_id: researchId } = answered.body.result.structuredContent;
    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/update']) {
      const refused = await alice.modern(method, { taskId: researchId, inputResponses: {} }, { tasks: false });
      expect(refused.body.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } } });
    }
    // Nor may it listen for task status notifications.
    const listen = await alice.modern('subscriptions/listen', { notifications: { taskIds: [researchId] } }, { tasks: false });
    expect([listen.status, listen.body.error]).toMatchObject([400, { code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } } }]);
  });

  test('subscriptions/listen for task notifications is refused only when the extension is not declared', async () => {
    const listen = (tasks: boolean) =>
      fetch(running.stack.mcpUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${aliceToken}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'subscriptions/listen' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'subscriptions/listen',
          params: {
            notifications: { taskIds: ['unknown'] },
            _meta: {
              'io.modelcontextprotocol/protocolVersion': MODERN,
              'io.modelcontextprotocol/clientCapabilities': tasks ? { extensions: { [TASKS_EXTENSION]: {} } } : {},
              'io.modelcontextprotocol/clientInfo': { name: 'raw-tasks-client', version: '1.0.0' },
            },
          },
        }),
      }).then(async (response) => ({ status: response.status, text: await response.text() }));
    const refused = await listen(false);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text)).toMatchObject({ id: 7, error: { code: -32021 } });
    const declared = await listen(true);
    expect(declared.text).not.toContain('-32021');
  });

  test('every other client (2025-11-25): a slow research answers "still running" with a research_id, then web_research_result gives the report', async () => {
    running.tavily.planResearch({ runningChecks: 'held', content: 'The slow report.' });
    const call = await alice.legacy('tools/call', { name: 'web_research', arguments: { input: 'A slow one', model: 'pro' } });
    const running_ = call.body.result;
    expect(running_.isError).toBeUndefined();
    expect(running_.structuredContent).toMatchObject({ status: 'running', research_id: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/), check_again_in_seconds: expect.any(Number) });
    const researchId = running_.structuredContent.research_id;
    expect(running_.content[0].text).toContain(`Call web_research_result with research_id "${researchId}" in about`);
    expect(researchPosts()).toBe(1);

    const stillRunning = await alice.legacy('tools/call', { name: 'web_research_result', arguments: { research_id: researchId } });
    expect(stillRunning.body.result.structuredContent).toMatchObject({ status: 'running', research_id: researchId });

    running.tavily.researches[0]!.finish();
    const report = await alice.legacy('tools/call', { name: 'web_research_result', arguments: { research_id: researchId } });
    expect(report.body.result.structuredContent).toMatchObject({ status: 'completed', research_id: researchId, report: 'The slow report.' });
    expect(report.body.result.content[0].text).toContain('The slow report.');
    // No research was started twice, and the 2025 client's tasks/* get -32021.
    expect(researchPosts()).toBe(1);
    const legacyGet = await alice.legacy('tasks/get', { taskId: researchId });
    expect(legacyGet.body.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } } });
  });
});

describe('credits: the worst case reserved, over budget refused by name, settled when the research finishes', () => {
  let running: TestStack;
  let alice: ReturnType<typeof clientOf>;
  let token: string;

  beforeAll(async () => {
    running = await startTestStack({
      stack: {
        extraEnvironment: WAITS_ONE_SECOND,
        usage: {
          quotaCallsPerMinute: 0,
          quotaCreditsPerDay: 300,
          quotaCreditsPerDayTotal: 0,
          quotaOverrides: [],
          quotaOnStoreError: 'deny',
          cacheTtlSeconds: 0,
          cacheTtlNewsSeconds: 60,
          cacheScope: 'shared',
        },
      },
    });
    token = await running.issuer.mint({ expiresInSeconds: 900 });
    alice = clientOf(() => running.stack, () => token);
  });
  afterAll(() => running?.close());

  test('pro reserves 250 of 300: a second pro is refused with no Tavily call; after the first settles to 40, it goes ahead', async () => {
    running.tavily.planResearch({ runningChecks: 'held', credits: 40 }, { runningChecks: 'held', credits: 60 });
    const first = (await alice.research({ input: 'First', model: 'pro' })).body.result;
    expect(first.resultType).toBe('task');

    const refused = await alice.research({ input: 'Second', model: 'pro' });
    expect(refused.body.result).toMatchObject({ isError: true });
    expect(refused.body.result.content[0].text).toMatch(/^Daily Tavily credit budget for this (client|user) reached \(250\/300 used; this call needs up to 250\)/);
    expect(running.tavily.researches).toHaveLength(1);
    // mini (110) does not fit either, while the worst case is held.
    expect((await alice.research({ input: 'Third', model: 'mini' })).body.result.isError).toBe(true);

    running.tavily.researches[0]!.finish();
    expect((await alice.untilDone(first.taskId)).result.status).toBe('completed');
    // 40 used of 300: a pro (250) fits again.
    const second = await alice.research({ input: 'Second again', model: 'pro' });
    expect(second.body.result.resultType).toBe('task');
    expect(running.tavily.researches).toHaveLength(2);
    expect(running.logs.some((line) => line.includes('"Research completed"') && line.includes('"credits":40'))).toBe(true);
  });
});

describe('a task outlives the stack: stopped after creation, started again on the same store', () => {
  let issuer: TokenIssuer;
  let tavily: FakeTavily;
  let store: LocalUsageStore;
  let stack: LocalStack | undefined;

  beforeAll(async () => {
    issuer = await startTokenIssuer({ audience: () => stack!.resourceIdentifier });
    tavily = await startFakeTavily();
    store = await startLocalUsageStore();
  });
  afterAll(async () => {
    await stack?.close();
    await tavily?.close();
    await issuer?.close();
    await store?.close();
  });

  const start = () =>
    startLocalStack({
      port: 0,
      hosts: ['127.0.0.1'],
      publicHost: '127.0.0.1',
      authorizationServer: { environmentUrl: issuer.environmentUrl, resourceId: issuer.resourceId },
      tavilyApiKey: tavily.apiKey,
      tavilyApiBaseUrl: tavily.url,
      onLog: () => {},
      // Both stacks' functions keep their tasks in this one store, as a redeployed stack keeps its table.
      extraEnvironment: { ...WAITS_ONE_SECOND, USAGE_TABLE_NAME: store.tableName, USAGE_TABLE_ENDPOINT: store.endpoint },
    });

  test('created on one stack, completed on the next', async () => {
    stack = await start();
    let token = await issuer.mint({ expiresInSeconds: 900 });
    const before = clientOf(() => stack!, () => token);
    tavily.planResearch({ runningChecks: 'held', content: 'Survived a restart.' });
    const { taskId } = (await before.research({ input: 'Restart me', model: 'mini' })).body.result;
    expect((await before.get(taskId)).body.result.status).toBe('working');

    await stack.close();
    tavily.researches[0]!.finish();
    stack = await start();
    // The same caller (sub and client_id) with a token for the new stack.
    token = await issuer.mint({ expiresInSeconds: 900 });
    const done = await before.untilDone(taskId);
    expect(done.result).toMatchObject({ status: 'completed', result: { structuredContent: { report: 'Survived a restart.' } } });
  });
});
