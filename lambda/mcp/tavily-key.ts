/**
 * Where the Tavily API key comes from, hidden from everything else: the
 * `TAVILY_API_KEY` variable when set (the local stack), otherwise the SSM
 * SecureString named by `TAVILY_API_KEY_PARAMETER`, decrypted and reused for a
 * while (lambda/shared/parameters.ts). Nothing is read at cold start: the first
 * tool call pays for it, `initialize` and `tools/list` never do. A tool call
 * starts the read as soon as it arrives (sdk-path.ts), so that it runs beside
 * the call's other work; the call's own request for the key then takes that read.
 */
import {
  ParameterAccessDeniedError,
  ParameterNotFoundError,
  ParameterUnavailableError,
  readParameter,
} from '../shared/parameters.js';
import { TavilyError } from './tavily.js';

/** Seconds a key read from SSM is reused before it is read again: a rotated key takes effect within this. */
export const TAVILY_KEY_MAX_AGE_SECONDS = 300;

export interface TavilyKeySource {
  readonly apiKey?: string;
  readonly parameterName?: string;
}

/**
 * The key, as a function to call whenever it is needed. Calls made while a read
 * is under way share it (one SSM request however many ask); a read that failed
 * is not kept, so the next call reads again.
 */
export function createTavilyKeyProvider(source: TavilyKeySource): () => Promise<string> {
  if (source.apiKey) {
    const key = source.apiKey;
    return async () => key;
  }
  const parameterName = source.parameterName;
  if (!parameterName) {
    return async () => {
      throw new TavilyError(
        'missing_key',
        'No Tavily API key is configured: set TAVILY_API_KEY (local stack) or TAVILY_API_KEY_PARAMETER (an SSM SecureString) for the MCP function.',
      );
    };
  }
  const read = async () => {
    let value: string;
    try {
      value = await readParameter(parameterName, { decrypt: true, maxAge: TAVILY_KEY_MAX_AGE_SECONDS });
    } catch (error) {
      throw missingKey(parameterName, error);
    }
    if (!value) {
      throw new TavilyError('missing_key', `The SSM parameter ${parameterName} is empty. Store the Tavily API key in it.`);
    }
    return value;
  };
  let reading: Promise<string> | undefined;
  return () => {
    if (!reading) {
      const current = read();
      reading = current;
      const settled = () => {
        if (reading === current) reading = undefined;
      };
      current.then(settled, settled);
    }
    return reading;
  };
}

/** What the operator must do, in the words the agent relays: every failure to read the key is a missing key. */
function missingKey(parameterName: string, error: unknown): TavilyError {
  if (error instanceof ParameterNotFoundError) {
    return new TavilyError(
      'missing_key',
      `The SSM parameter ${parameterName} does not exist. Create it: aws ssm put-parameter --name ${parameterName} --type SecureString --value tvly-...`,
    );
  }
  if (error instanceof ParameterAccessDeniedError) {
    return new TavilyError('missing_key', `The MCP function may not read (or decrypt) the SSM parameter ${parameterName}. Check its IAM policy and the parameter's KMS key.`);
  }
  const reason = error instanceof ParameterUnavailableError ? error.reason : 'unexpected error';
  return new TavilyError('missing_key', `The Tavily API key could not be read from SSM parameter ${parameterName} (${reason}). Retry shortly.`);
}
