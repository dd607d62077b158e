/**
 * How every tool talks to Tavily: the request built once from the arguments
 * (the result cache keys on the same one), one call under the tool's deadline,
 * and an answer that must have the documented shape, or the tool fails with
 * `bad_response` (never passing on what Tavily actually sent).
 */
import * as z from 'zod/v4';
import { TavilyError, type TavilyEndpoint } from '../tavily.js';
import type { TavilyRequest, ToolContext } from './tool.js';

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

/**
 * The request for `fields`: unset options and empty lists are left out, as the
 * official clients do, so Tavily's defaults apply (and an unset option and an
 * empty list ask the same thing).
 */
export function tavilyRequestOf(endpoint: TavilyEndpoint, fields: Readonly<Record<string, unknown>>): TavilyRequest {
  const body = Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined && !(Array.isArray(value) && value.length === 0)),
  );
  return { endpoint, body };
}

/**
 * A list whose order and repeats mean nothing to Tavily (domain and path
 * filters), in one order without repeats, so that calls that differ only there
 * ask the same thing. `normalise` may only change what Tavily treats as equal (a domain's case).
 */
export function asSet(list: readonly string[] | undefined, normalise: (item: string) => string = (item) => item): string[] | undefined {
  return list && [...new Set(list.map(normalise))].sort();
}

/** What a call adds to its request that is about this call's time limit, not about what it asks. */
export interface PerCallOptions {
  /** Seconds after which Tavily stops and answers with what it has (crawl, map, extract). */
  readonly timeout?: number;
}

/** Sends `request` (and nothing else but `perCall`) and checks the answer's shape. */
export async function requestTavily<Answer extends z.ZodType>(
  context: ToolContext,
  request: TavilyRequest,
  answerShape: Answer,
  perCall: PerCallOptions = {},
): Promise<z.output<Answer>> {
  const answer = await context.tavily.call(
    request.endpoint,
    { ...request.body, ...(perCall.timeout !== undefined ? { timeout: perCall.timeout } : {}) },
    { deadline: context.deadline, signal: context.signal, onAttempt: context.onTavilyAttempt },
  );
  const parsed = answerShape.safeParse(answer);
  if (!parsed.success) throw new TavilyError('bad_response', `Tavily answered ${request.endpoint} with an unexpected shape`);
  return parsed.data;
}
