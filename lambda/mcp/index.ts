/**
 * The MCP function: MCP 2026-07-28 and the 2025 revisions on one endpoint.
 *
 * One door, two paths. Admission (admission.ts) decides, for every request,
 * whether it comes in, and answers the refusals. An admitted request the fast
 * path (fast-path.ts) can answer (initialize, notifications/initialized, ping,
 * server/discover, tools/list, in their plain forms) is answered from the SDK's
 * own answers, taken at build time, with no SDK and no undici loaded: a
 * client's first requests, and so most cold starts, never load either. A plain
 * tools/call of a tool that keeps no research task is run by the function both
 * paths share (tool-call.ts, loaded with tool-runtime.ts on the first call) and
 * answered in the SDK's envelope, still without the SDK.
 * Everything else goes to the SDK path (sdk-path.ts: the MCP SDK v2 server
 * behind the MCP endpoint), loaded on its first need and kept for the instance.
 *
 * Settings are parsed here, once, at cold start, so that a misconfiguration
 * fails the instance at once whichever path would have served it. The Tavily
 * key is read on the first tool call, never at cold start.
 *
 * An instance initialized for provisioned concurrency has no client waiting on
 * its init: it loads the SDK path and everything a first tool call loads
 * (tool-runtime.ts) there, so that its first requests load nothing. (Lambda runs
 * the init's pending promise jobs before the first invocation; nothing in
 * them waits on the network.)
 */
// First: it configures zod before any schema is built.
import './zod-jitless.js';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { remainingTimeOf } from '../shared/api-gateway.js';
import { createOriginPolicy } from '../shared/cors.js';
import { createObservability, describeError, sourceMappedStack } from '../shared/observability.js';
import { createAdmission, refusalResult } from './admission.js';
import { createFastPath, type FastAnswer } from './fast-path.js';
import type { SdkPath } from './sdk-path.js';
import type { ToolRuntime } from './tool-runtime.js';
import { parseMcpSettings } from './settings.js';

const settings = parseMcpSettings(process.env);

const observability = createObservability('mcp');
const { logger } = observability;
const admit = createAdmission({ originPolicy: createOriginPolicy(settings.allowedOrigins) });
const fastAnswer = createFastPath({ toolScopes: settings.toolScopes });

let sdkPath: Promise<SdkPath> | undefined;
/** The SDK path, loaded once (a failed load is retried by the next request that needs it). */
function loadSdkPath(): Promise<SdkPath> {
  sdkPath ??= import('./sdk-path.js').then(
    ({ createSdkHandler }) => createSdkHandler(settings, observability),
    (error: unknown) => {
      sdkPath = undefined;
      throw error;
    },
  );
  return sdkPath;
}

let runtime: Promise<{ runtime: ToolRuntime; run: typeof import('./tool-runtime.js').runPlainToolCall }> | undefined;
/** What the fast path's tool calls need (the instance's one, shared with the SDK path), loaded on the first. */
function loadToolRuntime() {
  runtime ??= import('./tool-runtime.js').then(
    ({ toolRuntime, runPlainToolCall }) => ({ runtime: toolRuntime(settings, observability), run: runPlainToolCall }),
    (error: unknown) => {
      runtime = undefined;
      throw error;
    },
  );
  return runtime;
}

if (process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'provisioned-concurrency') {
  const started = performance.now();
  Promise.all([loadSdkPath(), import('./tool-runtime.js').then(({ loadWhatAToolCallNeeds }) => loadWhatAToolCallNeeds(settings)), loadToolRuntime()]).then(
    () => logger.info('Loaded for the first tool call', { initializationType: 'provisioned-concurrency', loadMs: Math.round(performance.now() - started) }),
    // What failed to load here fails again, and is logged, on the first request that needs it.
    () => {},
  );
}

/** A JSON 500 for the unexpected, built without `Response` (which would load undici on the fast path). */
function internalError(requestId: string): APIGatewayProxyResult {
  return {
    statusCode: 500,
    multiValueHeaders: { 'content-type': ['application/json'], 'cache-control': ['no-store'] },
    body: JSON.stringify({ error: 'server_error', error_description: `Internal error. Request id: ${requestId}` }),
    isBase64Encoded: false,
  };
}

export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  const requestId = event?.requestContext?.requestId ?? context?.awsRequestId ?? 'unknown';
  return observability.invocation(requestId, context, async () => {
    let admission: ReturnType<typeof admit>;
    try {
      admission = admit(event);
    } catch (error) {
      logger.error('Unhandled error', { ...describeError(error), stack: sourceMappedStack(error) });
      return internalError(requestId);
    }
    if (!admission.admitted) {
      const { refusal } = admission;
      if (refusal.rpc) logger.info('JSON-RPC', { ...refusal.rpc });
      return refusalResult(refusal);
    }
    let judged: ReturnType<typeof fastAnswer>;
    try {
      judged = fastAnswer(admission.request);
    } catch {
      judged = undefined; // whatever the fast path cannot read, the SDK path judges
    }
    let fast: FastAnswer | undefined;
    if (judged && 'call' in judged) {
      // From here a tool may run: whatever fails is this request's error, never a second try on the SDK path.
      try {
        const { runtime, run } = await loadToolRuntime();
        const result = await run(runtime, judged.call, admission.request, remainingTimeOf(context));
        fast = result && judged.answer(result);
      } catch (error) {
        logger.error('Unhandled error', { ...describeError(error), stack: sourceMappedStack(error) });
        return internalError(requestId);
      }
    } else {
      fast = judged;
    }
    if (fast) {
      logger.info('JSON-RPC', { ...fast.rpc });
      return fast.result;
    }
    const serve = await loadSdkPath();
    return serve(admission.request, { requestId, remainingTimeMs: remainingTimeOf(context) });
  });
}
