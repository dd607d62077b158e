/**
 * Tavily's REST API over node:http(s) (shared/http-request.ts: no undici on a
 * cold start, a fraction of `fetch`'s CPU per call): `POST {base}/{search,extract,crawl,map,research}`
 * and `GET {base}/research/{request_id}`, with the server's own key (never the
 * client's token). Every call runs under a deadline, retries 429 and 5xx with
 * backoff and jitter while the deadline allows (honouring Retry-After), and
 * fails with a typed `TavilyError` that the tools turn into advice for the agent.
 *
 * Research is asynchronous at Tavily: the POST answers at once with a
 * `request_id`, and the GET answers 202 while the research runs, then 200 with
 * its outcome. Starting one is retried only on 429, which Tavily answers before
 * it starts anything: after a 5xx or a lost connection a research may be
 * running (and charging) already, and a retry would start and charge another.
 */
import { findCause, WebSearchMcpError } from '../shared/errors.js';
import { decodeUtf8 } from '../shared/http.js';
import { boundedRequest, headerOf, HttpRequestError, type BoundedResponse } from '../shared/http-request.js';

export type TavilyEndpoint = 'search' | 'extract' | 'crawl' | 'map' | 'research';

export type TavilyErrorKind =
  | 'bad_request' // 400: a parameter Tavily refused
  | 'invalid_key' // 401/403: the key is wrong or revoked
  | 'rate_limited' // 429
  | 'plan_limit' // 432: the plan's credits are used up
  | 'paygo_limit' // 433: the pay-as-you-go spending limit is reached
  | 'unavailable' // 5xx, or no connection
  | 'timeout' // the deadline passed
  | 'bad_response' // not JSON, too big, or not the expected shape
  | 'research_failed' // a research Tavily ran reported that it failed, or Tavily no longer knows it
  | 'missing_key'; // no key configured or readable

export interface TavilyErrorDetails {
  /** Tavily's HTTP status, when it answered. */
  readonly status?: number;
  /** Tavily's own one-line explanation (400s), cleaned: no raw body is ever passed on. */
  readonly detail?: string;
  /** The error underneath (a failed exchange, an unreadable key), for the log; never shown to the agent. */
  readonly cause?: unknown;
}

/** Every way a Tavily call fails; `kind` says which, and tool-errors.ts turns it into advice for the agent. */
export class TavilyError extends WebSearchMcpError {
  readonly code = 'ERR_TAVILY' as const;
  readonly status: number | undefined;
  readonly detail: string | undefined;

  constructor(
    readonly kind: TavilyErrorKind,
    message: string,
    details: TavilyErrorDetails = {},
  ) {
    super(message, 'cause' in details ? { cause: details.cause } : undefined);
    this.status = details.status;
    this.detail = details.detail;
  }
}

export interface TavilyClientOptions {
  readonly baseUrl: string;
  /** Resolved on the first call, not at cold start. */
  readonly apiKey: () => Promise<string>;
  /** Bytes of Tavily response read at most; beyond is `bad_response`. */
  readonly maxResponseBytes?: number;
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export const TAVILY_DEFAULTS = {
  maxResponseBytes: 8 * 1024 * 1024,
  maxAttempts: 3,
  baseDelayMs: 250,
  /** A retry is only worth starting with at least this much time left. */
  minAttemptMs: 1_000,
} as const;

export interface CallOptions {
  /** Absolute time (ms since the epoch) by which the call must have finished. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
  /** Called once per HTTP attempt with its status (0 when no response), for logs and metrics. */
  readonly onAttempt?: (status: number, durationMs: number) => void;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seconds or an HTTP date, as milliseconds from now; undefined if absent or unparseable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Tavily's error text from `{"detail":{"error":"…"}}` (or similar), as one short clean line,
 * with anything that looks like an API key (ours above all) cut out: the text goes to clients.
 */
function upstreamDetail(document: unknown, key: string): string | undefined {
  const candidates = [
    (document as { detail?: { error?: unknown } })?.detail?.error,
    (document as { detail?: unknown })?.detail,
    (document as { error?: unknown })?.error,
    (document as { message?: unknown })?.message,
  ];
  const text = candidates.find((candidate): candidate is string => typeof candidate === 'string');
  if (!text) return undefined;
  // eslint-disable-next-line no-control-regex
  const clean = text
    .split(key)
    .join('[redacted]')
    .replace(/tvly-[A-Za-z0-9_-]+/g, 'tvly-[redacted]')
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .trim();
  return clean.length > 300 ? `${clean.slice(0, 297)}...` : clean;
}

function errorForStatus(status: number, detail: string | undefined): TavilyError {
  switch (status) {
    case 400:
      return new TavilyError('bad_request', 'Tavily refused the request parameters', { status, detail });
    case 401:
    case 403:
      return new TavilyError('invalid_key', 'Tavily refused the API key', { status });
    case 429:
      return new TavilyError('rate_limited', 'Tavily rate limit reached', { status });
    case 432:
      return new TavilyError('plan_limit', "Tavily plan's credit limit reached", { status });
    case 433:
      return new TavilyError('paygo_limit', 'Tavily pay-as-you-go limit reached', { status });
    default:
      if (status >= 500) return new TavilyError('unavailable', `Tavily is unavailable (HTTP ${status})`, { status });
      return new TavilyError('bad_request', `Tavily answered HTTP ${status}`, { status, detail });
  }
}

/** What one request asks, and which answers are its successes. */
interface TavilyHttpRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** JSON text, for a POST. */
  readonly body?: string;
  /** The statuses that carry the answer (202: a research still running). */
  readonly success: readonly number[];
  readonly retryable: (error: TavilyError) => boolean;
}

const retryableAlways = (error: TavilyError) => error.kind === 'rate_limited' || error.kind === 'unavailable';
/** Only a refusal that started nothing: see the module comment. */
const retryableBeforeStart = (error: TavilyError) => error.kind === 'rate_limited';

/** What the status of a research says: still running (202), or finished (200, completed or failed). */
export interface ResearchStatusAnswer {
  readonly running: boolean;
  readonly answer: unknown;
}

export function createTavilyClient(options: TavilyClientOptions) {
  const maxBytes = options.maxResponseBytes ?? TAVILY_DEFAULTS.maxResponseBytes;
  const maxAttempts = options.maxAttempts ?? TAVILY_DEFAULTS.maxAttempts;
  const baseDelayMs = options.baseDelayMs ?? TAVILY_DEFAULTS.baseDelayMs;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? sleepFor;
  const now = options.now ?? Date.now;
  const base = options.baseUrl.replace(/\/+$/, '');

  async function attempt(
    request: TavilyHttpRequest,
    key: string,
    call: CallOptions,
  ): Promise<{ ok: true; status: number; value: unknown } | { ok: false; error: TavilyError; retryAfter?: number }> {
    const remaining = call.deadline - now();
    if (remaining <= 0) return { ok: false, error: new TavilyError('timeout', 'The deadline passed before Tavily answered') };
    const timeout = AbortSignal.timeout(remaining);
    const signal = call.signal ? AbortSignal.any([timeout, call.signal]) : timeout;
    const started = now();
    let response: BoundedResponse;
    try {
      response = await boundedRequest(`${base}/${request.path}`, {
        method: request.method,
        headers: {
          ...(request.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          Accept: 'application/json',
          Authorization: `Bearer ${key}`,
        },
        ...(request.body !== undefined ? { body: request.body } : {}),
        maxBytes,
        signal,
        keepAlive: true,
      });
    } catch (error) {
      const status = findCause(error, HttpRequestError)?.status;
      call.onAttempt?.(status ?? 0, now() - started);
      if (timeout.aborted) {
        return { ok: false, error: new TavilyError('timeout', status === undefined ? 'Tavily did not answer in time' : 'Tavily did not finish answering in time', { cause: error }) };
      }
      if (call.signal?.aborted) return { ok: false, error: new TavilyError('timeout', 'The request was cancelled', { cause: error }) };
      const kind = findCause(error, HttpRequestError)?.kind;
      if (kind === 'too-large') return { ok: false, error: new TavilyError('bad_response', `Tavily's answer exceeds ${maxBytes} bytes`, { status }) };
      if (status !== undefined) return { ok: false, error: new TavilyError('unavailable', 'Tavily cut its answer off', { status, cause: error }) };
      return { ok: false, error: new TavilyError('unavailable', `Tavily could not be reached (${kind ?? 'network'})`, { cause: error }) };
    }
    call.onAttempt?.(response.status, now() - started);
    // A redirect is not followed (the key would go wherever it points): Tavily is not reachable as configured.
    if (response.status >= 300 && response.status < 400) {
      return { ok: false, error: new TavilyError('unavailable', `Tavily answered with a redirect (HTTP ${response.status}), which is not followed`, { status: response.status }) };
    }
    const text = decodeUtf8(response.body);
    let document: unknown;
    let parsed = false;
    if (text !== undefined) {
      try {
        document = JSON.parse(text);
        parsed = true;
      } catch {
        parsed = false;
      }
    }
    if (request.success.includes(response.status)) {
      const { status } = response;
      if (!parsed) return { ok: false, error: new TavilyError('bad_response', 'Tavily answered with something that is not JSON', { status }) };
      return { ok: true, status, value: document };
    }
    return {
      ok: false,
      error: errorForStatus(response.status, parsed ? upstreamDetail(document, key) : undefined),
      retryAfter: retryAfterMs(headerOf(response, 'retry-after') ?? null, now()),
    };
  }

  /** One request, retried as it allows while the deadline does; its status and parsed answer, or a `TavilyError`. */
  async function send(request: TavilyHttpRequest, call: CallOptions): Promise<{ status: number; value: unknown }> {
    let key: string;
    try {
      key = await options.apiKey();
    } catch (error) {
      if (error instanceof TavilyError) throw error;
      throw new TavilyError('missing_key', (error as Error).message, { cause: error });
    }
    for (let attemptNumber = 1; ; attemptNumber++) {
      const result = await attempt(request, key, call);
      if (result.ok) return result;
      const { error } = result;
      if (!request.retryable(error) || attemptNumber >= maxAttempts) throw error;
      // Exponential backoff with full jitter, or Tavily's own Retry-After if longer.
      const backoff = random() * baseDelayMs * 2 ** (attemptNumber - 1);
      const delay = Math.max(backoff, result.retryAfter ?? 0);
      if (now() + delay + TAVILY_DEFAULTS.minAttemptMs > call.deadline) throw error;
      await sleep(delay);
    }
  }

  return {
    /**
     * POST `body` to an endpoint; the parsed JSON answer, or a `TavilyError`.
     * For `research` the answer is the started research (`request_id`; Tavily answers 201).
     */
    async call(endpoint: TavilyEndpoint, requestBody: Readonly<Record<string, unknown>>, call: CallOptions): Promise<unknown> {
      const starts = endpoint === 'research';
      const request: TavilyHttpRequest = {
        method: 'POST',
        path: endpoint,
        body: JSON.stringify(requestBody),
        success: starts ? [200, 201] : [200],
        retryable: starts ? retryableBeforeStart : retryableAlways,
      };
      return (await send(request, call)).value;
    },

    /** The status of a research `call('research', …)` started: running (202), or its outcome (200). */
    async researchStatus(requestId: string, call: CallOptions): Promise<ResearchStatusAnswer> {
      const request: TavilyHttpRequest = {
        method: 'GET',
        path: `research/${encodeURIComponent(requestId)}`,
        success: [200, 202],
        retryable: retryableAlways,
      };
      const { status, value } = await send(request, call);
      return { running: status === 202, answer: value };
    },
  };
}

/** The whole API: what the research tasks use. */
export type TavilyApi = ReturnType<typeof createTavilyClient>;
/**
 * What a tool call gets: the POSTs, which the usage guard meters (quota/usage-guard.ts).
 * A research's later status checks are not part of any one tool call's cost.
 */
export type TavilyClient = Pick<TavilyApi, 'call'>;
