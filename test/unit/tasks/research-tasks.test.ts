/**
 * Research as tasks, with the loopback fake Tavily and dynalite, on a clock that
 * only moves when the code waits (no test here waits for real time): a tool call
 * starts and records a research and waits for it within its budget; a client's
 * polls look at Tavily at most once per call and per interval; a finished
 * research is kept and settled once; a research is found only by its owner.
 */
import { createUsageGuard } from '../../../lambda/mcp/quota/usage-guard.js';
import { usageItemKey } from '../../../lambda/mcp/quota/usage-table.js';
import { createTavilyClient } from '../../../lambda/mcp/tavily.js';
import { createResearchCredits } from '../../../lambda/mcp/tasks/research-credits.js';
import { RESEARCH_CREDIT_BOUNDS } from '../../../lambda/mcp/tools/credits.js';
import { createResearchTasks, MIN_CHECK_INTERVAL_MS, type ResearchEvent, type ResearchTasks } from '../../../lambda/mcp/tasks/research-tasks.js';
import { createDynamoTaskStore, newTaskId, TaskStoreError, type ResearchTask } from '../../../lambda/mcp/tasks/task-store.js';
import webResearch, { RESEARCH_WORST_CASE_CREDITS, researchResult } from '../../../lambda/mcp/tools/web-research.js';
import { DEFAULT_CACHE_TTL_NEWS_SECONDS } from '../../../lambda/shared/settings.js';
import { startLocalUsageStore, type LocalUsageStore } from '../../../local/usage-store-server.js';
import { startFakeTavily, tavilyError, type FakeTavily } from '../../fixtures/fake-tavily.js';
import { memoryUsageStore, type MemoryUsageStore } from '../quota/memory-usage-store.js';

const ALICE = { sub: 'usr_alice', clientId: 'client_a' };
const MALLORY = { sub: 'usr_mallory', clientId: 'client_a' };
const WAIT_MS = 20_000;
const T0 = Date.parse('2026-12-03T10:00:00Z');

let fake: FakeTavily;
let local: LocalUsageStore;
let clock: number;
let sleeps: number[];
let events: ResearchEvent[];
let usage: MemoryUsageStore;
let research: ResearchTasks;

const quotaSettings = {
  quotaCallsPerMinute: 0,
  quotaCreditsPerDay: 1_000,
  // A total cap, so that the server's item is reserved on and settled too.
  quotaCreditsPerDayTotal: 10_000,
  // Naming the client, so that a user's research counts against it too.
  quotaOverrides: [{ kind: 'client' as const, id: 'client_a' }],
  quotaOnStoreError: 'allow' as const,
  cacheTtlSeconds: 0,
  cacheTtlNewsSeconds: DEFAULT_CACHE_TTL_NEWS_SECONDS,
  cacheScope: 'shared' as const,
};

beforeAll(async () => {
  fake = await startFakeTavily();
  local = await startLocalUsageStore();
});
afterAll(async () => {
  await fake?.close();
  await local?.close();
});

beforeEach(() => {
  fake.reset();
  clock = T0;
  sleeps = [];
  events = [];
  usage = memoryUsageStore();
  research = researchWithBudget(60_000);
});

function researchWithBudget(outputBudgetChars: number) {
  return createResearchTasks({
    store: createDynamoTaskStore({ tableName: local.tableName, endpoint: local.endpoint }),
    tavily: createTavilyClient({ baseUrl: fake.url, apiKey: async () => fake.apiKey, now: () => clock, random: () => 0 }),
    credits: createResearchCredits({ settings: quotaSettings, store: usage }),
    ttlMs: 3_600_000,
    waitMs: WAIT_MS,
    outputBudgetChars,
    finish: researchResult,
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    onEvent: (event) => events.push(event),
  });
}

const far = () => clock + 25_000;
const signal = () => new AbortController().signal;

/** A research started as web_research starts it: through the usage guard, which reserves its worst case. */
async function started(caller = ALICE, model: 'mini' | 'pro' = 'mini', asTask = false) {
  const session = research.session(caller, { asTask, startedAt: clock, deadline: far() });
  const args = webResearch.input.parse({ input: 'How do MCP tasks work?', model });
  const guard = createUsageGuard({
    store: usage,
    limits: { callsPerMinute: 0, creditsPerDay: 1_000, creditsPerDayTotal: 10_000, overrides: quotaSettings.quotaOverrides, onStoreError: 'allow' },
    cache: { ttlSeconds: 0, newsTtlSeconds: 0, scope: 'shared' },
    now: () => clock,
  });
  const tavily = createTavilyClient({ baseUrl: fake.url, apiKey: async () => fake.apiKey, now: () => clock, random: () => 0 });
  let task: ResearchTask | undefined;
  await guard({ tool: webResearch, args, caller, deadline: far(), tavily }, async (metered) => {
    task = await session.start({ request: webResearch.tavilyRequest(args), input: args.input, model: args.model, worstCaseCredits: RESEARCH_WORST_CASE_CREDITS[model] }, { tavily: metered, signal: signal() });
    return { content: [] };
  });
  return { session, task: task! };
}

/** A usage item's credits for the day, found as the guard keys it. */
const creditsOf = async (kind: 'client' | 'sub' | 'total', id: string) => usage.items.get(await usageItemKey('2026-12-03', kind, id))?.credits;

test('a tool call starts the research and records it, its worst case reserved by the guard and kept with the task', async () => {
  fake.planResearch({ runningChecks: 'held' });
  const { session, task } = await started();
  expect(session.created).toEqual(task);
  expect(task).toMatchObject({ status: 'working', model: 'mini', input: 'How do MCP tasks work?', ttlMs: 3_600_000, reservation: { day: '2026-12-03', credits: 110 } });
  expect(task.requestId).toBe(fake.researches[0]!.requestId);
  // What reached Tavily is the tool's request, and the guard's include_usage.
  const args = webResearch.input.parse({ input: 'How do MCP tasks work?', model: 'mini' });
  expect(fake.researches[0]!.body).toEqual({ ...webResearch.tavilyRequest(args).body, include_usage: true });
  expect(fake.researches[0]!.body).toMatchObject({ input: 'How do MCP tasks work?', model: 'mini', citation_format: 'numbered' });
  expect(await creditsOf('client', 'client_a')).toBe(110);
  expect(await creditsOf('sub', 'usr_alice')).toBe(110);
  expect(events).toEqual([{ kind: 'started', model: 'mini', asTask: false }]);
});

test('waiting: a look at once, then 1 s, 1.5 s...; a finished research is kept and settles to what Tavily reported', async () => {
  fake.planResearch({ runningChecks: 2, credits: 37 });
  const { session, task } = await started();
  const finished = await session.wait(task, signal());
  expect(finished.status).toBe('completed');
  expect(fake.researches[0]!.checks).toBe(3);
  expect(sleeps).toEqual([1_000, 1_500]);
  expect(finished.credits).toBe(37);
  expect(await creditsOf('client', 'client_a')).toBe(37);
  expect(await creditsOf('sub', 'usr_alice')).toBe(37);
  expect(await creditsOf('total', '*')).toBe(37);
  const result = await session.resultOf(finished);
  expect(result.isError).toBe(false);
  expect(result.structured).toMatchObject({ research_id: task.taskId, status: 'completed', report: expect.stringContaining('How do MCP tasks work?') });
  expect(result.text).toContain('<page-content>');
  expect(events.at(-1)).toEqual({ kind: 'completed', model: 'mini', durationMs: 2_500, credits: 37 });
});

test("a completed research reported below its model's floor (0, say) settles at the floor: the figure is not trusted", async () => {
  fake.planResearch({ credits: 0 });
  const { session, task } = await started();
  const finished = await session.wait(task, signal());
  expect(finished.status).toBe('completed');
  expect(finished.credits).toBe(RESEARCH_CREDIT_BOUNDS.mini.least);
  expect(await creditsOf('client', 'client_a')).toBe(RESEARCH_CREDIT_BOUNDS.mini.least);
  expect(events.at(-1)).toMatchObject({ kind: 'completed', credits: RESEARCH_CREDIT_BOUNDS.mini.least });
});

test('waiting ends with the wait budget: the research is still running, and was looked at along the way', async () => {
  fake.planResearch({ runningChecks: 'held' });
  const { session, task } = await started();
  const after = await session.wait(task, signal());
  expect(after.status).toBe('working');
  expect(sleeps.reduce((sum, each) => sum + each, 0)).toBeLessThanOrEqual(WAIT_MS);
  expect(fake.researches[0]!.checks).toBe(sleeps.length + 1);
  expect(session.checkAgainInSeconds(after)).toBeGreaterThanOrEqual(5);
  // Still reserved at the worst case.
  expect(await creditsOf('client', 'client_a')).toBe(110);
});

test('a research is found by its owner only: another caller, an expired task and a malformed id find nothing', async () => {
  fake.planResearch({ runningChecks: 'held' });
  const { task } = await started();
  expect(await research.find(ALICE, task.taskId, far())).toMatchObject({ taskId: task.taskId });
  expect(await research.find(MALLORY, task.taskId, far())).toBeUndefined();
  expect(await research.find({ sub: 'usr_alice', clientId: 'client_b' }, task.taskId, far())).toBeUndefined();
  expect(await research.find(ALICE, newTaskId(), far())).toBeUndefined();
  expect(await research.find(ALICE, 'not-an-id', far())).toBeUndefined();
  clock += 3_600_000;
  expect(await research.find(ALICE, task.taskId, far())).toBeUndefined();
});

test('a client poll looks at Tavily at most once per interval; a quicker one is answered from the store', async () => {
  fake.planResearch({ runningChecks: 'held' });
  const { task } = await started(ALICE, 'mini', true);
  const first = await research.poll(ALICE, task, far());
  expect(first.status).toBe('working');
  expect(fake.researches[0]!.checks).toBe(1);
  clock += MIN_CHECK_INTERVAL_MS - 1;
  const stored = (await research.find(ALICE, task.taskId, far()))!;
  await research.poll(ALICE, stored, far());
  expect(fake.researches[0]!.checks).toBe(1);
  fake.researches[0]!.finish();
  clock += 1;
  const done = await research.poll(ALICE, (await research.find(ALICE, task.taskId, far()))!, far());
  expect(done.status).toBe('completed');
  expect(fake.researches[0]!.checks).toBe(2);
});

test('two polls at once: one looks at Tavily, the other answers what is stored; the result is kept and settled once', async () => {
  fake.planResearch({ runningChecks: 0, credits: 50 });
  const { task } = await started(ALICE, 'pro', true);
  expect(await creditsOf('client', 'client_a')).toBe(250);
  // As two instances would, with the same stored task: the store's claim lets one of them look.
  const [a, b] = await Promise.all([research.poll(ALICE, task, far()), research.poll(ALICE, task, far())]);
  expect([a.status, b.status].sort()).toEqual(['completed', 'working']);
  expect(fake.researches[0]!.checks).toBe(1);
  const stored = (await research.find(ALICE, task.taskId, far()))!;
  expect((await research.poll(ALICE, stored, far())).status).toBe('completed');
  expect(fake.researches[0]!.checks).toBe(1);
  expect(await creditsOf('client', 'client_a')).toBe(50);
  expect(events.filter((event) => event.kind === 'completed')).toHaveLength(1);
});

test('cancelling: the task ends cancelled, Tavily is not asked again, and the worst case stays reserved (Tavily runs it on)', async () => {
  fake.planResearch({ runningChecks: 'held' });
  const { task } = await started(ALICE, 'mini', true);
  await research.cancel(task, far());
  const after = (await research.find(ALICE, task.taskId, far()))!;
  expect(after.status).toBe('cancelled');
  fake.researches[0]!.finish();
  clock += 10_000;
  expect((await research.poll(ALICE, after, far())).status).toBe('cancelled');
  expect(fake.researches[0]!.checks).toBe(0);
  expect(await creditsOf('client', 'client_a')).toBe(110);
  expect(events.at(-1)).toEqual({ kind: 'cancelled', model: 'mini' });
});

test('a failed research is a finished task whose result is an error, settled to what it reported or nothing', async () => {
  fake.planResearch({ outcome: 'failed' });
  const { session, task } = await started();
  const finished = await session.wait(task, signal());
  expect(finished.status).toBe('completed');
  const result = await session.resultOf(finished);
  expect(result.isError).toBe(true);
  expect(result.text).toMatch(/^Tavily's research did not produce a report: The research could not be completed\./);
  expect(await creditsOf('client', 'client_a')).toBe(0);
  expect(events.at(-1)).toMatchObject({ kind: 'failed', credits: 0 });
});

test('Tavily no longer knowing the research ends it as an error; Tavily failing to answer leaves it working', async () => {
  fake.planResearch({ runningChecks: 'held' }, { runningChecks: 'held' });
  const gone = await started();
  fake.reset();
  const ended = await gone.session.wait(gone.task, signal());
  expect(ended.status).toBe('completed');
  expect((await gone.session.resultOf(ended)).text).toContain('Tavily no longer has this research');

  fake.planResearch({ runningChecks: 'held' });
  const { session, task } = await started();
  fake.always('research-status', tavilyError(503));
  const after = await session.wait(task, signal());
  expect(after.status).toBe('working');
  expect(events.filter((event) => event.kind === 'check_failed')[0]).toEqual({ kind: 'check_failed', errorKind: 'unavailable' });
});

test('a report too large for an item even compressed is kept at a smaller budget, with a notice saying what was cut', async () => {
  research = researchWithBudget(1_000_000);
  // About 1.2 million characters that compress poorly: over the item's 400 KB even gzip'd.
  const huge = Array.from({ length: 170_000 }, (_, i) => ((i * 2_654_435_761) % 4_294_967_296).toString(36)).join(' ');
  fake.planResearch({ content: huge });
  const { session, task } = await started();
  const finished = await session.wait(task, signal());
  const result = await session.resultOf(finished);
  expect(result.isError).toBe(false);
  expect(result.structured.notice).toMatch(/250000-character budget/);
  expect(finished.result!.body.byteLength).toBeLessThan(400 * 1024);
});

test('a store that fails to record a finished research leaves it working, for the next look to record', async () => {
  fake.planResearch({ runningChecks: 0, credits: 20 });
  const { task } = await started(ALICE, 'mini', true);
  const store = createDynamoTaskStore({ tableName: local.tableName, endpoint: local.endpoint });
  const failing = createResearchTasks({
    store: { ...store, finish: async () => Promise.reject(new TaskStoreError('update', 'ThrottlingException')) },
    tavily: createTavilyClient({ baseUrl: fake.url, apiKey: async () => fake.apiKey, now: () => clock, random: () => 0 }),
    credits: createResearchCredits({ settings: quotaSettings, store: usage }),
    ttlMs: 3_600_000,
    waitMs: WAIT_MS,
    outputBudgetChars: 60_000,
    finish: researchResult,
    now: () => clock,
    onEvent: (event) => events.push(event),
  });
  expect((await failing.poll(ALICE, task, far())).status).toBe('working');
  expect(events.at(-1)).toEqual({ kind: 'check_failed', errorKind: 'task_store' });
  expect(await creditsOf('client', 'client_a')).toBe(110);
  clock += MIN_CHECK_INTERVAL_MS;
  const recorded = await research.poll(ALICE, (await research.find(ALICE, task.taskId, far()))!, far());
  expect(recorded).toMatchObject({ status: 'completed', credits: 20 });
  expect(await creditsOf('client', 'client_a')).toBe(20);
});
