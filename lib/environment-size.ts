/**
 * Lambda allows 4 KB for all of a function's environment variables together, and
 * some of ours grow with the operator's settings (QUOTA_OVERRIDES, ALLOWED_ORIGINS).
 * The stack checks each function's environment at synth, as CloudFormation will hold
 * it: literal text as it is, and each value only known at deploy time (a region, the
 * API's id, a table's name) at the longest it can be. Counting every variable as
 * JSON (`"NAME":"value",`) makes the figure an upper bound of any way Lambda counts.
 */

export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4 * 1024;

/** The settings an operator can grow without bound, named first when an environment is too big. */
export const UNBOUNDED_SETTINGS: readonly string[] = ['QUOTA_OVERRIDES', 'ALLOWED_ORIGINS'];

/** The most bytes a deploy-time value (a CloudFormation intrinsic such as `{ Ref: … }`) can take, or undefined if unknown. */
export type LongestValue = (intrinsic: Readonly<Record<string, unknown>>) => number | undefined;

export interface EnvironmentSize {
  readonly bytes: number;
  /** Each variable's share, largest first. */
  readonly variables: readonly { readonly name: string; readonly bytes: number }[];
  /** Variables holding a deploy-time value of no known bound (counted as 0 in `bytes`). */
  readonly unbounded: readonly string[];
}

const jsonBytes = (text: string) => Buffer.byteLength(JSON.stringify(text));

/** The most bytes a value in the template can take once deployed (without the quotes around it); undefined if unknown. */
function valueBytes(value: unknown, longest: LongestValue): number | undefined {
  if (typeof value === 'string') return jsonBytes(value) - 2;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).length;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const join = (value as { 'Fn::Join'?: unknown })['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = (join[1] as unknown[]).map((part) => valueBytes(part, longest));
    if (parts.some((part) => part === undefined)) return undefined;
    return (parts as number[]).reduce((sum, part) => sum + part, 0) + (jsonBytes(join[0]) - 2) * Math.max(parts.length - 1, 0);
  }
  return longest(value as Record<string, unknown>);
}

/** The size of an environment as the template holds it (`variables` resolved by the stack). */
export function environmentSize(variables: Readonly<Record<string, unknown>>, longest: LongestValue): EnvironmentSize {
  const unbounded: string[] = [];
  const sizes = Object.entries(variables)
    .map(([name, value]) => {
      const bytes = valueBytes(value, longest);
      if (bytes === undefined) unbounded.push(name);
      return { name, bytes: jsonBytes(name) + 1 + ((bytes ?? 0) + 2) + 1 };
    })
    .sort((a, b) => b.bytes - a.bytes);
  return { bytes: 2 + sizes.reduce((sum, each) => sum + each.bytes, 0), variables: sizes, unbounded };
}

/** A message for an environment over the limit, naming its largest variables and what to shorten; undefined when it fits. */
export function environmentSizeProblem(functionName: string, size: EnvironmentSize): string | undefined {
  if (size.unbounded.length > 0) {
    return (
      `The ${functionName} function's environment cannot be sized: ${size.unbounded.join(', ')} ` +
      `hold${size.unbounded.length === 1 ? 's' : ''} a deploy-time value of no known longest length (the stack's longestDeployTimeValue must bound it).`
    );
  }
  if (size.bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return undefined;
  const largest = size.variables.slice(0, 3).map((each) => `${each.name} (${each.bytes} bytes)`);
  const growable = size.variables.filter((each) => UNBOUNDED_SETTINGS.includes(each.name)).map((each) => each.name);
  return (
    `The ${functionName} function's environment may take up to ${size.bytes} bytes, over Lambda's limit of ` +
    `${LAMBDA_ENVIRONMENT_LIMIT_BYTES} bytes for all its variables together (values known only at deploy time counted at their longest). ` +
    `Largest: ${largest.join(', ')}.` +
    (growable.length > 0 ? ` Shorten ${growable.join(' or ')} (fewer or shorter entries).` : '')
  );
}
