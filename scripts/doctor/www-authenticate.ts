/**
 * `WWW-Authenticate` as RFC 9110 section 11.6.1 defines it: one or more
 * challenges, each a scheme with a token68 or comma-separated auth-params,
 * values bare or quoted. Strict enough to tell an operator their header is
 * malformed; the MCP SDK's own reading is laxer (see `sdkReadsChallenge`).
 */

export interface Challenge {
  readonly scheme: string;
  /** Parameter names lower-cased (they are case-insensitive). */
  readonly params: Readonly<Record<string, string>>;
  readonly token68?: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*/;

/** The challenges in a header value; `undefined` when it does not parse. */
export function parseWwwAuthenticate(header: string): Challenge[] | undefined {
  const challenges: Challenge[] = [];
  let rest = header;
  const skip = (pattern: RegExp) => {
    rest = rest.replace(pattern, '');
  };

  skip(/^[\s,]+/);
  while (rest.length > 0) {
    const scheme = TOKEN.exec(rest)?.[0];
    if (!scheme) return undefined;
    rest = rest.slice(scheme.length);
    const params: Record<string, string> = {};
    let token68: string | undefined;

    if (/^ +/.test(rest)) {
      skip(/^ +/);
      const candidate = TOKEN68.exec(rest)?.[0];
      if (candidate && /^\s*(,|$)/.test(rest.slice(candidate.length))) {
        token68 = candidate;
        rest = rest.slice(candidate.length);
      } else {
        // auth-params until something that is not `name=` (the next challenge's scheme) or the end.
        while (rest.length > 0) {
          const name = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(rest);
          if (!name) break;
          rest = rest.slice(name[0].length);
          let value: string;
          if (rest.startsWith('"')) {
            const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
            if (!quoted) return undefined;
            value = quoted[1]!.replace(/\\(.)/g, '$1');
            rest = rest.slice(quoted[0].length);
          } else {
            const bare = TOKEN.exec(rest)?.[0];
            if (!bare) return undefined;
            value = bare;
            rest = rest.slice(bare.length);
          }
          params[name[1]!.toLowerCase()] = value;
          skip(/^\s*/);
          if (rest.length === 0) break;
          if (!rest.startsWith(',')) return undefined;
          skip(/^[\s,]+/);
        }
      }
    }
    challenges.push({ scheme, params, ...(token68 !== undefined ? { token68 } : {}) });
    skip(/^[\s,]+/);
  }
  return challenges.length > 0 ? challenges : undefined;
}

/**
 * Whether the MCP SDK client (1.x, `extractWWWAuthenticateParams`) sees the
 * Bearer challenge: it reads only the header's first word as the scheme, so a
 * Bearer challenge after another one is invisible to it.
 */
export function sdkReadsChallenge(header: string): boolean {
  const [scheme, next] = header.trim().split(' ');
  return scheme?.toLowerCase() === 'bearer' && Boolean(next);
}
