/**
 * What the security suites share: raw HTTP requests (fetch merges repeated
 * headers and forbids some; these suites need exactly the bytes they mean),
 * the challenges the gateway must answer with, and a few small helpers.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { CLOCK_TOLERANCE_SECONDS } from '../../lambda/shared/caller.js';
import type { LocalStack } from '../../local/stack.js';

export const REQUIRED_SCOPE = 'web-search:read';

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Header values as sent; an array sends the header once per value. */
export type RawHeaders = Readonly<Record<string, string | readonly string[]>>;

/**
 * One HTTP/1.1 request to `baseUrl`'s host and port with exactly these headers
 * and this request target (`path` may be anything, `//host/x` included).
 */
export function rawRequest(
  baseUrl: string,
  { method = 'GET', path, headers = {}, body }: { method?: string; path: string; headers?: RawHeaders; body?: string | Buffer },
): Promise<RawResponse> {
  const target = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: target.hostname, port: target.port, method, path, headers: headers as Record<string, string | string[]>, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'security-test', version: '1' } },
};

/** POST an MCP initialize with these extra headers (Authorization among them, or not). */
export function postMcp(stack: LocalStack, headers: RawHeaders = {}, { query = '' }: { query?: string } = {}): Promise<RawResponse> {
  return rawRequest(stack.baseUrl, {
    method: 'POST',
    path: `/web-search/mcp${query}`,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(INITIALIZE),
  });
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** The 401 challenge (RFC 6750, RFC 9728), exactly as the gateway response table builds it. */
export const unauthorizedChallenge = (stack: LocalStack) =>
  `Bearer resource_metadata="${stack.protectedResourceMetadataUrl}", scope="${REQUIRED_SCOPE}"`;

/** The 403 step-up challenge. */
export const insufficientScopeChallenge = (stack: LocalStack) =>
  `Bearer error="insufficient_scope", scope="${REQUIRED_SCOPE}", resource_metadata="${stack.protectedResourceMetadataUrl}"`;

export const json = (response: RawResponse): Record<string, unknown> => JSON.parse(response.body) as Record<string, unknown>;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Wait until the wall clock passes `epochMs` (waiting is fine in tests; asserting durations is not). */
export async function sleepUntil(epochMs: number): Promise<void> {
  while (Date.now() < epochMs) await sleep(epochMs - Date.now());
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export { CLOCK_TOLERANCE_SECONDS };

export const base64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Sign claims with any header jose accepts, with a key jose accepts for `header.alg`. */
export function signWith(claims: Record<string, unknown>, header: Record<string, unknown>, key: CryptoKey | Uint8Array, signOptions?: { crit?: Record<string, boolean> }) {
  return new SignJWT(claims as JWTPayload).setProtectedHeader(header as { alg: string }).sign(key, signOptions);
}
