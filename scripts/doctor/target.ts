/**
 * The server the doctor examines: the URL an operator gives (the API's base URL
 * or its MCP endpoint), made into the MCP endpoint and the base URL every other
 * path hangs from.
 */
import { WebSearchMcpError } from '../../lambda/shared/errors.js';
import { MCP_PATH } from '../../lambda/shared/routes.js';

/** The command line or the URL on it is unusable: the CLI prints the message and its usage. */
export class DoctorUsageError extends WebSearchMcpError {
  readonly code = 'ERR_DOCTOR_USAGE' as const;
}

export interface Target {
  readonly input: string;
  readonly mcpUrl: string;
  readonly baseUrl: string;
}

/** The MCP endpoint for a base URL or an MCP URL, trailing slashes, query and fragment aside. */
export function resolveTarget(input: string): Target {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new DoctorUsageError(`"${input}" is not a URL: give the server's base URL or its MCP endpoint, e.g. http://localhost:10000`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DoctorUsageError(`"${input}" is not an http(s) URL`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  const mcpPath = path.endsWith(MCP_PATH) ? path : `${path}${MCP_PATH}`;
  return { input, mcpUrl: `${url.origin}${mcpPath}`, baseUrl: `${url.origin}${mcpPath.slice(0, -MCP_PATH.length)}` };
}

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/i;

/** Whether the URL is API Gateway's own (everything under a stage), not a custom domain. */
export function isExecuteApi(url: string): boolean {
  return EXECUTE_API_HOST.test(new URL(url).hostname);
}
