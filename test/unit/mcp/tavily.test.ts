import {
  createTavilyClient,
  retryAfterMs,
  TavilyError,
  type CallOptions,
  type TavilyClientOptions,
} from '../../../lambda/mcp/tavily.js';
import { WebSearchMcpError } from '../../../lambda/shared/errors.js';
import { startFakeTavily, TAVILY_ERRORS, tavilyError, type FakeTavily } from '../../fixtures/fake-tavily.js';
import { unusedLoopbackUrl } from '../helpers/loopback-server.js';

let tavily: FakeTavily;
let clock: number;
let sleeps: number[];

beforeAll(async () => {
  tavily = await startFakeTavily('tvly-unit-key');
});

afterAll(async () => {
  await tavily?.close();
});

beforeEach(() => {
  tavily.reset();
  clock = 1_800_000_000_000;
  sleeps = [];
});

/** A client whose time only moves when it sleeps: every delay it asks for is recorded, none is waited. */
function client(options: Partial<TavilyClientOptions> = {}) {
  return createTavilyClient({
    baseUrl: tavily.url,
    apiKey: async () => tavily.apiKey,
    random: () => 0.5,
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    ...options,
  });
}

const within = (ms: number, more: Partial<CallOptions> = {}): CallOptions => ({ deadline: clock + ms, ...more });

async function tavilyFailure(promise: Promise<unknown>): Promise<TavilyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TavilyError);
    return error as TavilyError;
  }
  throw new Error('expected a TavilyError');
}

describe('a successful call', () => {
  test('POSTs the JSON body to {base}/{endpoint} with the server’s own Bearer key and returns the parsed answer', async () => {
    const answer = await client().call('search', { query: 'mcp', max_results: 2 }, within(20_000));
    expect(answer).toMatchObject({ query: 'mcp', results: [{ url: 'https://example.com/mcp/1' }, { url: 'https://example.com/mcp/2' }] });
    expect(tavily.requests).toHaveLength(1);
    const [request] = tavily.requests;
    expect(request!.endpoint).toBe('search');
    expect(request!.method).toBe('POST');
    expect(request!.headers.authorization).toBe('Bearer tvly-unit-key');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers.accept).toBe('application/json');
    expect(request!.rawBody).toBe('{"query":"mcp","max_results":2}');
    expect(sleeps).toEqual([]);
  });

  test('a trailing slash on the base URL is dropped', async () => {
    await client({ baseUrl: `${tavily.url}//` }).call('map', { url: 'https://example.com' }, within(20_000));
    expect(tavily.requests.map((request) => request.endpoint)).toEqual(['map']);
  });

  test('the key is resolved per call, not at creation', async () => {
    let resolved = 0;
    const lazy = client({
      apiKey: async () => {
        resolved += 1;
        return tavily.apiKey;
      },
    });
    expect(resolved).toBe(0);
    await lazy.call('search', { query: 'a' }, within(20_000));
    expect(resolved).toBe(1);
  });

  test('onAttempt hears each attempt’s status', async () => {
    tavily.enqueue('search', tavilyError(503));
    const statuses: number[] = [];
    await client().call('search', { query: 'a' }, within(20_000, { onAttempt: (status) => statuses.push(status) }));
    expect(statuses).toEqual([503, 200]);
  });
});

describe('retries', () => {
  test('429 is retried after Tavily’s Retry-After when it is longer than the backoff', async () => {
    tavily.enqueue('search', { kind: 'status', status: 429, headers: { 'Retry-After': '2' } });
    const answer = await client().call('search', { query: 'a' }, within(20_000));
    expect(answer).toMatchObject({ query: 'a' });
    expect(sleeps).toEqual([2_000]);
    expect(tavily.requests).toHaveLength(2);
  });

  test('5xx without Retry-After: exponential backoff with jitter (random 0.5: 125 ms, then 250 ms)', async () => {
    tavily.enqueue('extract', tavilyError(500), tavilyError(502));
    await client().call('extract', { urls: ['https://example.com'] }, within(20_000));
    expect(sleeps).toEqual([125, 250]);
    expect(tavily.requests).toHaveLength(3);
  });

  test('the jitter scales the backoff: random 0 means no wait, random 1 the full base delay', async () => {
    tavily.enqueue('search', tavilyError(503));
    await client({ random: () => 0 }).call('search', { query: 'a' }, within(20_000));
    tavily.enqueue('search', tavilyError(503));
    await client({ random: () => 0.999, baseDelayMs: 1_000 }).call('search', { query: 'a' }, within(20_000));
    expect(sleeps).toEqual([0, 999]);
  });

  test('the backoff wins over a shorter Retry-After', async () => {
    tavily.enqueue('search', { kind: 'status', status: 429, headers: { 'Retry-After': '0' } });
    await client({ baseDelayMs: 1_000 }).call('search', { query: 'a' }, within(20_000));
    expect(sleeps).toEqual([500]);
  });

  test('a Retry-After date is honoured', async () => {
    const at = new Date(clock + 3_000).toUTCString();
    tavily.enqueue('search', { kind: 'status', status: 429, headers: { 'Retry-After': at } });
    await client().call('search', { query: 'a' }, within(20_000));
    expect(sleeps).toEqual([3_000]);
  });

  test('after maxAttempts (3) the last error is thrown', async () => {
    tavily.always('search', tavilyError(503));
    const error = await tavilyFailure(client().call('search', { query: 'a' }, within(20_000)));
    expect(error.kind).toBe('unavailable');
    expect(error.status).toBe(503);
    expect(error.message).toBe('Tavily is unavailable (HTTP 503)');
    expect(tavily.requests).toHaveLength(3);
    expect(sleeps).toEqual([125, 250]);
  });

  test('maxAttempts can be lowered', async () => {
    tavily.always('search', tavilyError(429));
    const error = await tavilyFailure(client({ maxAttempts: 1 }).call('search', { query: 'a' }, within(20_000)));
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, message: 'Tavily rate limit reached' });
    expect(tavily.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('a connection failure is retried, then reported as unavailable', async () => {
    const down = client({ baseUrl: await unusedLoopbackUrl() });
    const error = await tavilyFailure(down.call('search', { query: 'a' }, within(20_000)));
    expect(error.kind).toBe('unavailable');
    expect(error.status).toBeUndefined();
    expect(error.message).toBe('Tavily could not be reached (network)');
    expect(sleeps).toEqual([125, 250]);
    // One of the project's errors, with the exchange's failure, and node:http's under it, for the log.
    expect(error).toBeInstanceOf(WebSearchMcpError);
    expect(error).toMatchObject({ name: 'TavilyError', code: 'ERR_TAVILY' });
    expect(error.cause).toMatchObject({ name: 'HttpRequestError', kind: 'network' });
    expect((error.cause as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('a redirect is not followed: unavailable, and the key goes nowhere else', async () => {
    tavily.always('search', { kind: 'status', status: 307, headers: { Location: 'https://elsewhere.example/search' } });
    const error = await tavilyFailure(client({ maxAttempts: 1 }).call('search', { query: 'a' }, within(20_000)));
    expect(error).toMatchObject({ kind: 'unavailable', status: 307 });
    expect(error.message).toBe('Tavily answered with a redirect (HTTP 307), which is not followed');
  });

  test.each([
    [400, 'bad_request', 'Tavily refused the request parameters'],
    [401, 'invalid_key', 'Tavily refused the API key'],
    [403, 'invalid_key', 'Tavily refused the API key'],
    [432, 'plan_limit', "Tavily plan's credit limit reached"],
    [433, 'paygo_limit', 'Tavily pay-as-you-go limit reached'],
    [404, 'bad_request', 'Tavily answered HTTP 404'],
  ])('HTTP %d is never retried: %s', async (status, kind, message) => {
    tavily.enqueue('crawl', { kind: 'status', status, body: { detail: { error: TAVILY_ERRORS[status] ?? 'error' } }, headers: { 'Retry-After': '1' } });
    const error = await tavilyFailure(client().call('crawl', { url: 'https://example.com' }, within(20_000)));
    expect(error).toMatchObject({ kind, status, message });
    expect(error.name).toBe('TavilyError');
    expect(tavily.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('no retry is started when the wait plus a useful attempt would pass the deadline', async () => {
    tavily.enqueue('search', { kind: 'status', status: 429, headers: { 'Retry-After': '2' } });
    // 2 s of waiting + 1 s for the attempt > 2.5 s left.
    const error = await tavilyFailure(client().call('search', { query: 'a' }, within(2_500)));
    expect(error.kind).toBe('rate_limited');
    expect(tavily.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('a retry that just fits the deadline is made', async () => {
    tavily.enqueue('search', { kind: 'status', status: 429, headers: { 'Retry-After': '2' } });
    await client().call('search', { query: 'a' }, within(3_000));
    expect(sleeps).toEqual([2_000]);
    expect(tavily.requests).toHaveLength(2);
  });
});

describe('time limits', () => {
  test('a deadline already passed: timeout, nothing sent', async () => {
    const error = await tavilyFailure(client().call('search', { query: 'a' }, { deadline: clock }));
    expect(error).toMatchObject({ kind: 'timeout', message: 'The deadline passed before Tavily answered' });
    expect(tavily.requests).toHaveLength(0);
  });

  test('Tavily not answering before the deadline: timeout, not retried', async () => {
    tavily.enqueue('search', { kind: 'hang' });
    const attempts: number[] = [];
    const error = await tavilyFailure(
      client().call('search', { query: 'a' }, within(150, { onAttempt: (status) => attempts.push(status) })),
    );
    expect(error).toMatchObject({ kind: 'timeout', message: 'Tavily did not answer in time' });
    expect(error.status).toBeUndefined();
    expect(attempts).toEqual([0]);
    expect(tavily.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('a cancelled call: timeout "cancelled", not retried', async () => {
    tavily.enqueue('search', { kind: 'hang' });
    const controller = new AbortController();
    const call = client().call('search', { query: 'a' }, within(20_000, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const error = await tavilyFailure(call);
    expect(error).toMatchObject({ kind: 'timeout', message: 'The request was cancelled' });
    expect(tavily.requests).toHaveLength(1);
  });
});

describe('answers that cannot be used', () => {
  test('a 200 that is not JSON: bad_response', async () => {
    tavily.enqueue('search', { kind: 'raw', status: 200, text: '<html>hello</html>' });
    const error = await tavilyFailure(client().call('search', { query: 'a' }, within(20_000)));
    expect(error).toMatchObject({ kind: 'bad_response', status: 200, message: 'Tavily answered with something that is not JSON' });
    expect(tavily.requests).toHaveLength(1);
  });

  test('an answer over the size limit: bad_response, not retried', async () => {
    tavily.enqueue('search', { kind: 'huge', bytes: 256 * 1024 });
    const error = await tavilyFailure(client({ maxResponseBytes: 64 * 1024 }).call('search', { query: 'a' }, within(20_000)));
    expect(error).toMatchObject({ kind: 'bad_response', status: 200, message: "Tavily's answer exceeds 65536 bytes" });
    expect(tavily.requests).toHaveLength(1);
  });

  test('an answer at the size limit is read', async () => {
    const body = { results: [], padding: 'x'.repeat(1000) };
    tavily.enqueue('search', { kind: 'json', body });
    expect(await client({ maxResponseBytes: JSON.stringify(body).length }).call('search', { query: 'a' }, within(20_000))).toEqual(body);
  });
});

describe('Tavily’s own explanation of a 400', () => {
  const detailOf = async (body: unknown) => {
    tavily.enqueue('search', { kind: 'status', status: 400, body });
    return (await tavilyFailure(client().call('search', { query: 'a' }, within(20_000)))).detail;
  };

  test('detail.error is passed on', async () => {
    expect(await detailOf({ detail: { error: TAVILY_ERRORS[400] } })).toBe('Invalid topic. Must be one of general, news or finance.');
  });

  test('control characters and line breaks become single spaces; ends are trimmed', async () => {
    expect(await detailOf({ detail: { error: '\n Invalid query.\r\n\u0000Use fewer words.\u001b[31m \t' } })).toBe(
      'Invalid query. Use fewer words. [31m',
    );
  });

  test('more than 300 characters is cut to 297 and an ellipsis', async () => {
    const detail = await detailOf({ detail: { error: 'e'.repeat(400) } });
    expect(detail).toBe(`${'e'.repeat(297)}...`);
    expect(detail).toHaveLength(300);
  });

  test('other shapes: detail as a string, error, message', async () => {
    expect(await detailOf({ detail: 'plain detail' })).toBe('plain detail');
    expect(await detailOf({ error: 'top-level error' })).toBe('top-level error');
    expect(await detailOf({ message: 'a message' })).toBe('a message');
  });

  test('no usable text: no detail', async () => {
    expect(await detailOf({ detail: { error: 42 } })).toBeUndefined();
    expect(await detailOf([])).toBeUndefined();
    tavily.enqueue('search', { kind: 'raw', status: 400, text: 'Bad Request <b>raw</b>' });
    expect((await tavilyFailure(client().call('search', { query: 'a' }, within(20_000)))).detail).toBeUndefined();
  });

  test('a 401’s text is never passed on', async () => {
    tavily.enqueue('search', { kind: 'status', status: 401, body: { detail: { error: 'key tvly-abc is revoked' } } });
    const error = await tavilyFailure(client().call('search', { query: 'a' }, within(20_000)));
    expect(error.detail).toBeUndefined();
    expect(error.message).not.toContain('tvly');
  });

  test('the wrong key is refused by Tavily as invalid_key', async () => {
    const error = await tavilyFailure(client({ apiKey: async () => 'tvly-wrong' }).call('search', { query: 'a' }, within(20_000)));
    expect(error).toMatchObject({ kind: 'invalid_key', status: 401 });
  });
});

describe('the API key', () => {
  test('a key that cannot be had: missing_key with the provider’s message, nothing sent', async () => {
    const error = await tavilyFailure(
      client({
        apiKey: async () => {
          throw new Error('TAVILY_API_KEY is not set');
        },
      }).call('search', { query: 'a' }, within(20_000)),
    );
    expect(error).toMatchObject({ kind: 'missing_key', message: 'TAVILY_API_KEY is not set' });
    expect((error.cause as Error).message).toBe('TAVILY_API_KEY is not set');
    expect(tavily.requests).toHaveLength(0);
  });

  test('a TavilyError from the provider is passed through unchanged', async () => {
    const original = new TavilyError('invalid_key', 'The SSM parameter holds no key');
    const error = await tavilyFailure(
      client({
        apiKey: async () => {
          throw original;
        },
      }).call('search', { query: 'a' }, within(20_000)),
    );
    expect(error).toBe(original);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');

  test('seconds', () => {
    expect(retryAfterMs('3', now)).toBe(3_000);
    expect(retryAfterMs(' 10 ', now)).toBe(10_000);
    expect(retryAfterMs('0', now)).toBe(0);
  });

  test('an HTTP date, as time from now; a past date is 0', () => {
    expect(retryAfterMs('Mon, 23 Nov 2026 10:00:05 GMT', now)).toBe(5_000);
    expect(retryAfterMs('Mon, 23 Nov 2026 09:59:00 GMT', now)).toBe(0);
  });

  test('absent or unparseable', () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('', now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

describe('what Tavily says never carries a key to the client', () => {
  test('the server key and anything shaped like a Tavily key are redacted from a 400 detail', async () => {
    const { startFakeTavily } = await import('../../fixtures/fake-tavily.js');
    const { createTavilyClient, TavilyError } = await import('../../../lambda/mcp/tavily.js');
    const fake = await startFakeTavily('tvly-secret-server-key');
    try {
      fake.always('search', { kind: 'status', status: 400, body: { detail: { error: 'Bad key tvly-secret-server-key near tvly-other_Key-9 in query' } } });
      const client = createTavilyClient({ baseUrl: fake.url, apiKey: async () => fake.apiKey });
      const error = await client.call('search', { query: 'x' }, { deadline: Date.now() + 5_000 }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TavilyError);
      expect((error as InstanceType<typeof TavilyError>).detail).toBe('Bad key [redacted] near tvly-[redacted] in query');
    } finally {
      await fake.close();
    }
  });
});

describe('research', () => {
  test('starting one POSTs to {base}/research and takes the 201 that names it', async () => {
    const started = (await client().call('research', { input: 'state of MCP', model: 'mini' }, within(20_000))) as { request_id: string; status: string };
    expect(started.status).toBe('pending');
    expect(tavily.researches.map((each) => each.requestId)).toEqual([started.request_id]);
    const [request] = tavily.requests;
    expect(request!.endpoint).toBe('research');
    expect(request!.method).toBe('POST');
    expect(request!.rawBody).toBe('{"input":"state of MCP","model":"mini"}');
  });

  test('its status is a GET of {base}/research/{request_id}, with the key and no body: 202 running, then 200 with the outcome', async () => {
    tavily.planResearch({ runningChecks: 1, content: 'The report.', credits: 12 });
    const { request_id: id } = (await client().call('research', { input: 'q', include_usage: true }, within(20_000))) as { request_id: string };
    const first = await client().researchStatus(id, within(20_000));
    expect(first).toEqual({ running: true, answer: expect.objectContaining({ request_id: id, status: 'pending' }) });
    const second = await client().researchStatus(id, within(20_000));
    expect(second.running).toBe(false);
    expect(second.answer).toMatchObject({ status: 'completed', content: 'The report.', usage: { credits: 12 } });
    expect((second.answer as { sources: unknown[] }).sources).toHaveLength(2);
    const check = tavily.requests[1]!;
    expect(check).toMatchObject({ endpoint: `research/${id}`, method: 'GET', rawBody: '' });
    expect(check.headers.authorization).toBe('Bearer tvly-unit-key');
    expect(check.headers['content-type']).toBeUndefined();
  });

  test('a held research runs until the fake is told to finish it; a failed one answers 200 status failed', async () => {
    tavily.planResearch({ runningChecks: 'held', outcome: 'failed' });
    const { request_id: id } = (await client().call('research', { input: 'q' }, within(20_000))) as { request_id: string };
    for (let i = 0; i < 3; i++) expect((await client().researchStatus(id, within(20_000))).running).toBe(true);
    tavily.research(id).finish();
    expect(await client().researchStatus(id, within(20_000))).toEqual({ running: false, answer: expect.objectContaining({ status: 'failed' }) });
  });

  test('the request id is one path segment: what it holds cannot reach another endpoint', async () => {
    const error = await tavilyFailure(client().researchStatus('../search', within(20_000)));
    expect(error).toMatchObject({ kind: 'bad_request', status: 404 });
    expect(tavily.requests.map((request) => request.endpoint)).toEqual(['research/..%2Fsearch']);
  });

  test('starting one is retried after a 429 (nothing started), never after a 5xx (one may be running and charging)', async () => {
    tavily.enqueue('research', { kind: 'status', status: 429 });
    await client().call('research', { input: 'q' }, within(20_000));
    expect(tavily.requests.map((request) => request.endpoint)).toEqual(['research', 'research']);
    tavily.reset();
    tavily.enqueue('research', tavilyError(502));
    expect(await tavilyFailure(client().call('research', { input: 'q' }, within(20_000)))).toMatchObject({ kind: 'unavailable', status: 502 });
    expect(tavily.requests).toHaveLength(1);
  });

  test('a status check is retried after a 5xx, as any read', async () => {
    const { request_id: id } = (await client().call('research', { input: 'q' }, within(20_000))) as { request_id: string };
    tavily.enqueue('research-status', tavilyError(503));
    expect((await client().researchStatus(id, within(20_000))).running).toBe(false);
    expect(sleeps).toEqual([125]);
  });
});
