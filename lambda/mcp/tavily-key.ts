/**
 * Where the Tavily API key comes from, hidden from everything else: the
 * `TAVILY_API_KEY` variable when set (the local stack), otherwise the SSM
 * SecureString named by `TAVILY_API_KEY_PARAMETER`, read with Powertools
 * Parameters (decrypted, cached for `maxAge`). Nothing is read at cold start:
 * the first tool call pays for it, `initialize` and `tools/list` never do.
 */
import { TavilyError } from './tavily.js';

/** Seconds a key read from SSM is reused before it is read again (a rotated key takes effect within this). */
export const TAVILY_KEY_MAX_AGE_SECONDS = 300;

export interface TavilyKeySource {
  readonly apiKey?: string;
  readonly parameterName?: string;
}

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
  return async () => {
    // Loaded on first use so that the AWS SDK never weighs on a cold start.
    const { getParameter } = await import('@aws-lambda-powertools/parameters/ssm');
    let value: string | undefined;
    try {
      value = await getParameter(parameterName, { decrypt: true, maxAge: TAVILY_KEY_MAX_AGE_SECONDS });
    } catch (error) {
      throw ssmError(parameterName, error);
    }
    if (!value) {
      throw new TavilyError('missing_key', `The SSM parameter ${parameterName} is empty. Store the Tavily API key in it.`);
    }
    return value;
  };
}

function ssmError(parameterName: string, error: unknown): TavilyError {
  const cause = (error as { cause?: { name?: string } })?.cause;
  const name = cause?.name ?? (error as Error)?.name;
  if (name === 'ParameterNotFound') {
    return new TavilyError(
      'missing_key',
      `The SSM parameter ${parameterName} does not exist. Create it: aws ssm put-parameter --name ${parameterName} --type SecureString --value tvly-...`,
    );
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return new TavilyError('missing_key', `The MCP function may not read (or decrypt) the SSM parameter ${parameterName}. Check its IAM policy and the parameter's KMS key.`);
  }
  return new TavilyError('missing_key', `The Tavily API key could not be read from SSM parameter ${parameterName} (${name ?? 'unknown error'}). Retry shortly.`);
}
