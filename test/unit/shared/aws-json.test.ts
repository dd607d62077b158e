/**
 * aws-json.ts against a loopback stand-in for an AWS JSON-protocol service:
 * where requests go, how they are signed (checked by an independent SigV4
 * verifier, itself checked against AWS's published get-vanilla example), how
 * the service's errors are read, which failures get their one retry, the
 * caller's AbortSignal, and DynamoDB binary values both ways.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import aws4 from 'aws4';
import {
  AwsRequestError,
  createAwsJsonClient,
  DYNAMODB,
  endpointOf,
  errorNameOf,
  isThrottling,
  regionOf,
  SSM,
} from '../../../lambda/shared/aws-json.js';
import { ConfigurationError } from '../../../lambda/shared/settings.js';
import { sendJson, startLoopbackServer, unusedLoopbackUrl, type LoopbackServer } from '../helpers/loopback-server.js';

const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIDTESTKEY', AWS_SECRET_ACCESS_KEY: 'test-secret/with+chars', AWS_REGION: 'eu-west-3' };
const VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SSM'];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));

function setEnvironment(values: Record<string, string>) {
  for (const name of VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
}

let service: LoopbackServer;
beforeAll(async () => {
  service = await startLoopbackServer();
});
beforeEach(() => setEnvironment(CREDENTIALS));
afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await service.close();
});

const dynamo = () => createAwsJsonClient(DYNAMODB, { endpoint: service.url });
const last = () => service.requests.at(-1)!;

async function failure(promise: Promise<unknown>): Promise<AwsRequestError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AwsRequestError);
  return error as AwsRequestError;
}

// An independent SigV4 check (node:crypto, after AWS's documentation), for what reached the server.
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

function expectedSignature(request: { method: string; path: string; headers: IncomingHttpHeaders; body: string }, secret: string): string {
  const authorization = String(request.headers.authorization);
  const [, scope, signed] = /Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+),/.exec(authorization)!;
  const [date, region, name] = scope!.split('/');
  const names = signed!.split(';');
  const canonicalHeaders = names.map((header) => `${header}:${String(request.headers[header]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [request.method, request.path, '', canonicalHeaders, signed, sha256(request.body)].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', request.headers['x-amz-date'], scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), name!), 'aws4_request');
  return hmac(key, stringToSign).toString('hex');
}

const signatureIn = (authorization: unknown) => /Signature=([0-9a-f]{64})$/.exec(String(authorization))?.[1];

describe('where requests go', () => {
  test("a client's own endpoint, then AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, then the region's", () => {
    const env = { AWS_REGION: 'eu-west-3', AWS_ENDPOINT_URL: 'http://127.0.0.1:3', AWS_ENDPOINT_URL_SSM: 'http://127.0.0.1:2' };
    expect(endpointOf(SSM, { endpoint: 'http://127.0.0.1:1' }, env)).toEqual({ url: 'http://127.0.0.1:1', configured: true });
    expect(endpointOf(SSM, {}, env)).toEqual({ url: 'http://127.0.0.1:2', configured: true });
    expect(endpointOf(DYNAMODB, {}, env)).toEqual({ url: 'http://127.0.0.1:3', configured: true });
    expect(endpointOf(DYNAMODB, {}, { AWS_REGION: 'eu-west-3' })).toEqual({ url: 'https://dynamodb.eu-west-3.amazonaws.com/', configured: false });
    expect(endpointOf(SSM, { region: 'cn-north-1' }, { AWS_REGION: 'eu-west-3' }).url).toBe('https://ssm.cn-north-1.amazonaws.com.cn/');
  });

  test('the region: the option, AWS_REGION, AWS_DEFAULT_REGION, then us-east-1', () => {
    expect(regionOf({ region: 'ap-south-1' }, { AWS_REGION: 'eu-west-3' })).toBe('ap-south-1');
    expect(regionOf({}, { AWS_REGION: 'eu-west-3', AWS_DEFAULT_REGION: 'eu-west-1' })).toBe('eu-west-3');
    expect(regionOf({}, { AWS_DEFAULT_REGION: 'eu-west-1' })).toBe('eu-west-1');
    expect(regionOf({}, {})).toBe('us-east-1');
  });

  test('AWS_ENDPOINT_URL_<SERVICE> in the environment is where a client without its own endpoint sends', async () => {
    setEnvironment({ ...CREDENTIALS, AWS_ENDPOINT_URL_SSM: service.url });
    service.handler = (_request, res) => sendJson(res, 200, { Parameter: { Value: 'v' } });
    expect(await createAwsJsonClient(SSM).call('GetParameter', { Name: '/p', WithDecryption: true })).toEqual({ Parameter: { Value: 'v' } });
    expect(last().headers['x-amz-target']).toBe('AmazonSSM.GetParameter');
    expect(last().headers['content-type']).toBe('application/x-amz-json-1.1');
  });
});

describe('signing', () => {
  test("the independent verifier and aws4 both give AWS's get-vanilla signature", () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    const vanilla = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31';
    const request = { method: 'GET', path: '/', headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z', authorization: vanilla }, body: '' };
    expect(expectedSignature(request, secret)).toBe(signatureIn(vanilla));
    const signed = aws4.sign(
      { host: 'example.amazonaws.com', path: '/', method: 'GET', service: 'service', region: 'us-east-1', headers: { 'X-Amz-Date': '20150830T123600Z' } },
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret },
    );
    expect(signed.headers!.Authorization).toBe(vanilla);
  });

  test('a request: POST / with the JSON content type and target, signed for the service and region with the environment’s key', async () => {
    service.handler = (_request, res) => sendJson(res, 200, { Item: { pk: { S: 'k' } } });
    expect(await dynamo().call('GetItem', { TableName: 't', Key: { pk: { S: 'k' } } })).toEqual({ Item: { pk: { S: 'k' } } });
    const request = last();
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/');
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    expect(JSON.parse(request.body)).toEqual({ TableName: 't', Key: { pk: { S: 'k' } } });
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTESTKEY\/\d{8}\/eu-west-3\/dynamodb\/aws4_request, SignedHeaders=[a-z0-9;-]*x-amz-target[a-z0-9;-]*, Signature=[0-9a-f]{64}$/);
    expect(String(request.headers.authorization)).toContain(`/${String(request.headers['x-amz-date']).slice(0, 8)}/`);
    expect(request.headers['x-amz-security-token']).toBeUndefined();
    expect(signatureIn(request.headers.authorization)).toBe(expectedSignature(request, CREDENTIALS.AWS_SECRET_ACCESS_KEY));
    // The secret itself never travels.
    expect(JSON.stringify(request)).not.toContain(CREDENTIALS.AWS_SECRET_ACCESS_KEY);
  });

  test('a session token travels as X-Amz-Security-Token, and is signed', async () => {
    setEnvironment({ ...CREDENTIALS, AWS_SESSION_TOKEN: 'session-token-value' });
    service.handler = (_request, res) => sendJson(res, 200, {});
    await createAwsJsonClient(SSM, { endpoint: service.url }).call('GetParameter', { Name: '/p' });
    const request = last();
    expect(request.headers['x-amz-security-token']).toBe('session-token-value');
    expect(request.headers.authorization).toMatch(/Credential=AKIDTESTKEY\/\d{8}\/eu-west-3\/ssm\/aws4_request, SignedHeaders=[^,]*x-amz-security-token/);
    expect(signatureIn(request.headers.authorization)).toBe(expectedSignature(request, CREDENTIALS.AWS_SECRET_ACCESS_KEY));
  });

  test("no credentials in the environment: the local stand-ins' dummy ones with a configured endpoint, a configuration error with AWS's own", async () => {
    setEnvironment({ AWS_REGION: 'local' });
    service.handler = (_request, res) => sendJson(res, 200, {});
    await dynamo().call('DescribeLimits', {});
    expect(last().headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/local\/dynamodb\/aws4_request, /);
    expect(signatureIn(last().headers.authorization)).toBe(expectedSignature(last(), 'local'));
    expect(() => createAwsJsonClient(DYNAMODB)).toThrow(ConfigurationError);
    expect(() => createAwsJsonClient(DYNAMODB)).toThrow(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: not set/);
  });
});

describe("the service's errors", () => {
  test('the error name from __type (with or without a namespace), code, or the x-amzn-ErrorType header', async () => {
    const answers: Array<[Record<string, unknown>, Record<string, string>, string]> = [
      [{ __type: 'com.amazonaws.dynamodb.v20120810#ValidationException', message: 'One or more parameter values were invalid' }, {}, 'ValidationException'],
      [{ __type: 'ParameterNotFound' }, {}, 'ParameterNotFound'],
      [{ code: 'InvalidKeyId', Message: 'the key' }, {}, 'InvalidKeyId'],
      [{}, { 'x-amzn-ErrorType': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/' }, 'AccessDeniedException'],
    ];
    for (const [body, headers, name] of answers) {
      service.handler = (_request, res) => sendJson(res, 400, body, headers);
      const error = await failure(dynamo().call('PutItem', { TableName: 't', Item: { pk: { S: 'a-secret-looking-key' } } }));
      expect(error).toMatchObject({ code: 'ERR_AWS_REQUEST', name: 'AwsRequestError', service: 'dynamodb', operation: 'PutItem', errorName: name, status: 400, reason: name });
      expect(error.message).toBe(`dynamodb PutItem: ${name} (HTTP 400)${body.message ?? body.Message ? `: ${body.message ?? body.Message}` : ''}`);
      expect(error.message).not.toContain('a-secret-looking-key');
      expect(error.message).not.toContain(CREDENTIALS.AWS_SECRET_ACCESS_KEY);
    }
    expect(errorNameOf({ __type: 'aws.protocoltests#ThrottlingException,Other' })).toBe('ThrottlingException');
    expect(errorNameOf({ __type: 'ValidationException' }, 'Other')).toBe('ValidationException');
    expect(errorNameOf({})).toBeUndefined();
  });

  test('an error answer that is not JSON: its status is the reason', async () => {
    service.handler = (_request, res) => {
      res.writeHead(403, { 'Content-Type': 'text/html' });
      res.end('<html>Forbidden</html>');
    };
    const error = await failure(dynamo().call('GetItem', {}));
    expect(error).toMatchObject({ status: 403, errorName: undefined, reason: 'HTTP 403' });
    expect(error.message).toBe('dynamodb GetItem: error (HTTP 403)');
  });

  test('the rest of the answer (the item with a refused condition) is kept for the caller, and never enumerated into a log', async () => {
    const item = { pk: { S: 'usage#x' }, body: { B: Buffer.from('hi').toString('base64') } };
    service.handler = (_request, res) => sendJson(res, 400, { __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed', Item: item });
    const error = await failure(dynamo().call('UpdateItem', {}));
    expect(error.errorName).toBe('ConditionalCheckFailedException');
    expect(error.details).toEqual({ Item: { pk: { S: 'usage#x' }, body: { B: new Uint8Array(Buffer.from('hi')) } } });
    expect(Object.keys(error)).not.toContain('details');
    expect(JSON.stringify(error)).not.toContain('usage#x');
  });

  test('throttling: by name or by 429', () => {
    const error = (status: number, errorName?: string) => new AwsRequestError({ service: 'ssm', operation: 'GetParameter', status, ...(errorName ? { errorName } : {}) });
    expect(isThrottling(error(400, 'ThrottlingException'))).toBe(true);
    expect(isThrottling(error(400, 'ProvisionedThroughputExceededException'))).toBe(true);
    expect(isThrottling(error(429))).toBe(true);
    expect(isThrottling(error(400, 'ValidationException'))).toBe(false);
    expect(isThrottling(error(500))).toBe(false);
  });
});

describe('one retry, for failures a retry can cure', () => {
  /** Answers each request with the next of `answers` (the last one from then on). */
  function answerInTurn(...answers: Array<(res: import('node:http').ServerResponse) => void>) {
    let index = 0;
    service.handler = (_request, res) => answers[Math.min(index++, answers.length - 1)]!(res);
  }
  const sentSince = (before: number) => service.requests.length - before;

  test('a request the service refuses as such (4xx) is not retried', async () => {
    answerInTurn((res) => sendJson(res, 400, { __type: 'ValidationException' }));
    const before = service.requests.length;
    expect(await failure(dynamo().call('GetItem', {}))).toMatchObject({ errorName: 'ValidationException' });
    expect(sentSince(before)).toBe(1);
  });

  test('a 500 is retried once: the second answer is the result; two 500s are the error', async () => {
    answerInTurn(
      (res) => sendJson(res, 500, { __type: 'InternalServerError' }),
      (res) => sendJson(res, 200, { Attributes: {} }),
    );
    let before = service.requests.length;
    expect(await dynamo().call('UpdateItem', {})).toEqual({ Attributes: {} });
    expect(sentSince(before)).toBe(2);

    answerInTurn((res) => sendJson(res, 503, { __type: 'ServiceUnavailable' }));
    before = service.requests.length;
    expect(await failure(dynamo().call('UpdateItem', {}))).toMatchObject({ errorName: 'ServiceUnavailable', status: 503 });
    expect(sentSince(before)).toBe(2);
  });

  test('throttling answered as a 400 is retried once', async () => {
    answerInTurn((res) => sendJson(res, 400, { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException' }));
    const before = service.requests.length;
    expect(await failure(dynamo().call('GetItem', {}))).toMatchObject({ errorName: 'ProvisionedThroughputExceededException', status: 400 });
    expect(sentSince(before)).toBe(2);
  });

  test('no answer (the connection dropped) is retried once', async () => {
    answerInTurn(
      (res) => res.socket?.destroy(),
      (res) => sendJson(res, 200, { Parameter: { Value: 'x' } }),
    );
    const before = service.requests.length;
    expect(await createAwsJsonClient(SSM, { endpoint: service.url }).call('GetParameter', {})).toEqual({ Parameter: { Value: 'x' } });
    expect(sentSince(before)).toBe(2);
  });

  test('an answer cut off midway is no answer, retried once', async () => {
    answerInTurn(
      (res) => {
        res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0', 'Content-Length': '100' });
        res.write('{"Item":');
        setImmediate(() => res.socket?.destroy());
      },
      (res) => sendJson(res, 200, { Item: {} }),
    );
    const before = service.requests.length;
    expect(await dynamo().call('GetItem', {})).toEqual({ Item: {} });
    expect(sentSince(before)).toBe(2);

    answerInTurn((res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('{"Item":');
      setImmediate(() => res.socket?.destroy());
    });
    expect(await failure(dynamo().call('GetItem', {}))).toMatchObject({ status: undefined, reason: 'no answer' });
  });

  test('nothing listening: no answer, with the network failure as its cause', async () => {
    const error = await failure(createAwsJsonClient(SSM, { endpoint: await unusedLoopbackUrl() }).call('GetParameter', { Name: '/p' }));
    expect(error).toMatchObject({ service: 'ssm', operation: 'GetParameter', status: undefined, errorName: undefined, reason: 'no answer' });
    expect(error.message).toBe('ssm GetParameter: no answer');
    // The exchange's failure (http-request.ts), with node:http's own underneath (another realm's Error: matched by shape).
    expect(error.cause).toMatchObject({ name: 'HttpRequestError', kind: 'network' });
    expect((error.cause as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  test("the caller's signal aborts the request in flight; aborted, nothing more is sent", async () => {
    let arrived!: () => void;
    const waiting = new Promise<void>((resolve) => (arrived = resolve));
    service.handler = () => {
      arrived();
      return new Promise<void>(() => undefined);
    };
    const before = service.requests.length;
    const controller = new AbortController();
    const pending = dynamo().call('GetItem', {}, { signal: controller.signal });
    await waiting;
    controller.abort();
    const error = await failure(pending);
    expect(error).toMatchObject({ status: undefined, reason: 'no answer' });
    expect(error.cause).toMatchObject({ name: 'HttpRequestError', kind: 'aborted' });
    expect(((error.cause as Error).cause as Error).name).toBe('AbortError');
    expect(service.requests.length - before).toBe(1);
    // Already aborted: nothing is sent, and the abort's reason is the cause.
    const timedOut = await failure(dynamo().call('GetItem', {}, { signal: AbortSignal.abort(new DOMException('deadline', 'TimeoutError')) }));
    expect((timedOut.cause as Error).name).toBe('TimeoutError');
    expect(service.requests.length - before).toBe(1);
  });
});

describe('DynamoDB binary values', () => {
  test('sent as base64 wherever they are (B, BS, inside M and L), read back as Uint8Array; other services untouched', async () => {
    const bytes = new Uint8Array([0, 255, 128]);
    const buffer = Buffer.from('buffer');
    service.handler = (request, res) => sendJson(res, 200, { Attributes: JSON.parse(request.body).Item });
    const output = await dynamo().call<{ Attributes: unknown }>('PutItem', {
      Item: { b: { B: bytes }, buf: { B: buffer }, set: { BS: [bytes, buffer] }, map: { M: { B: { B: bytes }, s: { S: 'B' } } }, list: { L: [{ B: bytes }] } },
    });
    expect(JSON.parse(last().body).Item).toEqual({
      b: { B: 'AP+A' },
      buf: { B: 'YnVmZmVy' },
      set: { BS: ['AP+A', 'YnVmZmVy'] },
      map: { M: { B: { B: 'AP+A' }, s: { S: 'B' } } },
      list: { L: [{ B: 'AP+A' }] },
    });
    const asBytes = (text: string) => new Uint8Array(Buffer.from(text));
    expect(output.Attributes).toEqual({
      b: { B: bytes },
      buf: { B: asBytes('buffer') },
      set: { BS: [bytes, asBytes('buffer')] },
      map: { M: { B: { B: bytes }, s: { S: 'B' } } },
      list: { L: [{ B: bytes }] },
    });

    service.handler = (_request, res) => sendJson(res, 200, { Parameter: { B: 'AP+A' } });
    expect(await createAwsJsonClient(SSM, { endpoint: service.url }).call('GetParameter', {})).toEqual({ Parameter: { B: 'AP+A' } });
  });
});
