/**
 * `npm run doctor -- <base URL or MCP URL> [--client-id ID --client-secret SECRET] [--scope S] [--json]`
 *
 * Checks a deployed (or local) web-search-mcp the way an MCP client meets it,
 * and says what to fix. Exit status: 0 when every check passed, 1 when one
 * failed, 2 when the command line was wrong.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runDoctor, type DoctorOptions } from './doctor.js';
import { DEFAULT_TIMEOUT_MS } from './http.js';
import { formatJson, formatReport } from './report.js';
import { DoctorUsageError } from './target.js';

export const USAGE = `Usage: npm run doctor -- <base URL or MCP URL> [options]

  <URL>                   the API's base URL (custom domain, or execute-api URL with its /prod stage,
                          or http://localhost:10000 for npm run dev), or the MCP endpoint itself
  --client-id ID          an M2M client: also get a client_credentials token and call tools/list
  --client-secret SECRET  its secret (never printed); or set DOCTOR_CLIENT_SECRET
  --scope SCOPE           the scope to request (default: the scope in the server's challenge)
  --timeout SECONDS       per request (default ${DEFAULT_TIMEOUT_MS / 1000})
  --sign-in               also run a whole authorization-code flow (DCR, PKCE, the RFC 9207 iss check,
                          tools/list); only against an authorization server that consents by itself,
                          such as the one npm run dev embeds
  --json                  print a machine-readable report instead
  --help
`;

export interface CliOutput {
  write(text: string): void;
}

export interface CliStreams {
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
}

const processStreams: CliStreams = {
  stdout: { write: (text) => void process.stdout.write(text) },
  stderr: { write: (text) => void process.stderr.write(text) },
};

function parseCommandLine(argv: readonly string[]): { options: DoctorOptions; json: boolean } | { help: true } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      scope: { type: 'string' },
      timeout: { type: 'string' },
      'sign-in': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { help: true };
  if (positionals.length !== 1) {
    throw new DoctorUsageError(positionals.length === 0 ? 'Give the server URL.' : `One URL only (got ${positionals.length}).`);
  }
  // A secret on the command line lands in shell history and the process list; the environment keeps it out.
  const clientSecret = values['client-secret'] ?? process.env.DOCTOR_CLIENT_SECRET;
  if (Boolean(values['client-id']) !== Boolean(clientSecret)) {
    throw new DoctorUsageError('--client-id and --client-secret (or DOCTOR_CLIENT_SECRET) go together.');
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300) throw new DoctorUsageError('--timeout takes a number of seconds, from 0 to 300.');
    timeoutMs = seconds * 1000;
  }
  return {
    json: values.json ?? false,
    options: {
      url: positionals[0]!,
      ...(values['client-id'] ? { clientId: values['client-id'] } : {}),
      ...(values['client-id'] && clientSecret ? { clientSecret } : {}),
      ...(values.scope ? { scope: values.scope } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
      ...(values['sign-in'] ? { signIn: true } : {}),
    },
  };
}

/** Runs the doctor for a command line; resolves to the exit status. */
export async function main(argv: readonly string[], streams: CliStreams = processStreams): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    // parseArgs throws TypeErrors with a code for unknown or malformed options.
    if (error instanceof DoctorUsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      streams.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if ('help' in parsed) {
    streams.stdout.write(USAGE);
    return 0;
  }

  try {
    const report = await runDoctor(parsed.options);
    streams.stdout.write(parsed.json ? formatJson(report) : formatReport(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof DoctorUsageError) {
      streams.stderr.write(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      process.stderr.write(`The doctor itself failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
