/**
 * A bounded GET over node:http(s), for the authorizer's JWKS. Node's `fetch`
 * would do, but its first use loads undici (Request, Response, streams, a WASM
 * HTTP parser), a cost on every cold start of a function that otherwise never
 * needs them. Redirects are not followed, the answer is capped
 * in size, and the whole exchange in time.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { WebSearchMcpError } from './errors.js';

export interface BoundedResponse {
  readonly status: number;
  readonly body: Buffer;
}

/** What went wrong, for the caller to tell apart; the message never repeats the URL, which may hold secrets. */
export type HttpGetFailure = 'timeout' | 'too-large' | 'network';

export class HttpGetError extends WebSearchMcpError {
  readonly code = 'ERR_HTTP_GET' as const;
  constructor(
    readonly kind: HttpGetFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export type BoundedGet = (
  url: string,
  options: { readonly timeoutMs: number; readonly maxBytes: number; readonly headers?: Readonly<Record<string, string>> },
) => Promise<BoundedResponse>;

export const boundedGet: BoundedGet = (url, { timeoutMs, maxBytes, headers = {} }) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const fail = (error: HttpGetError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outgoing.destroy();
      reject(error);
    };
    const outgoing = send(target, { method: 'GET', headers }, (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let total = 0;
      response.on('data', (chunk: Buffer) => {
        total += chunk.byteLength;
        if (total > maxBytes) fail(new HttpGetError('too-large', `the response exceeds ${maxBytes} bytes`));
        else chunks.push(chunk);
      });
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) });
      });
      response.on('error', (error) => fail(new HttpGetError('network', 'the response was cut off', { cause: error })));
    });
    const timer = setTimeout(() => fail(new HttpGetError('timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
    outgoing.on('error', (error) => fail(new HttpGetError('network', 'the connection failed', { cause: error })));
    outgoing.end();
  });
