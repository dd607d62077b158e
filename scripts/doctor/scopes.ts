/** Scopes as OAuth writes them (space-separated) and as the doctor's messages show them. */

export function splitScopes(scope: string | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean);
}

export const quoteScopes = (scopes: readonly string[]) => scopes.map((scope) => `"${scope}"`).join(', ');
