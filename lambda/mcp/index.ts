/**
 * The MCP function: MCP 2026-07-28 and the 2025 revisions on one endpoint.
 *
 * Two paths, one handler. The fast path (fast-path.ts) answers the handshake
 * and the listing (initialize, notifications/initialized, ping, server/discover,
 * tools/list) from the event's strings, with no SDK and no undici: a client's
 * first requests, and so most cold starts, never load either. Everything else
 * goes to the SDK path (sdk-path.ts: the MCP SDK v2 server behind the MCP
 * endpoint), loaded on its first need and kept for the instance.
 *
 * Settings are parsed here, once, at cold start, so that a misconfiguration
 * fails the instance at once whichever path would have served it. The Tavily
 * key is read on the first tool call, never at cold start.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createOriginPolicy } from '../shared/cors.js';
import { createObservability } from '../shared/observability.js';
import { createFastPath } from './fast-path.js';
import { parseMcpSettings } from './settings.js';
import { toolCatalog } from './tools/catalog.generated.js';

const settings = parseMcpSettings(process.env);

const observability = createObservability('mcp');
const { logger } = observability;
const originPolicy = createOriginPolicy(settings.allowedOrigins);
const fastAnswer = createFastPath({ tools: toolCatalog, toolScopes: settings.toolScopes, originPolicy });

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
let sdkPath: Promise<Handler> | undefined;
/** The SDK path, loaded once (a failed load is retried by the next request that needs it). */
function loadSdkPath(): Promise<Handler> {
  sdkPath ??= import('./sdk-path.js').then(
    ({ createSdkHandler }) => createSdkHandler(settings, observability, originPolicy),
    (error: unknown) => {
      sdkPath = undefined;
      throw error;
    },
  );
  return sdkPath;
}

export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  let fast: ReturnType<typeof fastAnswer>;
  try {
    fast = fastAnswer(event);
  } catch {
    fast = undefined; // whatever the fast path cannot read, the SDK path judges
  }
  if (!fast) return (await loadSdkPath())(event, context);
  const requestId = event.requestContext?.requestId ?? context?.awsRequestId ?? 'unknown';
  return observability.invocation(requestId, context, async () => {
    logger.info('JSON-RPC', { ...fast.rpc });
    return fast.result;
  });
}
