/**
 * The research fallback with a client this project did not write: the Python
 * MCP SDK, over the local stack, in both eras it speaks (the 2025 handshake,
 * and 2026-07-28 without the tasks extension). A slow research answers that it
 * is still running, with a research_id; web_research_result gives the report
 * once Tavily has it. The fake Tavily decides when the research is done; the
 * function waits at most RESEARCH_WAIT_SECONDS=1.
 *
 * It needs a Python with the SDK (`pip install mcp`, 2.3 or later): the repository's
 * .venv when there is one (.ci/run makes it from scripts/matrix-requirements.txt, so CI
 * runs this suite), otherwise the one MCP_PYTHON names; without either the suite says
 * so and is skipped.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';

const run = promisify(execFile);
const venvPython = fileURLToPath(new URL(`../../.venv/${process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python'}`, import.meta.url));
const python = existsSync(venvPython) ? venvPython : process.env.MCP_PYTHON;
const script = fileURLToPath(new URL('../fixtures/python_mcp_call.py', import.meta.url));

async function pythonHasSdk(): Promise<boolean> {
  if (!python) return false;
  try {
    await run(python, ['-c', 'import mcp, httpx2']);
    return true;
  } catch {
    return false;
  }
}

const available = await pythonHasSdk();
if (!available) console.warn('python-client-research: skipped (no .venv with the SDK: python3 -m venv .venv && .venv/bin/pip install -r scripts/matrix-requirements.txt; or set MCP_PYTHON to a Python with `pip install mcp`, 2.3 or later)');
const suite = available ? describe : describe.skip;

interface PythonAnswer {
  readonly protocolVersion: string;
  readonly tools: string[];
  readonly isError: boolean;
  readonly structuredContent: Record<string, unknown> | null;
  readonly text: string;
}

suite('the Python MCP SDK gets research through the fallback', () => {
  let running: TestStack;
  let token: string;
  beforeAll(async () => {
    running = await startTestStack({ stack: { extraEnvironment: { RESEARCH_WAIT_SECONDS: '1' } } });
    token = await running.issuer.mint({ expiresInSeconds: 900 });
  });
  afterAll(() => running?.close());

  async function call(mode: string, tool: string, args: Record<string, unknown>): Promise<PythonAnswer> {
    const { stdout } = await run(python!, [script, running.stack.mcpUrl, token, mode, tool, JSON.stringify(args)], { timeout: 60_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as PythonAnswer;
  }

  test.each([
    ['legacy', '2025-11-25'],
    ['2026-07-28', '2026-07-28'],
  ])('mode %s: "still running" with a research_id, then the report from web_research_result', async (mode, negotiated) => {
    running.tavily.reset();
    running.tavily.planResearch({ runningChecks: 'held', content: `A report for ${mode}.` });
    const started = await call(mode, 'web_research', { input: `Research through ${mode}`, model: 'mini' });
    expect(started.protocolVersion).toBe(negotiated);
    expect(started.tools).toEqual(expect.arrayContaining(['web_research', 'web_research_result']));
    expect(started.isError).toBe(false);
    expect(started.structuredContent).toMatchObject({ status: 'running', research_id: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/) });
    const researchId = started.structuredContent!.research_id as string;
    expect(started.text).toContain(`web_research_result with research_id "${researchId}"`);

    running.tavily.researches[0]!.finish();
    const report = await call(mode, 'web_research_result', { research_id: researchId });
    expect(report.isError).toBe(false);
    expect(report.structuredContent).toMatchObject({ status: 'completed', research_id: researchId, report: `A report for ${mode}.` });
    expect(report.text).toContain(`A report for ${mode}.`);
    expect(running.tavily.researches).toHaveLength(1);
  });
});
