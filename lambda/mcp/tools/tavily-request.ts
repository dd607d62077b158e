/**
 * How every tool talks to Tavily: one call under the tool's deadline, and an
 * answer that must have the documented shape, or the tool fails with
 * `bad_response` (never passing on what Tavily actually sent).
 */
import * as z from 'zod/v4';
import { TavilyError, type TavilyEndpoint } from '../tavily.js';
import type { ToolContext } from './tool.js';

/**
 * Kept between Tavily's own `timeout` and our deadline: after Tavily stops, its
 * answer (megabytes for a crawl) still has to arrive, be checked and rendered.
 */
export const TAVILY_TIMEOUT_MARGIN_MS = 3_000;

/**
 * The `timeout` (whole seconds) to send so that Tavily gives up, and answers
 * with what it has, before this server's deadline would discard everything.
 * Clamped to the endpoint's documented range.
 */
export function tavilyTimeoutSeconds(deadline: number, range: { min: number; max: number }, now = Date.now()): number {
  const seconds = Math.floor((deadline - now - TAVILY_TIMEOUT_MARGIN_MS) / 1000);
  return Math.min(range.max, Math.max(range.min, seconds));
}

/** Tavily documents `response_time` as a number but its examples show "1.67". */
export const tavilySeconds = z
  .union([z.number(), z.string()])
  .nullish()
  .transform((value) => {
    const seconds = typeof value === 'number' ? value : value ? Number(value) : Number.NaN;
    return Number.isFinite(seconds) ? seconds : undefined;
  });

/** Output fields every tool shares. */
export const commonOutputFields = {
  response_time: z.number().optional().describe("Tavily's processing time in seconds."),
  notice: z.string().optional().describe('Set when part of the result was cut to fit the response size limit.'),
  cache: z
    .object({
      hit: z.boolean(),
      age_seconds: z.number().describe('How long ago Tavily answered this.'),
      stored_at: z.string().describe('When, as an ISO 8601 time.'),
    })
    .optional()
    .describe("Set when this result came from the server's cache of identical calls (no Tavily credits used)."),
};

/** Unset options and empty lists are left out, as the official clients do: Tavily's defaults apply. */
function withoutUnsetOptions(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(body).filter(([, value]) => value !== undefined && !(Array.isArray(value) && value.length === 0)),
  );
}

export async function requestTavily<Answer extends z.ZodType>(
  context: ToolContext,
  endpoint: TavilyEndpoint,
  body: Readonly<Record<string, unknown>>,
  answerShape: Answer,
): Promise<z.output<Answer>> {
  const answer = await context.tavily.call(endpoint, withoutUnsetOptions(body), {
    deadline: context.deadline,
    signal: context.signal,
    onAttempt: context.onTavilyAttempt,
  });
  const parsed = answerShape.safeParse(answer);
  if (!parsed.success) throw new TavilyError('bad_response', `Tavily answered ${endpoint} with an unexpected shape`);
  return parsed.data;
}
