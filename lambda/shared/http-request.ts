/**
 * One bounded HTTP exchange over node:http(s): the functions' upstream calls
 * (the authorizer's JWKS, DynamoDB and SSM through aws-json.ts, Tavily). Node's
 * `fetch` would do, but its first use loads undici (Request, Response, web
 * streams, a WASM HTTP parser), a cost on every cold start that otherwise needs
 * none of it, and each of its requests costs several times the CPU of one
 * through node:http, on every warm tool call.
 *
 * Redirects are never followed (a 3xx is an answer like any other), the answer
 * is read whole within `maxBytes`, and the exchange ends with its caller's
 * signal or its own timeout. An answer cut off midway is a failure, not a
 * short body.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { WebSearchMcpError } from './errors.js';

export interface BoundedRequest {
  readonly method: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The most the answer's body may hold; beyond, the exchange fails `too-large`. */
  readonly maxBytes: number;
  /** The most the whole exchange may take, in milliseconds. */
  readonly timeoutMs?: number;
  /** The caller's end of patience (a deadline, a cancelled call). */
  readonly signal?: AbortSignal;
  /**
   * Keep the connection for the next request to the same host: for a warm instance's upstreams
   * (DynamoDB, SSM, Tavily), as their SDKs and `fetch` do. A stale one fails as `network`.
   */
  readonly keepAlive?: boolean;
}

export interface BoundedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A header of the answer (its first value, when repeated; names in lower case), or undefined. */
export function headerOf(response: Pick<BoundedResponse, 'headers'>, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** What went wrong, for the caller to tell apart; the message never repeats the URL, which may hold secrets. */
export type HttpRequestFailure = 'timeout' | 'aborted' | 'too-large' | 'network';

export class HttpRequestError extends WebSearchMcpError {
  readonly code = 'ERR_HTTP_REQUEST' as const;
  constructor(
    readonly kind: HttpRequestFailure,
    message: string,
    /** The answer's status when its head had come (a body too large, or cut off). */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

export function boundedRequest(url: string | URL, options: BoundedRequest): Promise<BoundedResponse> {
  return new Promise((resolve, reject) => {
    const target = typeof url === 'string' ? new URL(url) : url;
    const secure = target.protocol === 'https:';
    const { signal } = options;
    let status: number | undefined;
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const fail = (error: HttpRequestError) =>
      finish(() => {
        outgoing.destroy();
        reject(error);
      });
    const onAbort = () => fail(new HttpRequestError('aborted', 'the request was abandoned', status, { cause: signal?.reason }));
    if (signal?.aborted) {
      reject(new HttpRequestError('aborted', 'the request was abandoned before it was sent', undefined, { cause: signal.reason }));
      return;
    }

    const outgoing = (secure ? httpsRequest : httpRequest)(
      target,
      {
        method: options.method,
        headers: {
          ...options.headers,
          ...(options.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(options.body)) } : {}),
        },
        ...(options.keepAlive ? { agent: secure ? agents.https : agents.http } : {}),
      },
      (response: IncomingMessage) => {
        status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let total = 0;
        response.on('data', (chunk: Buffer) => {
          total += chunk.byteLength;
          if (total > options.maxBytes) fail(new HttpRequestError('too-large', `the response exceeds ${options.maxBytes} bytes`, status));
          else chunks.push(chunk);
        });
        response.on('error', (error) => fail(new HttpRequestError('network', 'the response was cut off', status, { cause: error })));
        response.on('end', () => finish(() => resolve({ status: status!, headers: response.headers, body: Buffer.concat(chunks) })));
        // Closed before its end, with no 'error' to say so: cut off all the same.
        response.on('close', () => {
          if (!response.complete) fail(new HttpRequestError('network', 'the response was cut off', status));
        });
      },
    );
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => fail(new HttpRequestError('timeout', `no answer within ${options.timeoutMs} ms`, status)), options.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.on('error', (error) => fail(new HttpRequestError('network', 'the connection failed', status, { cause: error })));
    outgoing.end(options.body);
  });
}
