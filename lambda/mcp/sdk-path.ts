/**
 * The MCP function's full path: the MCP TypeScript SDK v2 server with this
 * project's tools (server.ts) behind the MCP endpoint (mcp-endpoint.ts), for a
 * request admission.ts admitted and the fast path (fast-path.ts) left to it.
 * index.ts loads this module on the first such request, never at cold start;
 * everything it builds is built once per instance, from the settings index.ts parsed.
 */
// First: it configures zod before any schema is built.
import './zod-jitless.js';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { coreAnswer, toProxyResult } from '../shared/api-gateway.js';
import type { Observability } from '../shared/observability.js';
import type { AdmittedRequest } from './admission.js';
import { createMcpEndpoint, type EndpointInvocation } from './mcp-endpoint.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from './protocol-answers.generated.js';
import { callsATool } from './protocol.js';
import { createMcpServerFactory } from './server.js';
import type { McpSettings } from './settings.js';
import { toolRuntime, type ToolRuntime } from './tool-runtime.js';

export type SdkPath = (request: AdmittedRequest, invocation: EndpointInvocation) => Promise<APIGatewayProxyResult>;

/**
 * The SDK path. `supportedVersions` is for the generator of the fast path's
 * answers (scripts/generate-protocol-answers.ts), which takes them from the SDK
 * before it writes them where this module reads them. The tool call, with the
 * key provider, Tavily client, usage guard and research tasks it uses, is the
 * instance's, shared with the fast path (tool-runtime.ts): its classes are
 * that file's, so that one `instanceof` means the same on both paths.
 */
export function createSdkHandler(
  settings: McpSettings,
  observability: Observability,
  supportedVersions: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS,
  runtime: ToolRuntime = toolRuntime(settings, observability),
): SdkPath {
  const { logger } = observability;
  const { tavilyKey, toolCaller, research } = runtime;
  const newServer = createMcpServerFactory({ toolCaller, ...(research ? { research } : {}) });

  const endpoint = createMcpEndpoint({
    newServer,
    supportedVersions,
    onRpc: (rpc) => logger.info('JSON-RPC', { ...rpc }),
  });

  return async function serveAdmitted(request, invocation) {
    // The key read (SSM, on a cold instance or once the value in hand is old) starts now, beside the
    // SDK's handling and the cache lookup rather than after them. Its failure is the tool call's to report.
    if (callsATool(request.body)) tavilyKey().catch(() => {});
    const response = await coreAnswer(() => endpoint(request, invocation), invocation.requestId, logger);
    return toProxyResult(response, request.responseHeaders);
  };
}
