/**
 * `npm run dev`: the whole stack on this machine, on loopback. Reads the same
 * variables as the deployment (and a `.env` file); with no
 * SCALEKIT_ENVIRONMENT_URL it also runs the embedded development authorization
 * server, so a fresh clone works with no account and no network.
 *
 *   npm run dev                  one readable line per request
 *   npm run dev -- --json        the functions' own JSON lines and EMF metrics (or LOG_FORMAT=json)
 *   npm run dev -- --demo        offline demo: a local Tavily stand-in answers sample data, no key needed
 */
import { parseArgs } from 'node:util';
import { environmentWithDotEnv } from '../lib/config.js';
import { ConfigurationError } from '../lambda/shared/settings.js';
import { CONSOLE_FORMATS, DevConsole, type ConsoleFormat } from './dev-console.js';
import { portRole } from './dev-ports.js';
import { devStackPorts, startDevStack, type DevStack } from './dev-stack.js';
import { INSPECTOR } from '../scripts/pinned-clients.js';
import { functionNodeNote } from './lambda-node.js';
import { SAMPLE_DATA_NOTE } from './sample-tavily.js';

const USAGE = 'usage: npm run dev [-- --demo] [-- --json]';

function banner(dev: DevStack, format: ConsoleFormat): string {
  const { stack, devAuthorizationServer, tavilyConfigured, demo } = dev;
  const url = stack.mcpUrl;
  const lines = ['', demo ? 'web-search-mcp is running (local stack, OFFLINE DEMO: tools answer SAMPLE DATA)' : 'web-search-mcp is running (local stack)', ''];
  lines.push(`  MCP endpoint          ${url}`, `  Resource metadata     ${stack.protectedResourceMetadataUrl}`);
  if (devAuthorizationServer) {
    const { url: asUrl, clientId, clientSecret } = devAuthorizationServer;
    lines.push(
      `  Authorization server  ${asUrl}  (embedded, DEVELOPMENT ONLY: signs everyone in as usr_dev and consents for them)`,
      `  M2M client            id ${clientId}  secret ${clientSecret}  (client_credentials; ask for scope web-search:read)`,
    );
  } else {
    lines.push(`  Authorization server  ${stack.environmentUrl} (resource ${stack.resourceId})`);
  }
  if (demo) {
    lines.push(`  Tavily                SAMPLE DATA: a local stand-in at ${demo.tavilyUrl} answers every tool; nothing comes from the web, no key is used`);
  } else {
    lines.push(`  Tavily                ${tavilyConfigured ? 'TAVILY_API_KEY is set' : 'TAVILY_API_KEY is not set: tool calls will answer with an error naming it (try npm run dev -- --demo)'}`);
  }
  lines.push(
    `  Usage store           ${dev.usageStoreEndpoint ? `${dev.usageStoreEndpoint}  (quotas and the result cache; npm run usage reads it)` : 'off (no QUOTA_* limit and CACHE_TTL_SECONDS=0)'}`,
    `  Functions             ${functionNodeNote(stack.pools.mcp.runner)}`,
    `  Console               ${format === 'json' ? "the functions' JSON log lines and EMF metrics" : 'one line per request, warnings and errors in full (--json or LOG_FORMAT=json: the raw JSON lines)'}`,
  );
  if (devAuthorizationServer) {
    const { tokenEndpoint, clientId, clientSecret } = devAuthorizationServer;
    lines.push(
      '',
      'Get a machine token:',
      `  curl -s -u ${clientId}:${clientSecret} -d grant_type=client_credentials -d scope=web-search:read -d resource=${url} ${tokenEndpoint}`,
    );
  }
  lines.push(
    '',
    'Connect a client (it runs the OAuth flow itself):',
    `  Claude Code    claude mcp add --transport http web-search ${url}`,
    `  MCP Inspector  npx ${INSPECTOR} (Node >= 22.19)   then Transport "Streamable HTTP", URL ${url}`,
    `  mcp-remote     npx mcp-remote@0.15.1 ${url}`,
    '',
  );
  if (demo) lines.push(`Every tool result is ${SAMPLE_DATA_NOTE}.`, '');
  lines.push('Ctrl-C stops everything.', '');
  return lines.join('\n');
}

function consoleFormat(flag: boolean, environment: Readonly<Record<string, string | undefined>>): ConsoleFormat {
  if (flag) return 'json';
  const value = environment.LOG_FORMAT?.trim().toLowerCase();
  if (!value) return 'text';
  if ((CONSOLE_FORMATS as readonly string[]).includes(value)) return value as ConsoleFormat;
  throw new ConfigurationError([`LOG_FORMAT: expected ${CONSOLE_FORMATS.join(' or ')}, got ${JSON.stringify(environment.LOG_FORMAT)}`], 'local stack settings');
}

async function main() {
  let options: { demo: boolean; json: boolean };
  try {
    ({ values: options } = parseArgs({ options: { demo: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const environment = environmentWithDotEnv();
  process.stdout.write(
    `web-search-mcp: starting the local stack${options.demo ? ' as the OFFLINE DEMO (sample data)' : ''} (bundling the functions, starting their instances)...\n`,
  );
  // A promise nobody awaited must not end a development session; say what it was and carry on.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`[dev] unexpected error, the stack keeps running: ${reason instanceof Error ? reason.message : String(reason)}\n`);
  });
  let dev: DevStack;
  let output: DevConsole;
  try {
    const format = consoleFormat(options.json, environment);
    output = new DevConsole({ format, write: (text) => process.stdout.write(text) });
    dev = await startDevStack(environment, { demo: options.demo, onLog: output.onLog, onAccessLog: output.onAccessLog });
    process.stdout.write(banner(dev, format));
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`${error.message}\n\nFix these in your environment or .env (see README.md, "Configuration").\n`);
    } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const port = (error as { port?: number }).port;
      const role = port === undefined ? undefined : portRole(devStackPorts(environment), port);
      process.stderr.write(
        `Port ${port ?? '?'}${role ? `, ${role},` : ''} is already in use (another npm run dev?). Stop what holds it, or set PORT (and DEV_AUTH_PORT) to free ones.\n`,
      );
    } else {
      process.stderr.write(`The local stack could not start: ${(error as Error).message}\n`);
    }
    process.exit(1);
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    output.flush();
    process.stdout.write('\nStopping...\n');
    try {
      await dev.close();
      process.stdout.write('web-search-mcp: stopped (gateway, function instances and authorization server are down).\n');
      process.exit(0);
    } catch (error) {
      process.stderr.write(`web-search-mcp: stopping failed: ${(error as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

void main();
