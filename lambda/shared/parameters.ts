/**
 * One way to read an SSM parameter, shaped after Powertools'
 * `getParameter(name, { decrypt, maxAge })`: where a value comes from and how
 * long it is reused are this module's concern, not the caller's. The authorizer
 * reads its revocation denylist with it, the MCP function its Tavily key.
 *
 * Failures come back as this project's errors, the failed request (an
 * AwsRequestError, aws-json.ts) in their `cause` chain:
 * `ParameterNotFoundError`, `ParameterAccessDeniedError`, or
 * `ParameterUnavailableError` for anything else (throttling, network, KMS).
 *
 * Nothing is loaded until the first read: a function that never reads a
 * parameter never loads Powertools Parameters nor the code that calls SSM.
 */
import { WebSearchMcpError } from './errors.js';

export interface ReadParameterOptions {
  /** Decrypt a SecureString with its KMS key. Default: false. */
  readonly decrypt?: boolean;
  /** Seconds a value read is reused before SSM is asked again: a change takes effect within this. */
  readonly maxAge: number;
}

export class ParameterNotFoundError extends WebSearchMcpError {
  readonly code = 'ERR_PARAMETER_NOT_FOUND' as const;
  constructor(
    readonly parameterName: string,
    options?: ErrorOptions,
  ) {
    super(`The SSM parameter ${parameterName} does not exist`, options);
  }
}

/** IAM does not let this function read the parameter, or KMS does not let it decrypt it. */
export class ParameterAccessDeniedError extends WebSearchMcpError {
  readonly code = 'ERR_PARAMETER_ACCESS_DENIED' as const;
  constructor(
    readonly parameterName: string,
    options?: ErrorOptions,
  ) {
    super(`This function may not read (or decrypt) the SSM parameter ${parameterName}`, options);
  }
}

export class ParameterUnavailableError extends WebSearchMcpError {
  readonly code = 'ERR_PARAMETER_UNAVAILABLE' as const;
  constructor(
    readonly parameterName: string,
    /** SSM's name for the failure (`ThrottlingException`, ...), or `no answer` when SSM was not reached. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`The SSM parameter ${parameterName} could not be read (${reason})`, options);
  }
}

let ssm: Promise<typeof import('./ssm-parameters.js')> | undefined;

/**
 * Load the reader (Powertools Parameters and its signed SSM requests) without
 * reading anything: for an init phase that runs before any request waits on it,
 * and must leave no request in flight when it ends.
 */
export async function loadParameterReader(): Promise<void> {
  await (ssm ??= import('./ssm-parameters.js'));
}

/** The parameter's value; read from SSM at most once per `maxAge` seconds in an instance. */
export async function readParameter(name: string, options: ReadParameterOptions): Promise<string> {
  // In a bundle the reader is inlined, and this evaluates it on the first read (lib/bundling.ts).
  const { readSsmParameter } = await (ssm ??= import('./ssm-parameters.js'));
  return readSsmParameter(name, options);
}
