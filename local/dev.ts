/**
 * `npm run dev`: the whole stack on this machine, on loopback. Reads the same
 * variables as the deployment (and a `.env` file); with no
 * SCALEKIT_ENVIRONMENT_URL it also runs the embedded development authorization
 * server, so a fresh clone works with no account and no network.
 */
import { environmentWithDotEnv } from '../lib/config.js';
import { ConfigurationError } from '../lambda/shared/settings.js';
import { startDevStack, type DevStack } from './dev-stack.js';

function banner({ stack, devAuthorizationServer, tavilyConfigured }: DevStack): string {
  const url = stack.mcpUrl;
  const lines = [
    '',
    'web-search-mcp is running (local stack)',
    '',
    `  MCP endpoint          ${url}`,
    `  Resource metadata     ${stack.protectedResourceMetadataUrl}`,
  ];
  if (devAuthorizationServer) {
    const { url: asUrl, clientId, clientSecret } = devAuthorizationServer;
    lines.push(
      `  Authorization server  ${asUrl}  (embedded, DEVELOPMENT ONLY: signs everyone in as usr_dev and consents for them)`,
      `  M2M client            id ${clientId}  secret ${clientSecret}  (client_credentials; ask for scope web-search:read)`,
    );
  } else {
    lines.push(`  Authorization server  ${stack.environmentUrl} (resource ${stack.resourceId})`);
  }
  lines.push(
    `  Tavily                ${tavilyConfigured ? 'TAVILY_API_KEY is set' : 'TAVILY_API_KEY is not set: tool calls will answer with an error naming it'}`,
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
    `  MCP Inspector  npx @modelcontextprotocol/inspector@2.12.0 (Node >= 22.19)   then Transport "Streamable HTTP", URL ${url}`,
    `  mcp-remote     npx mcp-remote ${url}`,
    '',
    'Ctrl-C stops everything.',
    '',
  );
  return lines.join('\n');
}

async function main() {
  process.stdout.write('web-search-mcp: starting the local stack (bundling the functions, starting their instances)...\n');
  // A promise nobody awaited must not end a development session; say what it was and carry on.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`[dev] unexpected error, the stack keeps running: ${reason instanceof Error ? reason.message : String(reason)}\n`);
  });
  let dev: DevStack;
  try {
    dev = await startDevStack(environmentWithDotEnv(), {
      onAccessLog: (entry) =>
        process.stdout.write(
          `[gateway] ${entry.method} ${entry.path} ${entry.status} ${entry.latencyMs}ms${entry.authorizer ? ` authorizer:${entry.authorizer}` : ''}${entry.error ? ` (${entry.error})` : ''}\n`,
        ),
    });
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`${error.message}\n\nFix these in your environment or .env (see README.md, "Configuration").\n`);
    } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`A port is already in use (${(error as Error).message}). Set PORT (and DEV_AUTH_PORT) to free ones.\n`);
    } else {
      process.stderr.write(`The local stack could not start: ${(error as Error).message}\n`);
    }
    process.exit(1);
  }
  process.stdout.write(banner(dev));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
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
