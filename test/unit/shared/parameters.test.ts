/**
 * readParameter against a loopback SSM, through the real Powertools Parameters and
 * aws-json's GetParameter: values, decryption, reuse within maxAge, and SSM's
 * failures turned into this project's errors with the failed request as their cause.
 */
import { AwsRequestError } from '../../../lambda/shared/aws-json.js';
import { findCause } from '../../../lambda/shared/errors.js';
import {
  ParameterAccessDeniedError,
  ParameterNotFoundError,
  ParameterUnavailableError,
  readParameter,
} from '../../../lambda/shared/parameters.js';
import { fakeSsmForThisProcess } from '../../fixtures/fake-ssm.js';
import { rejection } from '../../fixtures/rejection.js';

const fakeSsm = fakeSsmForThisProcess();

test('reads the value, decrypted when asked', async () => {
  fakeSsm().parameters.set('/test/secret', 'tvly-secret');
  fakeSsm().parameters.set('/test/plain', 'jti:abc');
  expect(await readParameter('/test/secret', { decrypt: true, maxAge: 60 })).toBe('tvly-secret');
  expect(await readParameter('/test/plain', { maxAge: 60 })).toBe('jti:abc');
  const bodies = fakeSsm().requests.filter((request) => String(request.body.Name).startsWith('/test/')).map((request) => request.body);
  expect(bodies).toEqual([
    { Name: '/test/secret', WithDecryption: true },
    { Name: '/test/plain', WithDecryption: false },
  ]);
});

test('a value is reused within maxAge, not read again', async () => {
  fakeSsm().parameters.set('/test/reused', 'first');
  expect(await readParameter('/test/reused', { maxAge: 300 })).toBe('first');
  fakeSsm().parameters.set('/test/reused', 'second');
  expect(await readParameter('/test/reused', { maxAge: 300 })).toBe('first');
  expect(fakeSsm().requests.filter((request) => request.body.Name === '/test/reused')).toHaveLength(1);
});

test("a parameter that does not exist: ParameterNotFoundError, SSM's answer in its cause chain", async () => {
  const error = await rejection(readParameter('/test/missing', { maxAge: 60 }));
  expect(error).toBeInstanceOf(ParameterNotFoundError);
  expect(error).toMatchObject({ code: 'ERR_PARAMETER_NOT_FOUND', parameterName: '/test/missing' });
  expect(findCause(error, AwsRequestError)).toMatchObject({ service: 'ssm', operation: 'GetParameter', errorName: 'ParameterNotFound', status: 400 });
});

test('access denied (IAM or KMS): ParameterAccessDeniedError', async () => {
  fakeSsm().parameters.set('/test/denied', 'AccessDenied');
  const error = await rejection(readParameter('/test/denied', { decrypt: true, maxAge: 60 }));
  expect(error).toBeInstanceOf(ParameterAccessDeniedError);
  expect(error).toMatchObject({ code: 'ERR_PARAMETER_ACCESS_DENIED', parameterName: '/test/denied' });
  expect(error.cause).toBeDefined();
});

test("any other failure: ParameterUnavailableError, naming SSM's reason", async () => {
  fakeSsm().parameters.set('/test/kms', 'Error:InvalidKeyId');
  const error = await rejection(readParameter('/test/kms', { decrypt: true, maxAge: 60 }));
  expect(error).toBeInstanceOf(ParameterUnavailableError);
  expect(error).toMatchObject({ code: 'ERR_PARAMETER_UNAVAILABLE', reason: 'InvalidKeyId' });
  expect(error.message).toBe('The SSM parameter /test/kms could not be read (InvalidKeyId)');
});
