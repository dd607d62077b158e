/**
 * What API Gateway answers by itself on the routes lambda/shared/routes.ts marks
 * `integration: 'mock'`: the protected resource metadata (RFC 9728), built at
 * synth time. The CDK stack turns an answer into a MOCK integration's response
 * template (`vtlVerbatim`), the local gateway sends it as it is: one definition,
 * so the two cannot drift. No CDK imports here: the local gateway loads this
 * file too.
 */
import {
  DISCOVERY_CACHE_CONTROL,
  protectedResourceMetadata,
  type ProtectedResourceSettings,
} from '../lambda/shared/protected-resource-metadata.js';
import type { MockDocument } from '../lambda/shared/routes.js';

export interface MockSettings {
  readonly protectedResource: ProtectedResourceSettings;
}

/** A mock route's answer before CORS, which depends on the request's Origin: callers add it from the origin policy. */
export interface MockAnswer {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The answer to a mock route: the same bytes and headers wherever it is served. */
export function mockAnswer(document: MockDocument, settings: MockSettings): MockAnswer {
  switch (document) {
    case 'protected-resource-metadata':
      return {
        statusCode: 200,
        headers: { 'Content-Type': 'application/json', ...DISCOVERY_CACHE_CONTROL },
        body: JSON.stringify(protectedResourceMetadata(settings.protectedResource)),
      };
  }
}

/**
 * VTL (API Gateway's Velocity templates) interprets `$` (references), `#`
 * (directives and comments) and `\` (escapes before either) in a template's
 * text, and nothing else. `vtlVerbatim` output starts with this prelude, which
 * names the three characters without writing them (`$util.urlDecode` is API
 * Gateway's), and writes each occurrence as a formal reference to its name:
 * the text then holds none of them raw, so Velocity outputs it unchanged.
 */
export const VTL_LITERALS: Readonly<Record<'$' | '#' | '\\', { readonly name: string; readonly encoded: string }>> = {
  $: { name: 'vtlDollar', encoded: '%24' },
  '#': { name: 'vtlHash', encoded: '%23' },
  '\\': { name: 'vtlBackslash', encoded: '%5C' },
};

export const VTL_LITERAL_PRELUDE = Object.values(VTL_LITERALS)
  .map(({ name, encoded }) => `#set($${name} = $util.urlDecode('${encoded}'))`)
  .join('');

/**
 * `text` as VTL that renders to exactly `text` (one line; no whitespace added).
 * `opaque` parts are left as they are: CDK token markers (`${Token[…]}`), which
 * CloudFormation replaces with values that hold none of `$`, `#`, `\` (such as
 * the execute-api URL); the caller guarantees that.
 */
export function vtlVerbatim(text: string, opaque: readonly string[] = []): string {
  const escape = (part: string) =>
    part.replace(/[$#\\]/g, (character) => `\${${VTL_LITERALS[character as keyof typeof VTL_LITERALS].name}}`);
  const kept = opaque.filter((part) => part.length > 0);
  let pieces: Array<{ text: string; opaque: boolean }> = [{ text, opaque: false }];
  for (const part of kept) {
    pieces = pieces.flatMap((piece) => {
      if (piece.opaque) return [piece];
      const split = piece.text.split(part);
      return split.flatMap((between, index) => (index === 0 ? [{ text: between, opaque: false }] : [{ text: part, opaque: true }, { text: between, opaque: false }]));
    });
  }
  return VTL_LITERAL_PRELUDE + pieces.map((piece) => (piece.opaque ? piece.text : escape(piece.text))).join('');
}
