/**
 * Calls to AWS APIs that speak the AWS JSON protocol (DynamoDB, SSM): a POST of
 * JSON to the service's endpoint, the operation named in `X-Amz-Target`,
 * signed with SigV4 by aws4 (mhart's signer, on node:crypto).
 *
 * This replaces the AWS SDK v3 clients on the functions' paths: loading and
 * first using them was most of a cold instance's first search, and their
 * middleware most of a warm tool call's CPU. What the SDK did here that
 * matters is kept, in one place: where the endpoint, region and credentials
 * come from (as the SDK finds them in a Lambda environment), the service's
 * name for an error, at most one retry, and the caller's AbortSignal. Signing
 * stays a library's job: aws4, synchronous on node:crypto, rather than aws4fetch,
 * whose WebCrypto and `Headers` cost a first request ~85 ms (undici and
 * WebCrypto loaded) and every request ~0.35 ms of CPU.
 *
 * Requests go over node:http(s) with kept connections (http-request.ts), not
 * `fetch`: measured on Node 22, a small request cost about four times the CPU
 * through undici's `fetch` (its WHATWG streams and Request machinery) as through
 * node:http, more than signing and the SDK's own middleware; and this runs
 * several times in every tool call with quotas and cache on.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as pause } from 'node:timers/promises';
import aws4 from 'aws4';
import { WebSearchMcpError } from './errors.js';
import { boundedRequest, headerOf } from './http-request.js';
import { ConfigurationError } from './settings.js';

/** What differs between the JSON-protocol services this project calls. */
export interface AwsJsonService {
  /** The name requests are signed for (SigV4's service), which is also its endpoint's first label. */
  readonly name: string;
  /** The variable that points the AWS SDK at another endpoint for this service (`AWS_ENDPOINT_URL_<service id>`). */
  readonly endpointVariable: string;
  readonly contentType: 'application/x-amz-json-1.0' | 'application/x-amz-json-1.1';
  /** `X-Amz-Target` is `<targetPrefix>.<Operation>`. */
  readonly targetPrefix: string;
  /** DynamoDB JSON carries binary attribute values (`B`, `BS`) as base64; callers see them as Uint8Array. */
  readonly binaryAttributes?: boolean;
}

export const DYNAMODB: AwsJsonService = {
  name: 'dynamodb',
  endpointVariable: 'AWS_ENDPOINT_URL_DYNAMODB',
  contentType: 'application/x-amz-json-1.0',
  targetPrefix: 'DynamoDB_20120810',
  binaryAttributes: true,
};

export const SSM: AwsJsonService = {
  name: 'ssm',
  endpointVariable: 'AWS_ENDPOINT_URL_SSM',
  contentType: 'application/x-amz-json-1.1',
  targetPrefix: 'AmazonSSM',
};

/** A DynamoDB attribute value as callers write and read it: binary as Uint8Array (see DYNAMODB). */
export interface AttributeValue {
  readonly S?: string;
  readonly N?: string;
  readonly B?: Uint8Array;
  readonly BOOL?: boolean;
  readonly NULL?: boolean;
  readonly M?: AttributeMap;
  readonly L?: readonly AttributeValue[];
  readonly SS?: readonly string[];
  readonly NS?: readonly string[];
  readonly BS?: readonly Uint8Array[];
}
export type AttributeMap = Record<string, AttributeValue>;

/**
 * A request to an AWS service that failed: the service answered with an error, or gave no
 * answer (network, timeout, abort: see `cause`). The message names the service, the operation
 * and the service's error and message; never the request, never a credential.
 */
export class AwsRequestError extends WebSearchMcpError {
  readonly code = 'ERR_AWS_REQUEST' as const;
  readonly service: string;
  readonly operation: string;
  /** The service's name for the error (`ThrottlingException`, `ParameterNotFound`...); undefined when it named none. */
  readonly errorName: string | undefined;
  /** The answer's HTTP status; undefined when there was no answer. */
  readonly status: number | undefined;
  /**
   * The rest of the service's error answer (DynamoDB's ConditionalCheckFailedException carries the
   * item with ReturnValuesOnConditionCheckFailure). Not enumerable: a logged error never carries it.
   */
  declare readonly details: Readonly<Record<string, unknown>>;

  constructor(
    failure: {
      readonly service: string;
      readonly operation: string;
      readonly status?: number;
      readonly errorName?: string;
      readonly serviceMessage?: string;
      readonly details?: Readonly<Record<string, unknown>>;
    },
    options?: ErrorOptions,
  ) {
    const { service, operation, status, errorName, serviceMessage } = failure;
    const what = status === undefined ? 'no answer' : `${errorName ?? 'error'} (HTTP ${status})`;
    super(`${service} ${operation}: ${what}${serviceMessage ? `: ${serviceMessage}` : ''}`, options);
    this.service = service;
    this.operation = operation;
    this.errorName = errorName;
    this.status = status;
    Object.defineProperty(this, 'details', { value: failure.details ?? {}, enumerable: false });
  }

  /** Short and free of identities, for a log line or a metric: the service's error name, `HTTP <status>`, or `no answer`. */
  get reason(): string {
    return this.errorName ?? (this.status === undefined ? 'no answer' : `HTTP ${this.status}`);
  }
}

/** The names AWS gives "too much traffic right now", which a later try cures: a passing outage, not a bad request. */
const THROTTLING = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'LimitExceededException']);

export function isThrottling(error: AwsRequestError): boolean {
  return error.status === 429 || (error.errorName !== undefined && THROTTLING.has(error.errorName));
}

/** Worth one more try: no answer, the service failing (5xx), or throttling. Never a request the service refused as such. */
function isTransient(error: AwsRequestError): boolean {
  return error.status === undefined || error.status >= 500 || isThrottling(error);
}

/** One retry at most (the SDK clients had `maxAttempts: 2`): callers have well under a second, and their own deadline. */
const MAX_ATTEMPTS = 2;
/** The retry waits a random part of this (full jitter), so that instances throttled together do not come back together. */
const RETRY_DELAY_MS = 100;

type Environment = Readonly<Record<string, string | undefined>>;

export interface AwsJsonClientOptions {
  /** The service's endpoint instead of the region's (the local stack's dynalite). Wins over AWS_ENDPOINT_URL*, as an SDK client's `endpoint` does. */
  readonly endpoint?: string;
  /** Default: AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. */
  readonly region?: string;
}

export interface AwsJsonCallOptions {
  /** Aborts the request, and a retry not yet sent. */
  readonly signal?: AbortSignal;
}

export interface AwsJsonClient {
  /** Sends `input` to `operation`; resolves to the service's answer, rejects with an AwsRequestError. */
  call<Output = Record<string, unknown>>(operation: string, input: object, options?: AwsJsonCallOptions): Promise<Output>;
}

export function regionOf(options: AwsJsonClientOptions, env: Environment = process.env): string {
  return options.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
}

/**
 * Where a service's requests go, in the AWS SDK's order: the client's own `endpoint`, then
 * `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, then the region's endpoint.
 * `configured`: not AWS's own endpoint (a local stand-in, when the environment has no credentials).
 */
export function endpointOf(service: AwsJsonService, options: AwsJsonClientOptions, env: Environment = process.env): { url: string; configured: boolean } {
  const configured = options.endpoint || env[service.endpointVariable] || env.AWS_ENDPOINT_URL;
  if (configured) return { url: configured, configured: true };
  const region = regionOf(options, env);
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return { url: `https://${service.name}.${region}.${domain}/`, configured: false };
}

/** What the local stack's stand-ins are signed with when the environment has no credentials (they check none). */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Lambda gives a function its role's credentials in the environment, as the SDK's `fromEnv` reads them. */
function credentialsOf(service: AwsJsonService, configuredEndpoint: boolean, env: Environment) {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  if (accessKeyId && secretAccessKey) return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  if (configuredEndpoint) return LOCAL_CREDENTIALS;
  throw new ConfigurationError(
    [`AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: not set, and ${service.name} is AWS's own endpoint (Lambda sets them from the function's role)`],
    'AWS credentials',
  );
}

/** JSON.stringify replacer: a Uint8Array as base64. A Buffer reaches a replacer already turned into an object by its toJSON, so the holder's own value is looked at. */
function binaryAsBase64(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  return original instanceof Uint8Array ? Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') : value;
}

const bytesOf = (base64: string): Uint8Array => {
  const buffer = Buffer.from(base64, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
};

/**
 * JSON.parse reviver: `B` and `BS` attribute values back to bytes. In a DynamoDB answer a string
 * under the key `B` (or strings under `BS`) can only be such a value: an attribute named `B` holds
 * an attribute value, an object.
 */
function base64AsBinary(key: string, value: unknown): unknown {
  if (key === 'B' && typeof value === 'string') return bytesOf(value);
  if (key === 'BS' && Array.isArray(value) && value.every((each) => typeof each === 'string')) return value.map(bytesOf);
  return value;
}

/** The service's name for an error, as the SDK reads it for JSON protocols: `__type`, then `code`, then the `x-amzn-ErrorType` header. */
export function errorNameOf(body: Readonly<Record<string, unknown>>, errorTypeHeader?: string): string | undefined {
  const raw = body.__type ?? body.code ?? body.Code ?? errorTypeHeader;
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  // `aws.protocoltests#Name`, `Name:http://internal.amazon.com/...`, `Name,Other`: the name alone.
  const name = String(raw).split(',')[0]!.split(':')[0]!;
  return name.includes('#') ? name.split('#')[1] : name;
}

/** The most an AWS answer here may hold: a DynamoDB item is at most 400 KB, an SSM parameter 8 KB. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export function createAwsJsonClient(service: AwsJsonService, options: AwsJsonClientOptions = {}): AwsJsonClient {
  const env = process.env;
  const { url, configured } = endpointOf(service, options, env);
  const target = new URL(url);
  const credentials = credentialsOf(service, configured, env);
  const region = regionOf(options, env);
  const path = `${target.pathname}${target.search}`;
  const parse = (text: string) => (text ? JSON.parse(text, service.binaryAttributes ? base64AsBinary : undefined) : {}) as unknown;

  async function exchange(operation: string, body: string, signal: AbortSignal | undefined): Promise<unknown> {
    const failure = (fields: { status?: number; errorName?: string; serviceMessage?: string; details?: Record<string, unknown> } = {}, cause?: unknown) =>
      new AwsRequestError({ service: service.name, operation, ...fields }, cause === undefined ? undefined : { cause });
    if (signal?.aborted) throw failure({}, signal.reason);
    let response: { readonly status: number; readonly headers: IncomingHttpHeaders; readonly text: string };
    try {
      // Signed again for each try (X-Amz-Date is when it is sent), by aws4 with node:crypto: it adds
      // Host, X-Amz-Date, X-Amz-Security-Token and Authorization, and keeps the day's signing key.
      const signed = aws4.sign(
        {
          host: target.host,
          path,
          method: 'POST',
          service: service.name,
          region,
          headers: { 'Content-Type': service.contentType, 'X-Amz-Target': `${service.targetPrefix}.${operation}` },
          body,
        },
        credentials,
      );
      const headers = signed.headers as Record<string, string>;
      // Connections are kept for the next request (the SDK's clients keep theirs too); one that went stale is a network failure, retried.
      const answer = await boundedRequest(target, { method: 'POST', headers, body, maxBytes: MAX_ANSWER_BYTES, keepAlive: true, ...(signal ? { signal } : {}) });
      response = { status: answer.status, headers: answer.headers, text: answer.body.toString('utf8') };
    } catch (error) {
      throw failure({}, error);
    }
    if (response.status >= 200 && response.status < 300) {
      try {
        return parse(response.text);
      } catch (error) {
        throw failure({ status: response.status, serviceMessage: 'the answer is not JSON' }, error);
      }
    }
    let answer: Record<string, unknown> = {};
    try {
      const parsed = parse(response.text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) answer = parsed as Record<string, unknown>;
    } catch {
      // A gateway's HTML, or nothing: the status and the header still say what they can.
    }
    const { __type, code, Code, message, Message, ...details } = answer;
    const errorName = errorNameOf(answer, headerOf(response, 'x-amzn-errortype'));
    const serviceMessage = message ?? Message;
    throw failure({
      status: response.status,
      ...(errorName !== undefined ? { errorName } : {}),
      ...(typeof serviceMessage === 'string' ? { serviceMessage } : {}),
      details,
    });
  }

  return {
    async call<Output>(operation: string, input: object, { signal }: AwsJsonCallOptions = {}): Promise<Output> {
      const body = JSON.stringify(input, service.binaryAttributes ? binaryAsBase64 : undefined);
      for (let attempt = 1; ; attempt++) {
        try {
          // Signed again for each try: X-Amz-Date is the time it is sent.
          return (await exchange(operation, body, signal)) as Output;
        } catch (error) {
          if (attempt >= MAX_ATTEMPTS || signal?.aborted || !(error instanceof AwsRequestError) || !isTransient(error)) throw error;
          await pause(Math.random() * RETRY_DELAY_MS, undefined, signal ? { signal } : {}).catch(() => undefined);
          if (signal?.aborted) throw error;
        }
      }
    },
  };
}
