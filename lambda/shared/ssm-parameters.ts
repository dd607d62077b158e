/**
 * The part of readParameter (parameters.ts) that needs Powertools Parameters and
 * the AWS SDK, in a module of its own so that it loads on the first read and not
 * at cold start. Powertools reads and caches; this turns the SDK's failures into
 * this project's errors.
 */
import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { AccessDeniedException, ParameterNotFound, SSMServiceException } from '@aws-sdk/client-ssm';
import { findCause } from './errors.js';
import {
  ParameterAccessDeniedError,
  ParameterNotFoundError,
  ParameterUnavailableError,
  type ReadParameterOptions,
} from './parameters.js';

export async function readSsmParameter(name: string, { decrypt = false, maxAge }: ReadParameterOptions): Promise<string> {
  let value: string | undefined;
  try {
    value = await getParameter(name, { decrypt, maxAge });
  } catch (error) {
    // Powertools wraps the SDK's error in its own, with the SDK's as `cause`.
    if (findCause(error, ParameterNotFound)) throw new ParameterNotFoundError(name, { cause: error });
    if (findCause(error, AccessDeniedException)) throw new ParameterAccessDeniedError(name, { cause: error });
    // The SDK names each service error after SSM's code for it: the operator's clue.
    throw new ParameterUnavailableError(name, findCause(error, SSMServiceException)?.name ?? 'no answer', { cause: error });
  }
  if (value === undefined) throw new ParameterNotFoundError(name);
  return value;
}
