/**
 * `web_research_result`: the report of a research web_research started, for
 * clients that cannot hold a task (tasks/research-tasks.ts). It waits for the
 * report as web_research does, and answers it, or says again that the
 * research is still running. Only the caller who started a research can read
 * it, and only while its task lives (TASK_TTL_SECONDS).
 */
import * as z from 'zod/v4';
import { pricedPerCall } from './credits.js';
import { ToolAdviceError } from './tool-errors.js';
import { defineTool, NEVER_CACHED, READ_SCOPE, READS_THE_WEB } from './tool.js';
import { renderResearch, researchAnswer, researchOf, webResearchOutput } from './web-research.js';

export const webResearchResultInput = z.object({
  research_id: z.string().trim().min(1).max(100).describe('The research_id web_research answered with.'),
});

/** The same whether the id was never issued, is another caller's, or has expired: nothing says which. */
export const RESEARCH_NOT_FOUND_MESSAGE =
  'There is no research with this research_id that you can read: it was never started, was started by someone else, or has expired. Start a new one with web_research if it is still needed.';

export default defineTool({
  name: 'web_research_result',
  title: 'Web research result',
  description:
    'Get the report of a research that web_research started, by the research_id it answered with. It waits for the report for a while, then answers it, or says again that the research is still running (call it again later). Looking costs no credits.',
  input: webResearchResultInput,
  output: webResearchOutput,
  annotations: READS_THE_WEB,
  defaultScopes: [READ_SCOPE],
  // The research was paid for when it started; looking at it is free.
  credits: pricedPerCall(() => 0),
  cache: NEVER_CACHED,
  usesResearch: true,
  timeoutAdvice: 'call it again',
  // Only ever a GET of the research's status: this names what the call is about (nothing caches it).
  tavilyRequest: (args) => ({ endpoint: 'research', body: { research_id: args.research_id } }),
  async run(args, context) {
    const research = researchOf(context);
    const task = await research.find(args.research_id);
    if (!task) throw new ToolAdviceError('research_not_found', RESEARCH_NOT_FOUND_MESSAGE);
    return researchAnswer(await research.wait(task, context.signal), research);
  },
  render: renderResearch,
});
