/**
 * `web_research`: Tavily Research, a cited report written from many sources.
 * It takes from about half a minute (mini) to several minutes (pro): longer
 * than API Gateway lets a request last, so each research is a task that
 * outlives the call (tasks/research-tasks.ts). A client that declares the tasks
 * extension gets a task handle at once and polls it; any other gets the report
 * if it is ready within RESEARCH_WAIT_SECONDS, and otherwise a research_id for
 * web_research_result (web-research-result.ts), which waits the same way.
 */
import * as z from 'zod/v4';
import { TavilyError } from '../tavily.js';
import type { ResearchSession, StoredResult } from '../tasks/research-tasks.js';
import type { ResearchTask } from '../tasks/task-store.js';
import { pricedPerCall, RESEARCH_CREDIT_BOUNDS } from './credits.js';
import { inlineText } from './markdown.js';
import { fittedResult } from './output-budget.js';
import { markdownLink, pageContentBlock } from './page-content.js';
import { commonOutputFields, tavilyRequestOf, tavilySeconds } from './tavily-request.js';
import { ToolAdviceError, toolFailureMessage } from './tool-errors.js';
import { defineTool, NEVER_CACHED, oneLine, READ_SCOPE, type ToolContext } from './tool.js';

/** The most a research can cost, by model: the top of Tavily's range for it; `auto` may choose either. */
export const RESEARCH_WORST_CASE_CREDITS = {
  mini: RESEARCH_CREDIT_BOUNDS.mini.most,
  pro: RESEARCH_CREDIT_BOUNDS.pro.most,
  auto: Math.max(RESEARCH_CREDIT_BOUNDS.mini.most, RESEARCH_CREDIT_BOUNDS.pro.most),
} as const;

export const webResearchInput = z.object({
  input: z
    .string()
    .trim()
    .min(1)
    .max(2_000, 'At most 2,000 characters: state the question, not the background')
    .describe('The research question or task, in plain language (e.g. "How do the main EU and US AI regulations differ for open-source models?").'),
  model: z
    .enum(['mini', 'pro', 'auto'])
    .default('auto')
    .describe(
      `"mini": a focused question, about 30 s, up to ${RESEARCH_WORST_CASE_CREDITS.mini} credits; "pro": a broad or multi-part topic, 1 to several minutes, up to ${RESEARCH_WORST_CASE_CREDITS.pro} credits; "auto": Tavily chooses (up to ${RESEARCH_WORST_CASE_CREDITS.auto} credits are reserved).`,
    ),
  citation_format: z
    .enum(['numbered', 'mla', 'apa', 'chicago'])
    .default('numbered')
    .describe('How the report cites its sources: "numbered" ([1], [2]...), "mla", "apa" or "chicago".'),
});
type WebResearchArgs = z.output<typeof webResearchInput>;

const researchRequest = (args: WebResearchArgs) =>
  tavilyRequestOf('research', { input: args.input, model: args.model, citation_format: args.citation_format });

/** What GET /research/{id} answers once the research is over. */
const tavilyResearchOutcome = z.object({
  status: z.string(),
  // A report, or (had an output_schema been sent) an object.
  content: z.unknown().optional(),
  sources: z.array(z.object({ title: z.string().nullish(), url: z.string(), favicon: z.string().nullish() })).nullish(),
  error: z.unknown().optional(),
  response_time: tavilySeconds,
});

const researchSource = z.object({ title: z.string().optional(), url: z.string(), favicon: z.string().optional() });

export const webResearchOutput = z.object({
  research_id: z.string().describe('This research, for web_research_result: only you can read it, until it expires.'),
  status: z.enum(['completed', 'running']).describe('"completed": the report is here; "running": get it later with web_research_result.'),
  input: z.string().describe('The research question.'),
  model: z.string().describe('The model asked for.'),
  report: z.string().optional().describe('The report, in markdown, citing its sources (when completed).'),
  sources: z.array(researchSource).optional().describe('The sources the report draws on (when completed).'),
  check_again_in_seconds: z.number().int().optional().describe('When running: about when to call web_research_result with research_id.'),
  response_time: commonOutputFields.response_time,
  notice: commonOutputFields.notice,
});
export type WebResearchOutput = z.output<typeof webResearchOutput>;

export function renderResearch(result: WebResearchOutput): string {
  const lines = [`## Web research: ${inlineText(oneLine(result.input, 200))}`, ''];
  if (result.status === 'running') {
    lines.push(
      `The research is still running at Tavily (model "${result.model}"); its research_id is "${result.research_id}".`,
      `Call web_research_result with research_id "${result.research_id}" in about ${result.check_again_in_seconds ?? 10} seconds to get the report: it waits for it too, and may say again that it is still running. Do not start the same research again: it would be charged again.`,
    );
    return lines.join('\n');
  }
  lines.push(...pageContentBlock(result.report ?? ''));
  if (result.sources?.length) {
    lines.push('', '### Sources', ...result.sources.map((source, index) => `${index + 1}. ${markdownLink(source.title, source.url)}`));
  }
  if (result.notice) lines.push('', `_${result.notice}_`);
  return lines.join('\n');
}

/** The report of a research Tavily finished, or a TavilyError saying why there is none. */
export function researchOutput(task: Pick<ResearchTask, 'taskId' | 'input' | 'model'>, answer: unknown): WebResearchOutput {
  const parsed = tavilyResearchOutcome.safeParse(answer);
  if (!parsed.success) throw new TavilyError('bad_response', 'Tavily answered research with an unexpected shape');
  const { status, content, sources, error, response_time } = parsed.data;
  if (status !== 'completed') {
    const reason = typeof error === 'string' && error.trim() ? inlineText(oneLine(error, 300)) : undefined;
    throw new TavilyError('research_failed', `Tavily reported the research as ${oneLine(status, 40) || 'failed'}`, reason ? { detail: reason } : {});
  }
  const report = typeof content === 'string' ? content : content === undefined || content === null ? '' : JSON.stringify(content, null, 2);
  return {
    research_id: task.taskId,
    status: 'completed',
    input: task.input,
    model: task.model,
    report,
    sources: (sources ?? []).map((source) => ({
      url: source.url,
      ...(source.title ? { title: source.title } : {}),
      ...(source.favicon ? { favicon: source.favicon } : {}),
    })),
    ...(response_time !== undefined ? { response_time } : {}),
  };
}

/** A finished research as the agent reads it, within `budgetChars` (what its task keeps). */
export async function researchResult(task: Pick<ResearchTask, 'taskId' | 'input' | 'model'>, answer: unknown, budgetChars: number): Promise<StoredResult> {
  let output: WebResearchOutput;
  try {
    output = researchOutput(task, answer);
  } catch (error) {
    return { text: toolFailureMessage(error, webResearch), structured: {}, isError: true };
  }
  const fitted = fittedResult(output, renderResearch, budgetChars);
  return { text: fitted.content[0]!.text, structured: fitted.structuredContent, isError: false };
}

/** The call's research, or advice when the server keeps none. */
export function researchOf(context: ToolContext): ResearchSession {
  if (context.research) return context.research;
  throw new ToolAdviceError(
    'research_unavailable',
    'Research is not available on this server: it has nowhere to keep research while it runs (the operator has not given it the usage table). Use web_search and web_extract instead.',
  );
}

/** What a tool answers about a research: its report, that it is still running, or why there is no report. */
export async function researchAnswer(task: ResearchTask, research: ResearchSession): Promise<WebResearchOutput> {
  if (task.status === 'working') {
    return {
      research_id: task.taskId,
      status: 'running',
      input: task.input,
      model: task.model,
      check_again_in_seconds: research.checkAgainInSeconds(task),
    };
  }
  if (task.status === 'cancelled') {
    throw new ToolAdviceError('research_cancelled', 'This research was cancelled, so it has no report. Start a new one with web_research if it is still needed.');
  }
  const result = await research.resultOf(task);
  if (result.isError) throw new ToolAdviceError('research_failed', result.text);
  return result.structured as WebResearchOutput;
}

const webResearch = defineTool({
  name: 'web_research',
  title: 'Web research (can take minutes)',
  description:
    `Research a question in depth with Tavily Research: it searches and reads many sources and writes a cited report. Use it for broad or multi-part questions (comparisons, overviews, due diligence) that several web_search calls would not settle; for a quick fact, use web_search. It takes about 30 s with model "mini" and 1 to several minutes with "pro", and costs up to ${RESEARCH_WORST_CASE_CREDITS.mini} (mini) or ${RESEARCH_WORST_CASE_CREDITS.pro} (pro) Tavily credits. When the report is not ready within the call, the answer gives a research_id: get the report with web_research_result, and do not start the same research again.`,
  input: webResearchInput,
  output: webResearchOutput,
  // Each call starts (and pays for) a new research: not idempotent.
  annotations: { readOnlyHint: true, openWorldHint: true, destructiveHint: false, idempotentHint: false },
  defaultScopes: [READ_SCOPE],
  // The worst case, before and after the call that starts it: what a research costs is only known
  // when it finishes, and is settled then (tasks/research-credits.ts).
  credits: pricedPerCall<WebResearchArgs>((args) => RESEARCH_WORST_CASE_CREDITS[args.model]),
  cache: NEVER_CACHED,
  longRunning: true,
  usesResearch: true,
  timeoutAdvice: 'use model "mini", or a narrower question',
  tavilyRequest: researchRequest,
  async run(args, context) {
    const research = researchOf(context);
    const task = await research.start(
      { request: researchRequest(args), input: args.input, model: args.model, worstCaseCredits: RESEARCH_WORST_CASE_CREDITS[args.model] },
      context,
    );
    return researchAnswer(research.asTask ? task : await research.wait(task, context.signal), research);
  },
  render: renderResearch,
});

export default webResearch;
