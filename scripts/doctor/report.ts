/**
 * What the doctor found, as data (`--json` prints it as is) and as the lines
 * an operator reads: `✓`/`✗` per check, an indented fix under each `✗` and a
 * note under each warning.
 */

export type StepNumber = 1 | 2 | 3 | 4 | 5 | 6;

/**
 * pass: fine. warn: works for MCP clients, but something deserves attention (printed ✓ with a note).
 * fail: a client would fail here. blocked: not checked because an earlier check failed (printed ✗).
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'blocked';

type Details = Readonly<Record<string, unknown>>;

export interface CheckResult {
  readonly step: StepNumber;
  /** Stable identifier for scripts reading `--json`, e.g. `resource-metadata.resource`. */
  readonly id: string;
  readonly status: CheckStatus;
  readonly summary: string;
  /** What to change, for fail and blocked; what to consider, for warn. */
  readonly fix?: string;
  readonly details?: Details;
}

/** One check's result, by status. `blocked`: an earlier failure left nothing to check. */
export const pass = (step: StepNumber, id: string, summary: string, details?: Details): CheckResult => ({ step, id, status: 'pass', summary, ...(details ? { details } : {}) });
export const warn = (step: StepNumber, id: string, summary: string, fix: string, details?: Details): CheckResult => ({ step, id, status: 'warn', summary, fix, ...(details ? { details } : {}) });
export const fail = (step: StepNumber, id: string, summary: string, fix: string, details?: Details): CheckResult => ({ step, id, status: 'fail', summary, fix, ...(details ? { details } : {}) });
export const blocked = (step: StepNumber, id: string, what: string, because: string): CheckResult => ({
  step,
  id,
  status: 'blocked',
  summary: `${what}: not checked (${because})`,
  fix: 'fix the failure above first, then run the doctor again',
});

export interface DoctorReport {
  readonly target: {
    readonly input: string;
    readonly mcpUrl: string;
    readonly baseUrl: string;
  };
  /** Present when client credentials were given: never the id itself, only its start. */
  readonly client?: { readonly clientIdPrefix: string; readonly scope: string | undefined };
  readonly ok: boolean;
  readonly counts: { readonly passed: number; readonly warnings: number; readonly failed: number; readonly blocked: number };
  readonly checks: readonly CheckResult[];
  /** What discovery yielded, for scripts. */
  readonly discovered: {
    readonly challenge?: string;
    readonly resourceMetadataUrl?: string;
    readonly resource?: string;
    readonly authorizationServer?: string;
    readonly authorizationServerMetadataUrl?: string;
    readonly issuer?: string;
    readonly tokenEndpoint?: string;
    readonly jwksUri?: string;
    readonly requiredScopes?: readonly string[];
    readonly tools?: readonly string[];
  };
  /** Why step 5 did not run, when it did not. */
  readonly notRun?: string;
}

export function countChecks(checks: readonly CheckResult[]): DoctorReport['counts'] {
  const count = (status: CheckStatus) => checks.filter((check) => check.status === status).length;
  return { passed: count('pass'), warnings: count('warn'), failed: count('fail'), blocked: count('blocked') };
}

const MARK: Readonly<Record<CheckStatus, string>> = { pass: '✓', warn: '✓', fail: '✗', blocked: '✗' };

export function formatReport(report: DoctorReport): string {
  const lines = [`web-search-mcp doctor: ${report.target.mcpUrl}`];
  if (report.client) {
    lines.push(`  client ${report.client.clientIdPrefix} (client_credentials${report.client.scope ? `, scope "${report.client.scope}"` : ''})`);
  }
  lines.push('');
  for (const check of report.checks) {
    lines.push(`${MARK[check.status]} ${check.step}. ${check.summary}`);
    if (check.fix) lines.push(`    ${check.status === 'warn' ? 'note' : 'fix'}: ${check.fix}`);
  }
  lines.push('');
  const { passed, warnings, failed, blocked } = report.counts;
  const parts = [`${passed + warnings} passed${warnings ? ` (${warnings} with a note)` : ''}`, `${failed} failed`];
  if (blocked) parts.push(`${blocked} not checked`);
  lines.push(`${report.ok ? 'OK' : 'PROBLEMS FOUND'}: ${parts.join(', ')}.`);
  if (report.notRun) lines.push(report.notRun);
  return `${lines.join('\n')}\n`;
}

export function formatJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Replace every occurrence of the given secrets in every string of a value.
 * Checks are written never to include secrets; this catches one echoed back by
 * a server (an error body quoting the request, say).
 */
export function redact<T>(value: T, secrets: readonly string[]): T {
  const meaningful = secrets.filter((secret) => secret.length >= 4);
  if (meaningful.length === 0) return value;
  const scrub = (item: unknown): unknown => {
    if (typeof item === 'string') return meaningful.reduce((text, secret) => text.split(secret).join('[redacted]'), item);
    if (Array.isArray(item)) return item.map(scrub);
    if (item && typeof item === 'object') return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, scrub(inner)]));
    return item;
  };
  return scrub(value) as T;
}

/** Enough of a client id to recognise it, not enough to use it. */
export function clientIdPrefix(clientId: string): string {
  return clientId.length <= 8 ? `${clientId.slice(0, Math.max(1, Math.floor(clientId.length / 2)))}…` : `${clientId.slice(0, 8)}…`;
}
