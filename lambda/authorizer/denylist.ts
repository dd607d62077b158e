/**
 * The operator's stop button: tokens, users and clients refused whatever their
 * token says. The authorizer never asks the authorization server about a token
 * (Scalekit documents no introspection), so a token is otherwise honoured until
 * its `exp`. The list is an SSM parameter, read through Powertools Parameters
 * and reused for `maxAge` seconds; Scalekit itself recommends a `jti` denylist
 * for fast revocation.
 *
 * Its value is either comma-separated entries (a StringList, or a String):
 *   jti:tkn_123,sub:usr_456,client_id:skc_789
 * or a JSON object of lists:
 *   {"jti": ["tkn_123"], "sub": ["usr_456"], "client_id": ["skc_789"]}
 * `jti` also matches the short hash the authorizer logs as `token` for tokens
 * that carry no jti.
 *
 * Failing closed where it matters: a list that cannot be read (or parsed) before
 * any good read is an outage (503, like unreachable signing keys), never an Allow;
 * after a good read, the last good list keeps applying while SSM is unreachable.
 * A parameter that does not exist is an empty list: nothing blocked yet.
 */
import type { Caller } from '../shared/caller.js';
import { WebSearchMcpError } from '../shared/errors.js';

export type DenylistKind = 'jti' | 'sub' | 'client_id';
export const DENYLIST_KINDS: readonly DenylistKind[] = ['jti', 'sub', 'client_id'];

export type Denylist = Readonly<Record<DenylistKind, ReadonlySet<string>>>;

export const EMPTY_DENYLIST: Denylist = { jti: new Set(), sub: new Set(), client_id: new Set() };

/** The list could not be read (or parsed) and no good read is held: an outage (503), never an Allow. */
export class DenylistUnavailableError extends WebSearchMcpError {
  readonly code = 'ERR_DENYLIST_UNAVAILABLE' as const;
}

/** Entries are identifiers: printable ASCII without spaces or commas, as jti, sub and client_id are. */
const IDENTIFIER = /^[\x21-\x2b\x2d-\x7e]{1,256}$/;
export const MAX_DENYLIST_ENTRIES = 10_000;

/** The list from the parameter's value, or a description of what is wrong with it (naming no entry). */
export function parseDenylist(text: string): Denylist | { readonly problem: string } {
  const lists: Record<DenylistKind, Set<string>> = { jti: new Set(), sub: new Set(), client_id: new Set() };
  const trimmed = text.trim();
  const add = (kind: string, value: unknown, where: string): string | undefined => {
    if (!(DENYLIST_KINDS as readonly string[]).includes(kind)) return `${where}: the kind must be jti, sub or client_id`;
    if (typeof value !== 'string' || !IDENTIFIER.test(value)) return `${where}: not an identifier (printable ASCII, no spaces or commas)`;
    lists[kind as DenylistKind].add(value);
    return undefined;
  };
  let count = 0;
  if (trimmed.startsWith('{')) {
    let document: unknown;
    try {
      document = JSON.parse(trimmed);
    } catch {
      return { problem: 'malformed: not valid JSON' };
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) return { problem: 'malformed: not a JSON object' };
    for (const [kind, values] of Object.entries(document)) {
      if (!Array.isArray(values)) return { problem: `malformed: "${DENYLIST_KINDS.includes(kind as DenylistKind) ? kind : 'a key'}" is not a list` };
      for (const [index, value] of values.entries()) {
        const problem = add(kind, value, `malformed: entry ${index} of ${DENYLIST_KINDS.includes(kind as DenylistKind) ? kind : 'an unknown kind'}`);
        if (problem) return { problem };
        count += 1;
      }
    }
  } else {
    for (const [index, entry] of trimmed.split(',').entries()) {
      const item = entry.trim();
      if (item === '') continue;
      const colon = item.indexOf(':');
      if (colon < 0) return { problem: `malformed: entry ${index + 1} is not kind:value (jti:…, sub:… or client_id:…)` };
      const problem = add(item.slice(0, colon), item.slice(colon + 1), `malformed: entry ${index + 1}`);
      if (problem) return { problem };
      count += 1;
    }
  }
  if (count > MAX_DENYLIST_ENTRIES) return { problem: `malformed: more than ${MAX_DENYLIST_ENTRIES} entries` };
  return lists;
}

/** Which entry, if any, refuses this caller. */
export function deniedBy(list: Denylist, caller: Caller): DenylistKind | undefined {
  if (caller.tokenId && list.jti.has(caller.tokenId)) return 'jti';
  if (caller.sub && list.sub.has(caller.sub)) return 'sub';
  if (caller.clientId && list.client_id.has(caller.clientId)) return 'client_id';
  return undefined;
}

export interface DenylistSourceOptions {
  readonly parameterName: string;
  readonly maxAgeSeconds: number;
  /** Reads the parameter's value; `undefined` when it does not exist. Default: Powertools Parameters (SSM). */
  readonly read?: (name: string, maxAgeSeconds: number) => Promise<string | undefined>;
  /** Told when a read fails or yields a malformed list, with the reason (never an entry). */
  readonly onProblem?: (problem: string, stale: boolean) => void;
}

export interface DenylistSource {
  current(): Promise<Denylist>;
}

async function readFromSsm(name: string, maxAgeSeconds: number): Promise<string | undefined> {
  // Loaded on first use: an authorizer without a denylist never loads the AWS SDK.
  const { getParameter } = await import('@aws-lambda-powertools/parameters/ssm');
  try {
    return await getParameter(name, { maxAge: maxAgeSeconds });
  } catch (error) {
    const cause = (error as { cause?: { name?: string } })?.cause;
    if ((cause?.name ?? (error as Error)?.name) === 'ParameterNotFound') return undefined;
    throw error;
  }
}

function errorName(error: unknown): string {
  const cause = (error as { cause?: { name?: string } })?.cause;
  return cause?.name ?? (error as Error)?.name ?? 'unknown error';
}

export function createDenylistSource(options: DenylistSourceOptions): DenylistSource {
  const read = options.read ?? readFromSsm;
  let lastGood: Denylist | undefined;
  let lastText: string | undefined;
  return {
    async current() {
      let text: string | undefined;
      try {
        text = await read(options.parameterName, options.maxAgeSeconds);
      } catch (error) {
        options.onProblem?.(`unreadable (${errorName(error)})`, lastGood !== undefined);
        if (lastGood) return lastGood;
        throw new DenylistUnavailableError(`The denylist ${options.parameterName} could not be read`, { cause: error });
      }
      if (text === undefined) return (lastGood = EMPTY_DENYLIST);
      // Powertools hands back the same value until maxAge passes: parse it once.
      if (text === lastText && lastGood) return lastGood;
      const parsed = parseDenylist(text);
      if ('problem' in parsed) {
        options.onProblem?.(parsed.problem, lastGood !== undefined);
        if (lastGood) return lastGood;
        throw new DenylistUnavailableError(`The denylist ${options.parameterName} is ${parsed.problem}`);
      }
      lastText = text;
      return (lastGood = parsed);
    },
  };
}
