/**
 * The part of readParameter (parameters.ts) that reads SSM, in a module of its
 * own so that it loads on the first read and not at cold start. Powertools
 * Parameters caches (its BaseProvider: `maxAge`, one entry per name); the
 * provider under it asks SSM's GetParameter through aws-json.ts rather than the
 * AWS SDK's client, and this turns SSM's failures into this project's errors.
 */
import { BaseProvider } from '@aws-lambda-powertools/parameters/base';
import type { GetOptionsInterface } from '@aws-lambda-powertools/parameters/base/types';
import { AwsRequestError, createAwsJsonClient, SSM, type AwsJsonClient } from './aws-json.js';
import { findCause } from './errors.js';
import {
  ParameterAccessDeniedError,
  ParameterNotFoundError,
  ParameterUnavailableError,
  type ReadParameterOptions,
} from './parameters.js';

interface SsmGetOptions extends GetOptionsInterface {
  /** GetParameter's WithDecryption: a SecureString decrypted with its KMS key. */
  readonly decrypt?: boolean;
}

/** Powertools' caching over SSM's GetParameter, one parameter at a time (all this project reads). */
class SsmParameterProvider extends BaseProvider {
  #ssm: AwsJsonClient | undefined;

  constructor() {
    // No AWS SDK client: BaseProvider keeps it only to hand to `_get`, and this one has its own.
    super({});
  }

  override get(name: string, options: SsmGetOptions): Promise<string | undefined> {
    return super.get(name, options) as Promise<string | undefined>;
  }

  /** BaseProvider passes `get`'s options through as they were given. */
  protected async _get(name: string, options?: SsmGetOptions): Promise<string | undefined> {
    // Made on the first read: the credentials and endpoint are the environment's by then.
    this.#ssm ??= createAwsJsonClient(SSM);
    const output = await this.#ssm.call<{ Parameter?: { Value?: string } }>('GetParameter', { Name: name, WithDecryption: options?.decrypt === true });
    return output.Parameter?.Value;
  }

  protected _getMultiple(path: string): Promise<Record<string, unknown> | undefined> {
    return Promise.reject(new TypeError(`This provider reads one parameter at a time, not the path ${path}`));
  }
}

const provider = new SsmParameterProvider();

export async function readSsmParameter(name: string, { decrypt = false, maxAge }: ReadParameterOptions): Promise<string> {
  let value: string | undefined;
  try {
    value = await provider.get(name, { decrypt, maxAge });
  } catch (error) {
    // Powertools wraps the provider's error in its own (GetParameterError), with it as `cause`.
    const failure = findCause(error, AwsRequestError);
    if (failure?.errorName === 'ParameterNotFound') throw new ParameterNotFoundError(name, { cause: error });
    if (failure?.errorName === 'AccessDeniedException') throw new ParameterAccessDeniedError(name, { cause: error });
    // SSM's name for the failure is the operator's clue.
    throw new ParameterUnavailableError(name, failure?.errorName ?? 'no answer', { cause: error });
  }
  if (value === undefined) throw new ParameterNotFoundError(name);
  return value;
}
