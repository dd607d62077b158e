/**
 * The local gateway: API Gateway's REST API behaviour that matters to this
 * project, on loopback, serving the one route table with the same function
 * bundles and the same gateway responses as the deployed stack.
 *
 * What it reproduces:
 * - routes from lambda/shared/routes.ts; anything else is MISSING_AUTHENTICATION_TOKEN (404);
 * - mock routes (the protected resource metadata) answered by the gateway itself from
 *   lib/mock-integrations.ts, the definition the stack's MOCK integration is built from: no function runs;
 * - CORS preflight on every route path, answered by the gateway itself;
 * - on authorized routes: no Authorization header → UNAUTHORIZED without invoking
 *   the authorizer; otherwise the REQUEST authorizer, whose thrown "Unauthorized" is
 *   UNAUTHORIZED, whose other failures are AUTHORIZER_FAILURE, and whose policy is
 *   evaluated against the method ARN (Deny → ACCESS_DENIED);
 * - authorizer results cached per Authorization value for the TTL, and applied to
 *   whatever route the next request with that value calls;
 * - the authorizer's context in `requestContext.authorizer`, values as strings;
 * - a `WWW-Authenticate` header from an integration renamed
 *   `x-amzn-Remapped-WWW-Authenticate`;
 * - function errors, malformed proxy results and results over Lambda's 6 MB as 502, a request body over
 *   10 MB as 413, an integration running past 29 s as 504;
 * - throttling like the deployed stage (local/throttle.ts): a token bucket per method with the stage
 *   limits from the same settings as the stack (THROTTLE_RATE_LIMIT, THROTTLE_BURST_LIMIT; 50/s, burst
 *   100), the register route's own 5/s, burst 10 from lambda/shared/routes.ts in place of them; a request past
 *   its bucket gets the THROTTLED gateway response (429, Retry-After, CORS) before the authorizer or
 *   any function runs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { functionSpecs, API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS } from '../lib/functions.js';
import { gatewayResponseCors, gatewayResponses, type GatewayResponseSpec, type GatewayResponseType } from '../lambda/shared/gateway-responses.js';
import { findRoute, methodsAt, routePaths, routes, type FunctionName, type IntegrationFunctionName, type MockDocument } from '../lambda/shared/routes.js';
import { mockAnswer, type MockSettings } from '../lib/mock-integrations.js';
import { createOriginPolicy } from '../lambda/shared/cors.js';
import {
  authorizerContext,
  authorizerEvent,
  evaluatePolicy,
  methodArn,
  newRequestId,
  proxyEvent,
  validProxyResult,
  type IncomingRequest,
} from './api-gateway-events.js';
import type { FunctionPool, InvocationOutcome } from './lambda-runtime.js';
import { DEFAULT_STAGE_THROTTLE, StageThrottle, type Clock, type ThrottleLimits } from './throttle.js';

/** Lambda's limit on a synchronous invocation's response payload (6 MB), past which API Gateway answers 502. */
export const LAMBDA_RESPONSE_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/** API Gateway's payload limit for REST APIs. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/** Integration response headers API Gateway renames rather than pass through. */
const REMAPPED_HEADERS = new Set(['www-authenticate', 'authorization', 'connection', 'server', 'date']);

export interface GatewayOptions {
  readonly pools: Readonly<Record<FunctionName, FunctionPool>>;
  readonly protectedResourceMetadataUrl: string;
  readonly requiredScopes: readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly authorizerCacheTtlSeconds: number;
  /** What the mock routes' documents are built from (lib/mock-integrations.ts), as the stack builds them. */
  readonly mocks: MockSettings;
  /**
   * The stage's throttling (each method's default; routes with `throttle` in lambda/shared/routes.ts use
   * their own). Default: the stack's defaults (DEFAULT_STAGE_THROTTLE). `false`: no throttling at
   * all, for suites that exceed the limits on purpose.
   */
  readonly throttle?: ThrottleLimits | false;
  /** The throttle's clock, in milliseconds (tests inject one). Default: Date.now. */
  readonly now?: Clock;
  /** One line per request, like API Gateway's access log. */
  readonly onAccessLog?: (entry: AccessLogEntry) => void;
}

export interface AccessLogEntry {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly latencyMs: number;
  readonly authorizer?: 'cached' | 'invoked' | 'skipped';
  readonly error?: string;
}

interface CachedAuthorization {
  readonly expiresAt: number;
  readonly result: unknown;
}

type Outcome = { status: number; headers: Record<string, string | string[]>; body: Buffer | string };

export class LocalGateway {
  private readonly responses: ReadonlyMap<GatewayResponseType, GatewayResponseSpec>;
  private readonly originPolicy;
  private readonly authorizerCache = new Map<string, CachedAuthorization>();
  private readonly throttle: StageThrottle | undefined;
  /** How many times the authorizer function ran (cache hits and missing headers do not count). */
  authorizerInvocations = 0;

  constructor(private readonly options: GatewayOptions) {
    this.responses = new Map(
      gatewayResponses({
        protectedResourceMetadataUrl: options.protectedResourceMetadataUrl,
        requiredScopes: options.requiredScopes,
      }).map((spec) => [spec.type, spec]),
    );
    this.originPolicy = createOriginPolicy(options.allowedOrigins);
    this.throttle =
      options.throttle === false ? undefined : new StageThrottle(options.throttle ?? DEFAULT_STAGE_THROTTLE, routes, options.now);
  }

  /** A gateway response from the shared table, with the CORS headers API Gateway would add. */
  gatewayResponse(type: GatewayResponseType, requestOrigin: string | undefined, status?: number, message?: string): Outcome {
    const spec = this.responses.get(type) ?? this.responses.get(type.endsWith('4XX') ? 'DEFAULT_4XX' : 'DEFAULT_5XX')!;
    const headers: Record<string, string> = { ...spec.headers };
    const cors = gatewayResponseCors(this.options.allowedOrigins);
    if (cors) {
      Object.assign(headers, cors.headers);
      if (cors.allowOrigin === 'any') headers['Access-Control-Allow-Origin'] = '*';
      else if (requestOrigin !== undefined) headers['Access-Control-Allow-Origin'] = requestOrigin;
    }
    const body = JSON.stringify({
      error: spec.body.error,
      error_description: spec.body.error_description ?? message ?? 'Request failed',
    });
    return { status: spec.statusCode ?? status ?? 500, headers, body };
  }

  /** Handle one request the way API Gateway would. */
  async handle(request: IncomingRequest): Promise<{ outcome: Outcome; authorizer?: AccessLogEntry['authorizer']; error?: string }> {
    const origin = request.rawHeaders.find(([name]) => name.toLowerCase() === 'origin')?.[1];
    const isPreflight = request.method === 'OPTIONS' && routePaths.includes(request.path);
    const route = isPreflight ? undefined : findRoute(request.method, request.path);
    // Throttling comes right after matching the method, before the authorizer and any function. The
    // preflight is a method (a MOCK integration) like the others; a request matching no method is
    // throttled too, in one bucket of its own (local/throttle.ts says why).
    if (this.throttle && !this.throttle.tryTake(request.method, isPreflight ? request.path : route?.path)) {
      return { outcome: this.gatewayResponse('THROTTLED', origin), error: 'throttled' };
    }
    if (isPreflight) {
      const preflight = this.originPolicy.preflight(origin, methodsAt(request.path));
      return { outcome: { status: preflight.status, headers: Object.fromEntries(preflight.headers), body: '' } };
    }
    if (!route) return { outcome: this.gatewayResponse('MISSING_AUTHENTICATION_TOKEN', origin) };
    const routed = { ...request, resource: route.path };

    let authorizer: Record<string, string> | undefined;
    let authorizerUse: AccessLogEntry['authorizer'];
    if (route.authorized) {
      const authorization = request.rawHeaders.filter(([name]) => name.toLowerCase() === 'authorization').map(([, value]) => value);
      // The identity source is required: without it API Gateway answers 401 and never calls the authorizer.
      if (authorization.length === 0 || authorization.every((value) => value === '')) {
        return { outcome: this.gatewayResponse('UNAUTHORIZED', origin), authorizer: 'skipped' };
      }
      const identity = authorization.join(',');
      let result: unknown;
      const cached = this.authorizerCache.get(identity);
      if (cached && cached.expiresAt > Date.now()) {
        result = cached.result;
        authorizerUse = 'cached';
      } else {
        authorizerUse = 'invoked';
        this.authorizerInvocations += 1;
        const outcome = await this.options.pools.authorizer.invoke(authorizerEvent(routed), request.requestId);
        if (!outcome.ok) {
          const type = outcome.kind === 'error' && outcome.message === 'Unauthorized' ? 'UNAUTHORIZED' : 'AUTHORIZER_FAILURE';
          return { outcome: this.gatewayResponse(type, origin), authorizer: authorizerUse, error: outcome.message };
        }
        result = outcome.result;
        const ttl = this.options.authorizerCacheTtlSeconds;
        if (ttl > 0 && evaluatePolicy(result, methodArn(routed)) !== 'invalid') {
          this.authorizerCache.set(identity, { expiresAt: Date.now() + ttl * 1000, result });
        }
      }
      const verdict = evaluatePolicy(result, methodArn(routed));
      const context = verdict === 'invalid' ? undefined : authorizerContext(result);
      if (verdict === 'invalid' || !context) {
        return {
          // AUTHORIZER_CONFIGURATION_ERROR, which the table leaves to DEFAULT_5XX.
          outcome: this.gatewayResponse('DEFAULT_5XX', origin, 500, 'Authorizer configuration error'),
          authorizer: authorizerUse,
        };
      }
      if (verdict === 'deny') return { outcome: this.gatewayResponse('ACCESS_DENIED', origin), authorizer: authorizerUse };
      authorizer = context;
    }

    if (route.integration === 'mock') return { outcome: this.mockOutcome(route.document, origin), authorizer: authorizerUse };
    const outcome = await this.invokeIntegration(route.function, proxyEvent(routed, authorizer), request.requestId);
    if (!outcome.ok) {
      if (outcome.kind === 'timeout' && functionSpecs[route.function].timeoutSeconds >= API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS) {
        return { outcome: this.gatewayResponse('INTEGRATION_TIMEOUT', origin), authorizer: authorizerUse, error: outcome.message };
      }
      return {
        outcome: this.gatewayResponse('DEFAULT_5XX', origin, 502, 'Internal server error'),
        authorizer: authorizerUse,
        error: outcome.message,
      };
    }
    // Lambda refuses to return an invocation result over 6 MB, and API Gateway then answers 502.
    if (Buffer.byteLength(JSON.stringify(outcome.result) ?? '') > LAMBDA_RESPONSE_PAYLOAD_LIMIT_BYTES) {
      return {
        outcome: this.gatewayResponse('DEFAULT_5XX', origin, 502, 'Internal server error'),
        authorizer: authorizerUse,
        error: 'Lambda response payload over 6 MB',
      };
    }
    const result = validProxyResult(outcome.result);
    if (!result) {
      return {
        outcome: this.gatewayResponse('DEFAULT_5XX', origin, 502, 'Internal server error'),
        authorizer: authorizerUse,
        error: 'Malformed Lambda proxy response',
      };
    }
    return { outcome: integrationResponse(result), authorizer: authorizerUse };
  }

  /**
   * A MOCK integration's answer, from the same definition the stack's response template is built
   * from, with the CORS headers the functions' policy gives a GET. No function runs.
   */
  private mockOutcome(document: MockDocument, origin: string | undefined): Outcome {
    const answer = mockAnswer(document, this.options.mocks);
    return { status: answer.statusCode, headers: { ...answer.headers, ...this.originPolicy.responseHeaders(origin) }, body: answer.body };
  }

  private invokeIntegration(name: IntegrationFunctionName, event: unknown, requestId: string): Promise<InvocationOutcome> {
    return this.options.pools[name].invoke(event, requestId);
  }

  clearAuthorizerCache() {
    this.authorizerCache.clear();
  }
}

function integrationResponse(result: APIGatewayProxyResult): Outcome {
  const headers: Record<string, string | string[]> = {};
  const add = (name: string, value: string) => {
    const lower = name.toLowerCase();
    const key = REMAPPED_HEADERS.has(lower) ? `x-amzn-Remapped-${name}` : name;
    const existing = headers[key];
    headers[key] = existing === undefined ? value : [...[existing].flat(), value];
  };
  const multi = result.multiValueHeaders ?? {};
  for (const [name, values] of Object.entries(multi)) for (const value of values) add(name, String(value));
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (!(name in multi)) add(name, String(value));
  }
  const body = result.body ?? '';
  return { status: result.statusCode, headers, body: result.isBase64Encoded ? Buffer.from(body, 'base64') : body };
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? 'too_large' : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function pairs(rawHeaders: string[]): Array<[string, string]> {
  const result: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) result.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  return result;
}

/** Seconds a client is told to wait when it calls while the stack is still starting. */
export const STARTING_RETRY_AFTER_SECONDS = 1;

/**
 * A JSON answer the gateway gives on its own, outside the gateway-response table:
 * before the table exists (the stack is starting), or when building an answer from
 * it failed. Never a stack trace.
 */
function plainOutcome(status: number, error: string, description: string, headers: Record<string, string> = {}): Outcome {
  return {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify({ error, error_description: description }),
  };
}

/** Why a request failed, for the one log line it gets: the message, never a stack. */
const failureMessage = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/**
 * Serve a gateway over Node's HTTP server on the given loopback addresses.
 * `gatewayFor` answers undefined while the stack is starting: requests then get
 * 503 with Retry-After. No request can take the process down: whatever throws
 * while one is served becomes a 500 for that request, logged once through
 * `onAccessLog` (or `onError` when even that throws).
 */
export async function listen(
  gatewayFor: () => LocalGateway | undefined,
  {
    port,
    hosts,
    onAccessLog,
    onError = (error) => process.stderr.write(`[gateway] request failed: ${failureMessage(error)}\n`),
  }: { port: number; hosts: readonly string[]; onAccessLog?: (entry: AccessLogEntry) => void; onError?: (error: unknown) => void },
): Promise<{ port: number; servers: Server[]; close: () => Promise<void> }> {
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const gateway = gatewayFor();
    const started = Date.now();
    const requestId = newRequestId();
    const url = new URL(req.url ?? '/', 'http://local');
    const rawHeaders = pairs(req.rawHeaders);
    const origin = rawHeaders.find(([name]) => name.toLowerCase() === 'origin')?.[1];
    let result: Awaited<ReturnType<LocalGateway['handle']>>;
    try {
      const body = await readBody(req, MAX_PAYLOAD_BYTES);
      if (!gateway) {
        result = {
          outcome: plainOutcome(503, 'temporarily_unavailable', 'The local stack is starting; retry in a moment.', {
            'Retry-After': String(STARTING_RETRY_AFTER_SECONDS),
          }),
        };
      } else if (body === 'too_large') {
        result = { outcome: gateway.gatewayResponse('DEFAULT_4XX', origin, 413, 'Request Too Long') };
      } else {
        result = await gateway.handle({
          method: (req.method ?? 'GET').toUpperCase(),
          path: url.pathname,
          resource: url.pathname,
          rawHeaders,
          query: url.searchParams,
          body,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          requestId,
          host: req.headers.host ?? 'localhost',
        });
      }
    } catch (error) {
      let outcome: Outcome;
      try {
        outcome = gateway ? gateway.gatewayResponse('DEFAULT_5XX', origin, 500, 'Internal server error') : plainOutcome(500, 'server_error', 'Internal server error');
      } catch {
        outcome = plainOutcome(500, 'server_error', 'Internal server error');
      }
      result = { outcome, error: failureMessage(error) };
    }
    const { status, headers, body } = result.outcome;
    if (!res.headersSent) {
      res.writeHead(status, { ...headers, 'x-amzn-RequestId': requestId });
      res.end(body);
    }
    onAccessLog?.({
      requestId,
      method: req.method ?? '',
      path: url.pathname,
      status,
      latencyMs: Date.now() - started,
      ...(result.authorizer ? { authorizer: result.authorizer } : {}),
      ...(result.error ? { error: result.error } : {}),
    });
  };

  const servers: Server[] = [];
  let boundPort = port;
  for (const [index, host] of hosts.entries()) {
    const server = createServer((req, res) => {
      handler(req, res).catch((error: unknown) => {
        // Only writing the answer or the access log can fail here; the request still gets one answer.
        onError(error);
        if (!res.headersSent) {
          const { status, headers, body } = plainOutcome(500, 'server_error', 'Internal server error');
          res.writeHead(status, headers);
          res.end(body);
        } else if (!res.writableEnded) res.destroy();
      });
    });
    // A client that sends garbage or hangs up mid-request must not take the process down.
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      // Node's own answers: 431 for headers past its limit (as API Gateway refuses them too), 400 otherwise.
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
    server.keepAliveTimeout = 5_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(boundPort, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      // A machine without IPv6 has no ::1; the first address is the one that must work.
      if (index > 0 && (error as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') continue;
      await Promise.all(servers.map((started) => new Promise((resolve) => started.close(resolve))));
      throw error;
    }
    boundPort = (server.address() as AddressInfo).port;
    servers.push(server);
  }
  return {
    port: boundPort,
    servers,
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}
