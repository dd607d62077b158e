/**
 * `npm run dev`'s console (local/dev-console.ts): one line per request from the
 * gateway's entry and the function lines with its request id, warnings and
 * errors in full, the JSON and EMF lines only in the json format. The function
 * lines here are lines the functions printed (captured from a local stack).
 */
import type { AccessLogEntry } from '../../../local/gateway.js';
import { DevConsole, formatProblem, formatRequest, parseFunctionLine } from '../../../local/dev-console.js';

const ID = '1f299f7c-56ae-4527-acde-746dab9aa80e';
const common = (requestId: string, fn = 'mcp') =>
  `"timestamp":"2026-12-03T18:34:24.528Z","service":"web-search-mcp-${fn}","cold_start":false,"function_arn":"arn:aws:lambda:local:000000000000:function:${fn}","function_memory_size":"512","function_name":"${fn}","function_request_id":"${requestId}","sampling_rate":0,"requestId":"${requestId}"`;

const LINES = {
  toolCall: `{"level":"INFO","message":"Tool call",${common(ID)},"tool":"web_search","outcome":"ok","durationMs":514,"tavilyAttempts":1,"tavilyMs":33,"tavilyStatus":200}`,
  usage: `{"level":"INFO","message":"Usage",${common(ID)},"sub":"dev-m2m-client","client_id":"dev-m2m-client","tool":"web_search","cache":"miss","credits":1,"estimatedCredits":1,"totalCreditsToday":3}`,
  rpc: `{"level":"INFO","message":"JSON-RPC",${common(ID)},"method":"tools/call","era":"legacy","outcome":"result","status":200,"durationMs":592}`,
  metrics: `{"_aws":{"Timestamp":1796322865050,"CloudWatchMetrics":[{"Namespace":"WebSearchMcp","Dimensions":[["service"]],"Metrics":[{"Name":"ToolCalls","Unit":"Count"}]}]},"service":"mcp","ToolCalls":2}`,
  quota: `{"level":"WARN","message":"Quota refused",${common('q-1')},"sub":"dev-m2m-client","client_id":"dev-m2m-client","tool":"web_map","limit":"calls_per_minute","subject":"client","max":3}`,
  quotaRpc: `{"level":"INFO","message":"JSON-RPC",${common('q-1')},"method":"tools/call","era":"legacy","outcome":"result","status":200,"durationMs":31}`,
  rateLimited: `{"level":"INFO","message":"Tool call",${common('r-1')},"tool":"web_search","outcome":"tool_error","durationMs":410,"errorKind":"rate_limited","tavilyAttempts":3,"tavilyMs":25,"tavilyStatus":429}`,
  cacheHit: `{"level":"INFO","message":"Usage",${common('c-1')},"sub":"usr_dev","client_id":"abc","tool":"web_search","cache":"hit","credits":0,"estimatedCredits":0}`,
  cacheHitRpc: `{"level":"INFO","message":"JSON-RPC",${common('c-1')},"method":"tools/call","era":"modern","outcome":"result","status":200,"durationMs":29}`,
  denied: `{"level":"INFO","message":"Authorization decision",${common('d-1', 'authorizer')},"outcome":"unauthorized","reason":"expired","token":"h_abc"}`,
  unhandled: `{"level":"ERROR","message":"Unhandled error",${common('e-1', 'register')},"errorName":"TypeError","errorMessage":"boom","stack":"TypeError: boom\\n    at register (index.ts:10:5)\\n    at run (index.ts:20:3)"}`,
};

const entry = (requestId: string, extra: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  requestId,
  method: 'POST',
  path: '/web-search/mcp',
  status: 200,
  latencyMs: 927,
  authorizer: 'cached',
  ...extra,
});

const AT = new Date(2026, 11, 3, 18, 34, 24);

function records(...lines: string[]) {
  return lines.map(parseFunctionLine).map((line) => {
    if (line.kind !== 'record') throw new Error('expected a record');
    return line;
  });
}

describe('parseFunctionLine', () => {
  test('a Powertools record: level, message, request id, and only its own fields', () => {
    expect(parseFunctionLine(LINES.toolCall)).toEqual({
      kind: 'record',
      level: 'INFO',
      message: 'Tool call',
      requestId: ID,
      fields: { tool: 'web_search', outcome: 'ok', durationMs: 514, tavilyAttempts: 1, tavilyMs: 33, tavilyStatus: 200 },
    });
  });

  test('EMF metric lines are metrics; anything not a Powertools record is other, kept whole', () => {
    expect(parseFunctionLine(LINES.metrics)).toEqual({ kind: 'metrics' });
    for (const text of ['(node:123) Warning: something', '{not json', '[1,2]', '{"message":"no level"}']) {
      expect(parseFunctionLine(text)).toEqual({ kind: 'other', text });
    }
  });
});

describe('formatRequest: one line per request', () => {
  test('a tool call: method, path, status, time, tool, outcome, Tavily, cache and credits', () => {
    expect(formatRequest(entry(ID), records(LINES.toolCall, LINES.usage, LINES.rpc), AT)).toBe(
      '18:34:24 POST /web-search/mcp 200 927 ms  tools/call web_search ok, Tavily 200 in 33 ms · cache miss, 1 credit (3 today)',
    );
  });

  test('a cache hit, a quota refusal, a Tavily failure after retries', () => {
    expect(formatRequest(entry('c-1', { latencyMs: 34 }), records(LINES.cacheHit, LINES.cacheHitRpc), AT)).toBe(
      '18:34:24 POST /web-search/mcp 200 34 ms  tools/call web_search · cache hit, no Tavily credits',
    );
    expect(formatRequest(entry('q-1', { latencyMs: 38 }), records(LINES.quota, LINES.quotaRpc), AT)).toBe(
      '18:34:24 POST /web-search/mcp 200 38 ms  tools/call web_map · quota refused: calls_per_minute of this client (max 3)',
    );
    expect(formatRequest(entry('r-1', { latencyMs: 441 }), records(LINES.rateLimited), AT)).toBe(
      '18:34:24 POST /web-search/mcp 200 441 ms  tools/call web_search tool_error (rate_limited), Tavily 429 in 25 ms, 3 attempts',
    );
  });

  test("the authorizer's refusal, a request without a token, the gateway's own errors", () => {
    expect(formatRequest(entry('d-1', { status: 401, latencyMs: 12, authorizer: 'invoked' }), records(LINES.denied), AT)).toBe(
      '18:34:24 POST /web-search/mcp 401 12 ms  authorizer unauthorized (expired)',
    );
    expect(formatRequest(entry('n-1', { status: 401, latencyMs: 3, authorizer: 'skipped' }), [], AT)).toBe(
      '18:34:24 POST /web-search/mcp 401 3 ms  no Authorization header',
    );
    expect(formatRequest(entry('t-1', { status: 504, latencyMs: 29_001, error: 'Task timed out after 28 seconds' }), [], AT)).toBe(
      '18:34:24 POST /web-search/mcp 504 29001 ms  error: Task timed out after 28 seconds',
    );
    expect(formatRequest({ requestId: 'g', method: 'GET', path: '/nope', status: 404, latencyMs: 3 }, [], AT)).toBe('18:34:24 GET /nope 404 3 ms');
  });
});

describe('formatProblem: warnings and errors in full', () => {
  test('every field of its own, and the stack on the lines below', () => {
    const [error] = records(LINES.unhandled);
    expect(formatProblem('register', error!)).toBe(
      [
        'ERROR [register] Unhandled error  errorName=TypeError errorMessage=boom',
        '      TypeError: boom',
        '      at register (index.ts:10:5)',
        '      at run (index.ts:20:3)',
      ].join('\n'),
    );
    const [warning] = records(LINES.quota);
    expect(formatProblem('mcp', warning!)).toBe(
      'WARN  [mcp] Quota refused  sub=dev-m2m-client client_id=dev-m2m-client tool=web_map limit=calls_per_minute subject=client max=3',
    );
  });
});

describe('DevConsole', () => {
  function console(format: 'text' | 'json') {
    const written: string[] = [];
    const output = new DevConsole({ format, write: (text) => written.push(text), graceMs: 60_000, now: () => AT });
    return { output, written };
  }

  test('text: function lines wait for their request; EMF lines are dropped; one line per request', () => {
    const { output, written } = console('text');
    for (const line of [LINES.toolCall, LINES.metrics, LINES.usage, LINES.rpc]) output.onLog('mcp', line);
    output.onAccessLog(entry(ID));
    expect(written).toEqual([]);
    output.flush();
    expect(written).toEqual(['18:34:24 POST /web-search/mcp 200 927 ms  tools/call web_search ok, Tavily 200 in 33 ms · cache miss, 1 credit (3 today)\n']);
  });

  test('text: a line that arrives after the answer, within the grace, still joins its request', () => {
    const { output, written } = console('text');
    output.onAccessLog(entry('c-1', { latencyMs: 34 }));
    output.onLog('mcp', LINES.cacheHit);
    output.flush();
    expect(written).toEqual(['18:34:24 POST /web-search/mcp 200 34 ms  cache hit, no Tavily credits\n']);
  });

  test('text: warnings, errors and foreign lines are printed at once, in full', () => {
    const { output, written } = console('text');
    output.onLog('mcp', LINES.quota);
    output.onLog('mcp', '(node:42) NodeVersionSupportWarning: a runtime warning');
    expect(written).toEqual([
      'WARN  [mcp] Quota refused  sub=dev-m2m-client client_id=dev-m2m-client tool=web_map limit=calls_per_minute subject=client max=3\n',
      '[mcp] (node:42) NodeVersionSupportWarning: a runtime warning\n',
    ]);
  });

  test('json: every line as the function printed it, and the gateway line as before', () => {
    const { output, written } = console('json');
    output.onLog('mcp', LINES.metrics);
    output.onLog('mcp', LINES.toolCall);
    output.onAccessLog(entry(ID));
    expect(written).toEqual([`[mcp] ${LINES.metrics}\n`, `[mcp] ${LINES.toolCall}\n`, '[gateway] POST /web-search/mcp 200 927ms authorizer:cached\n']);
  });
});
