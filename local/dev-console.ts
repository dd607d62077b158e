/**
 * What `npm run dev` prints while it runs. In the default `text` format: one
 * line per request, built from the gateway's access log entry and the
 * functions' own log lines for that request (matched by the request id every
 * Powertools line carries), and every warning, error and line that is not a
 * Powertools record in full. The JSON lines themselves and the EMF metric lines
 * are printed only in the `json` format (`npm run dev -- --json`,
 * `LOG_FORMAT=json`), exactly as the functions wrote them.
 *
 * This reads what the functions print; it changes nothing about it. It is keyed
 * on the messages they log: `JSON-RPC` (lambda/mcp/index.ts, sdk-path.ts),
 * `Tool call` (sdk-path.ts), `Usage`, `Quota refused`, `Usage store error`
 * (lambda/mcp/quota/index.ts) and `Authorization decision` (lambda/authorizer).
 */
import type { FunctionName } from '../lambda/shared/routes.js';
import type { AccessLogEntry } from './gateway.js';

export const CONSOLE_FORMATS = ['text', 'json'] as const;
export type ConsoleFormat = (typeof CONSOLE_FORMATS)[number];

/** A function's log line, parsed: a Powertools record, an EMF metric line, or anything else. */
export type FunctionLine =
  | { readonly kind: 'record'; readonly level: string; readonly message: string; readonly requestId?: string; readonly fields: Readonly<Record<string, unknown>> }
  | { readonly kind: 'metrics' }
  | { readonly kind: 'other'; readonly text: string };

/** Fields every Powertools line repeats; the console shows what is particular to a line. */
const BOILERPLATE = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
  'requestId',
]);

export function parseFunctionLine(line: string): FunctionLine {
  if (!line.startsWith('{')) return { kind: 'other', text: line };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { kind: 'other', text: line };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { kind: 'other', text: line };
  const record = parsed as Record<string, unknown>;
  if ('_aws' in record) return { kind: 'metrics' };
  if (typeof record.level !== 'string' || typeof record.message !== 'string') return { kind: 'other', text: line };
  const fields = Object.fromEntries(Object.entries(record).filter(([key]) => !BOILERPLATE.has(key)));
  const requestId = typeof record.requestId === 'string' ? record.requestId : typeof record.function_request_id === 'string' ? record.function_request_id : undefined;
  return { kind: 'record', level: record.level.toUpperCase(), message: record.message, ...(requestId ? { requestId } : {}), fields };
}

type FunctionRecord = Extract<FunctionLine, { kind: 'record' }>;

const isProblem = (level: string) => level === 'WARN' || level === 'ERROR' || level === 'CRITICAL';

function text(value: unknown): string {
  if (typeof value === 'string') return /[\s"]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/**
 * A warning or error, all of its own fields: `key=value` on the line, a stack on
 * the lines below it (it is the one thing that is clearer unflattened).
 */
export function formatProblem(functionName: string, record: FunctionRecord): string {
  const stacks: string[] = [];
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(record.fields)) {
    if (key === 'stack' && typeof value === 'string') stacks.push(value);
    else if (key === 'error' && typeof value === 'object' && value !== null && typeof (value as { stack?: unknown }).stack === 'string') {
      const { stack, ...rest } = value as { stack: string };
      pairs.push(`error=${text(rest)}`);
      stacks.push(stack);
    } else pairs.push(`${key}=${text(value)}`);
  }
  const head = `${record.level.padEnd(5)} [${functionName}] ${record.message}${pairs.length ? `  ${pairs.join(' ')}` : ''}`;
  return [head, ...stacks.flatMap((stack) => stack.split('\n').map((line) => `      ${line.trim()}`))].join('\n');
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** The notes a request's function records add to its line: what ran, how it ended, Tavily, cache, quota. */
function notes(records: readonly FunctionRecord[]): string[] {
  const parts: string[] = [];
  const byMessage = (message: string) => records.filter((record) => record.message === message).map((record) => record.fields);
  for (const decision of byMessage('Authorization decision')) {
    if (decision.outcome !== 'allow') parts.push(`authorizer ${String(decision.outcome)}${decision.reason ? ` (${String(decision.reason)})` : ''}`);
  }
  const toolCalls = byMessage('Tool call');
  // A call answered from the cache or refused by a quota has no `Tool call` line; its `Usage` or `Quota refused` line names the tool.
  const guardedTool = records.find((record) => record.message === 'Usage' || record.message === 'Quota refused')?.fields.tool;
  for (const rpc of byMessage('JSON-RPC')) {
    if (rpc.method === 'tools/call' && toolCalls.length > 0) continue;
    const failed = rpc.outcome === 'error';
    const tool = rpc.method === 'tools/call' && guardedTool !== undefined ? ` ${String(guardedTool)}` : '';
    parts.push(`${String(rpc.method)}${tool}${failed ? ` error${rpc.errorCode !== undefined ? ` ${String(rpc.errorCode)}` : ''}` : ''}`);
  }
  for (const call of toolCalls) {
    const outcome = call.outcome === 'ok' ? 'ok' : `${String(call.outcome)}${call.errorKind ? ` (${String(call.errorKind)})` : ''}`;
    let part = `tools/call ${String(call.tool)} ${outcome}`;
    if (call.tavilyStatus !== undefined) {
      const attempts = typeof call.tavilyAttempts === 'number' && call.tavilyAttempts > 1 ? `, ${call.tavilyAttempts} attempts` : '';
      part += `, Tavily ${call.tavilyStatus === 0 ? 'no answer' : String(call.tavilyStatus)} in ${String(call.tavilyMs ?? '?')} ms${attempts}`;
    }
    parts.push(part);
  }
  for (const usage of byMessage('Usage')) {
    if (usage.cache === 'hit') {
      parts.push('cache hit, no Tavily credits');
      continue;
    }
    // Credits are counted only while a credit budget is on; then the server's total for the day comes with them.
    const credits = typeof usage.totalCreditsToday === 'number' ? `, ${plural(Number(usage.credits), 'credit')} (${usage.totalCreditsToday} today)` : '';
    parts.push(`cache ${String(usage.cache)}${credits}`);
  }
  for (const refusal of byMessage('Quota refused')) {
    parts.push(`quota refused: ${String(refusal.limit)} of this ${refusal.subject === 'sub' ? 'user' : String(refusal.subject)} (max ${String(refusal.max)})`);
  }
  for (const failure of byMessage('Usage store error')) parts.push(`usage store error, call ${failure.decision === 'deny' ? 'refused' : 'let through uncounted'}`);
  return parts;
}

/** Local wall-clock time, HH:MM:SS. */
const clock = (date: Date) => date.toTimeString().slice(0, 8);

/** The one line of a request. */
export function formatRequest(entry: AccessLogEntry, records: readonly FunctionRecord[], at: Date = new Date()): string {
  const head = `${clock(at)} ${entry.method} ${entry.path} ${entry.status} ${entry.latencyMs} ms`;
  const parts = notes(records);
  if (entry.authorizer === 'skipped') parts.unshift('no Authorization header');
  if (entry.error) parts.push(`error: ${entry.error}`);
  return parts.length ? `${head}  ${parts.join(' · ')}` : head;
}

export interface DevConsoleOptions {
  readonly format: ConsoleFormat;
  readonly write: (text: string) => void;
  /** How long a request's line waits for its function lines, which travel through the instance's stdout and can arrive after the answer. */
  readonly graceMs?: number;
  readonly now?: () => Date;
}

/** Request ids whose line is printed, kept so that a late INFO line for one is not printed on its own. */
const REMEMBERED_REQUESTS = 1_000;

export class DevConsole {
  private readonly waiting = new Map<string, FunctionRecord[]>();
  private readonly printed = new Set<string>();
  /** Requests whose line waits for late function lines, by their timer. */
  private readonly due = new Map<NodeJS.Timeout, AccessLogEntry>();

  constructor(private readonly options: DevConsoleOptions) {}

  /** A function's log line (lambda-runtime's onLog). */
  readonly onLog = (functionName: FunctionName, line: string): void => {
    if (this.options.format === 'json') {
      this.options.write(`[${functionName}] ${line}\n`);
      return;
    }
    const parsed = parseFunctionLine(line);
    if (parsed.kind === 'metrics') return;
    if (parsed.kind === 'other') {
      if (parsed.text.trim()) this.options.write(`[${functionName}] ${parsed.text}\n`);
      return;
    }
    if (isProblem(parsed.level)) this.options.write(`${formatProblem(functionName, parsed)}\n`);
    if (!parsed.requestId || this.printed.has(parsed.requestId)) return;
    const records = this.waiting.get(parsed.requestId);
    if (records) records.push(parsed);
    else {
      this.waiting.set(parsed.requestId, [parsed]);
      // Lines of requests that never reach the gateway's log (invocations outside it) must not pile up.
      if (this.waiting.size > REMEMBERED_REQUESTS) this.waiting.delete(this.waiting.keys().next().value!);
    }
  };

  /** The gateway's access log entry of a request (gateway's onAccessLog). */
  readonly onAccessLog = (entry: AccessLogEntry): void => {
    if (this.options.format === 'json') {
      this.options.write(
        `[gateway] ${entry.method} ${entry.path} ${entry.status} ${entry.latencyMs}ms${entry.authorizer ? ` authorizer:${entry.authorizer}` : ''}${entry.error ? ` (${entry.error})` : ''}\n`,
      );
      return;
    }
    const timer = setTimeout(() => {
      this.due.delete(timer);
      this.print(entry);
    }, this.options.graceMs ?? 100);
    timer.unref();
    this.due.set(timer, entry);
  };

  private print(entry: AccessLogEntry) {
    const records = this.waiting.get(entry.requestId) ?? [];
    this.waiting.delete(entry.requestId);
    this.printed.add(entry.requestId);
    if (this.printed.size > REMEMBERED_REQUESTS) this.printed.delete(this.printed.values().next().value!);
    this.options.write(`${formatRequest(entry, records, this.options.now?.() ?? new Date())}\n`);
  }

  /** Print every line still waiting (the stack is stopping). */
  flush(): void {
    for (const [timer, entry] of this.due) {
      clearTimeout(timer);
      this.print(entry);
    }
    this.due.clear();
  }
}
