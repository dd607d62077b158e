/**
 * The mock routes' definition: the PRM answer is the document's bytes with its headers,
 * and vtlVerbatim writes any text so that VTL outputs it unchanged ($, # and \ never raw).
 */
import fc from 'fast-check';
import { mockAnswer, VTL_LITERAL_PRELUDE, VTL_LITERALS, vtlVerbatim } from '../../../lib/mock-integrations.js';
import { protectedResourceMetadata, protectedResourceSettings } from '../../../lambda/shared/protected-resource-metadata.js';

/** What Velocity does with vtlVerbatim's output: the prelude's names, then their formal references. */
function render(template: string): string {
  expect(template.startsWith(VTL_LITERAL_PRELUDE)).toBe(true);
  const text = template.slice(VTL_LITERAL_PRELUDE.length);
  const references = /\$\{(vtlDollar|vtlHash|vtlBackslash)\}/g;
  // Nothing Velocity would interpret is left outside those references.
  expect(text.replace(references, '')).not.toMatch(/[$#\\]/);
  const byName = Object.fromEntries(Object.entries(VTL_LITERALS).map(([character, { name }]) => [name, character]));
  return text.replace(references, (_, name: string) => byName[name]!);
}

test('$, # and \\ become references; everything else is left as it is', () => {
  expect(vtlVerbatim('a$b#c\\d "e"')).toBe(`${VTL_LITERAL_PRELUDE}a\${vtlDollar}b\${vtlHash}c\${vtlBackslash}d "e"`);
  for (const text of ['\\$ref', '#set($x = 1)', '## comment', '#* block *#', '$!{x}', '${vtlDollar}', '#[[raw]]#', JSON.stringify({ k: 'a\\u0041"\n' })]) {
    expect(render(vtlVerbatim(text))).toBe(text);
  }
});

test('any text renders back unchanged (property)', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (text) => render(vtlVerbatim(text)) === text));
  fc.assert(fc.property(fc.stringMatching(/^[$#\\a{}()!.]*$/), (text) => render(vtlVerbatim(text)) === text));
});

test('opaque parts (CDK token markers) are kept as they are', () => {
  const marker = '${Token[TOKEN.42]}';
  const out = vtlVerbatim(`{"resource":"${marker}","x":"$"}`, [marker]);
  expect(out).toBe(`${VTL_LITERAL_PRELUDE}{"resource":"${marker}","x":"\${vtlDollar}"}`);
});

test('the PRM answer is the protected resource metadata document, with its headers', () => {
  const settings = protectedResourceSettings({
    environmentUrl: 'https://acme.scalekit.com',
    resourceId: 'res_1',
    resourceIdentifier: 'https://mcp.example.com/web-search/mcp',
    requiredScopes: ['web-search:read'],
    toolScopes: { web_search: ['web-search:read'], web_extract: ['web-search:extract'], web_crawl: ['web-search:extract'], web_map: [], web_research: [], web_research_result: [] },
  });
  expect(settings.scopesSupported).toEqual(['web-search:read', 'web-search:extract']);
  const answer = mockAnswer('protected-resource-metadata', { protectedResource: settings });
  expect(answer.statusCode).toBe(200);
  expect(answer.headers).toEqual({ 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=300' });
  expect(answer.body).toBe(JSON.stringify(protectedResourceMetadata(settings)));
  // The exact document, members in this order: what Scalekit's dashboard tells an MCP server to serve.
  expect(answer.body).toBe(
    JSON.stringify({
      resource: 'https://mcp.example.com/web-search/mcp',
      authorization_servers: ['https://acme.scalekit.com/resources/res_1'],
      scopes_supported: ['web-search:read', 'web-search:extract'],
      bearer_methods_supported: ['header'],
      resource_name: 'Web Search MCP',
    }),
  );
});

test('the document copies the scopes rather than sharing the array', () => {
  const scopes = ['a'];
  const document = protectedResourceMetadata({ environmentUrl: 'https://as', resourceId: 'res_1', resourceIdentifier: 'https://rs', scopesSupported: scopes });
  scopes.push('b');
  expect(document.scopes_supported).toEqual(['a']);
});
