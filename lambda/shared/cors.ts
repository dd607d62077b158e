/**
 * CORS for browser-based MCP clients, one policy for the functions, the local
 * gateway and the CDK stack's preflight and gateway responses.
 *
 * Allowed origins are exact origins, `*`, or a loopback origin with any port
 * (`http://localhost:*`). They compile to one anchored regular expression simple
 * enough to mean the same in JavaScript and in API Gateway's VTL (Java regex),
 * where the deployed preflight evaluates it.
 */

/** Headers a browser client must be able to read: the challenge, and MCP's own. */
export const EXPOSED_HEADERS = ['WWW-Authenticate', 'Mcp-Session-Id', 'Mcp-Protocol-Version', 'Retry-After'] as const;

/**
 * Request headers a browser client may send: MCP 2026-07-28 requires
 * `Mcp-Method` on every request and `Mcp-Name` on tools/call, beside
 * `MCP-Protocol-Version` (all three must reach the function, which checks them
 * against the body).
 */
export const ALLOWED_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'Accept',
  'Mcp-Protocol-Version',
  'Mcp-Method',
  'Mcp-Name',
  'Mcp-Session-Id',
  'Last-Event-ID',
] as const;

export const PREFLIGHT_MAX_AGE_SECONDS = 600;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * The allowed origins as one regular expression source, or undefined when no
 * browser origin is allowed. `*` yields `.*` (callers answer `*` for it instead).
 */
export function allowedOriginPattern(allowedOrigins: readonly string[]): string | undefined {
  if (allowedOrigins.length === 0) return undefined;
  if (allowedOrigins.includes('*')) return '.*';
  const alternatives = allowedOrigins.map((origin) =>
    origin.endsWith(':*') ? `${escapeRegExp(origin.slice(0, -2))}(:[0-9]{1,5})?` : escapeRegExp(origin),
  );
  return `^(${alternatives.join('|')})$`;
}

export function createOriginPolicy(allowedOrigins: readonly string[]) {
  const source = allowedOriginPattern(allowedOrigins);
  const pattern = source === undefined ? undefined : new RegExp(source);
  const anyOrigin = allowedOrigins.includes('*');

  function isAllowed(origin: string | null | undefined): boolean {
    return typeof origin === 'string' && origin.length <= 2048 && pattern !== undefined && pattern.test(origin);
  }

  /** Headers for an actual (non-preflight) response to a request carrying `origin`. */
  function responseHeaders(origin: string | null | undefined): Record<string, string> {
    if (!isAllowed(origin)) return { Vary: 'Origin' };
    return {
      'Access-Control-Allow-Origin': anyOrigin ? '*' : (origin as string),
      'Access-Control-Expose-Headers': EXPOSED_HEADERS.join(', '),
      Vary: 'Origin',
    };
  }

  /** A preflight answer: 204, and the grant only for an allowed origin. */
  function preflight(origin: string | null | undefined, methods: readonly string[]): Response {
    const headers: Record<string, string> = { Vary: 'Origin' };
    if (isAllowed(origin)) {
      headers['Access-Control-Allow-Origin'] = anyOrigin ? '*' : (origin as string);
      headers['Access-Control-Allow-Methods'] = [...methods, 'OPTIONS'].join(', ');
      headers['Access-Control-Allow-Headers'] = ALLOWED_REQUEST_HEADERS.join(', ');
      headers['Access-Control-Max-Age'] = String(PREFLIGHT_MAX_AGE_SECONDS);
    }
    return new Response(null, { status: 204, headers });
  }

  return { isAllowed, responseHeaders, preflight };
}

export type OriginPolicy = ReturnType<typeof createOriginPolicy>;
