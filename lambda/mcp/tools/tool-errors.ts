/**
 * Every way a tool call can fail, as a message that tells the agent (or its
 * user) what to do next. No upstream body or stack trace is ever echoed: only
 * Tavily's own one-line explanation of a refused parameter.
 */
import { WebSearchMcpError } from '../../shared/errors.js';
import { TavilyError } from '../tavily.js';
import type { ToolDefinition } from './tool.js';

/**
 * A failure that is not Tavily's and not this server's fault, whose message is
 * already what the agent should read (a research id it cannot use, say).
 */
export class ToolAdviceError extends WebSearchMcpError {
  readonly code = 'ERR_TOOL_ADVICE' as const;
  constructor(
    /** For logs and metrics (`ErrorKind`): what kind of advice. */
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

export function toolFailureMessage(error: unknown, tool: Pick<ToolDefinition, 'title' | 'timeoutAdvice'>): string {
  if (error instanceof ToolAdviceError) return error.message;
  if (!(error instanceof TavilyError)) {
    return `${tool.title} failed because of an internal error in this server. Try again; if it keeps failing, tell the operator.`;
  }
  const status = error.status ? ` (HTTP ${error.status})` : '';
  switch (error.kind) {
    case 'bad_request':
      return `Tavily refused the request${status}: ${(error.detail ?? 'one of the parameters is not valid').replace(/[.\s]+$/, '')}. Fix that parameter and call the tool again.`;
    case 'invalid_key':
      return `Tavily refused this server's API key${status}. The operator must store a valid key in the SSM parameter (TAVILY_API_KEY_PARAMETER, or TAVILY_API_KEY in the local stack). Retrying will not help.`;
    case 'rate_limited':
      return `Tavily's rate limit was reached${status}, even after retrying. Wait about a minute before calling again, and make fewer calls at once.`;
    case 'plan_limit':
      return `The Tavily plan's credits are used up${status}. The operator must upgrade the plan or wait for the monthly reset. Retrying will not help.`;
    case 'paygo_limit':
      return `The Tavily pay-as-you-go spending limit was reached${status}. The operator must raise it in the Tavily dashboard. Retrying will not help.`;
    case 'unavailable':
      return `Tavily is unavailable right now${status}, even after retrying. Try again in a few minutes.`;
    case 'timeout':
      return `${tool.title} took too long and was stopped before this server's time limit. Try again and ${tool.timeoutAdvice}.`;
    case 'bad_response':
      return `Tavily answered with something this server cannot use (${error.message}). Try again; if it persists, tell the operator.`;
    case 'research_failed':
      return `Tavily's research did not produce a report: ${(error.detail ?? 'it reported that it failed').replace(/[.\s]+$/, '')}. Start a new one with web_research, perhaps with a narrower question.`;
    case 'missing_key':
      return `${error.message}`;
  }
}

/** Arguments that fail the tool's input schema: which argument, and what is wrong. */
export function invalidArgumentsMessage(toolName: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const lines = issues.slice(0, 10).map((issue) => `- ${issue.path.map(String).join('.') || '(arguments)'}: ${issue.message}`);
  return `Invalid arguments for ${toolName}:\n${lines.join('\n')}\nFix them and call the tool again.`;
}
