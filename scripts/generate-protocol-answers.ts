/**
 * `npm run generate`, second step: writes lambda/mcp/protocol-answers.generated.ts,
 * the answers the MCP function's fast path gives, taken from the SDK's own.
 *
 * - The protocol versions: the 2025-era ones are the SDK's exported
 *   SUPPORTED_PROTOCOL_VERSIONS; the modern ones, which it does not export, are
 *   what its own server/discover lists. The endpoint serves all of them.
 * - The answers: the real SDK path (sdk-path.ts, behind admission) is sent
 *   initialize, notifications/initialized, ping and tools/list (2025 era), and
 *   server/discover and tools/list (2026-07-28), once each, and in each era a
 *   tools/call of a tool the caller has no scope for (its error result needs no
 *   Tavily). Each answer's status, headers and body are kept, with gaps where the
 *   request decides: the id, the negotiated version, the tools a caller's scopes
 *   show, the tool's result (whose members must be where and as
 *   `toolResultMembers` writes them).
 * - Each tool's listing, as the SDK serializes it.
 *
 * Run after the tool catalog's generator (the SDK path lists the catalog). A
 * test fails when the file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { createMcpHandler, Server, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { authorizerContext, proxyEvent } from '../local/api-gateway-events.js';
import { createAdmission } from '../lambda/mcp/admission.js';
import { toolResultMembers, type AnswerTemplate, type PlainToolResult } from '../lambda/mcp/protocol.js';
import { createSdkHandler } from '../lambda/mcp/sdk-path.js';
import { parseMcpSettings } from '../lambda/mcp/settings.js';
import { callerContext } from '../lambda/shared/caller.js';
import { createOriginPolicy } from '../lambda/shared/cors.js';
import type { Observability } from '../lambda/shared/observability.js';

export const ANSWERS_PATH = fileURLToPath(new URL('../lambda/mcp/protocol-answers.generated.ts', import.meta.url));

const HOST = 'generator.invalid';
const MODERN_METHODS = ['server/discover', 'tools/list'] as const;
const LEGACY_METHODS = ['initialize', 'notifications/initialized', 'ping', 'tools/list'] as const;
/** An id no answer holds otherwise, so that where it appears is the id's gap. */
const ID = 'id-gap-6f1d2c';

/** The modern versions the SDK serves, from its own server/discover (it exports only the 2025-era list). */
export async function sdkModernVersions(): Promise<string[]> {
  const handler = createMcpHandler(() => new Server({ name: 'versions', version: '0' }, { capabilities: {} }), { legacy: 'reject' });
  const version = '2026-07-28';
  const response = await handler.fetch(
    new Request(`https://${HOST}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': version, 'Mcp-Method': 'server/discover' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'server/discover',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    }),
  );
  const { result } = (await response.json()) as { result?: { supportedVersions?: unknown } };
  const versions = result?.supportedVersions;
  if (!Array.isArray(versions) || versions.length === 0 || !versions.every((each) => typeof each === 'string')) {
    throw new Error(`The SDK's server/discover did not list its versions: ${JSON.stringify(result)}`);
  }
  await handler.close();
  return versions;
}

/** Every version the endpoint serves, newest first: the SDK's modern ones, then its 2025-era ones. */
export async function servedVersions(): Promise<{ modern: string[]; legacy: string[]; supported: string[] }> {
  const modern = await sdkModernVersions();
  const legacy = [...SUPPORTED_PROTOCOL_VERSIONS];
  const supported = [...modern, ...legacy];
  const newestFirst = [...supported].sort().reverse();
  if (supported.join() !== newestFirst.join()) throw new Error(`The SDK's versions are not newest first: ${supported.join(', ')}`);
  return { modern, legacy, supported };
}

/** `text` cut at the one place each gap's value appears, as a template body. */
function withGaps(text: string, gaps: Readonly<Record<string, string>>): string[] {
  const places = Object.entries(gaps).map(([name, value]) => {
    const at = text.indexOf(value);
    if (at === -1 || text.indexOf(value, at + 1) !== -1) throw new Error(`The answer must hold ${value.slice(0, 60)} exactly once: ${text.slice(0, 300)}`);
    return { name, at, length: value.length };
  });
  places.sort((a, b) => a.at - b.at);
  const parts: string[] = [];
  let from = 0;
  for (const place of places) {
    parts.push(text.slice(from, place.at), place.name);
    from = place.at + place.length;
  }
  parts.push(text.slice(from));
  return parts;
}

export async function protocolAnswersSource(): Promise<string> {
  const versions = await servedVersions();
  const settings = parseMcpSettings({
    // No request here calls a tool: nothing may reach Tavily.
    TAVILY_API_BASE_URL: 'http://127.0.0.1:9',
    TAVILY_API_KEY: 'tvly-generator',
    CACHE_TTL_SECONDS: '0',
  });
  const silent = () => {};
  const observability = {
    logger: { info: silent, warn: silent, error: silent, debug: silent },
    count: silent,
    measure: silent,
  } as unknown as Observability;
  const originPolicy = createOriginPolicy([]);
  const admit = createAdmission({ originPolicy });
  const serve = createSdkHandler(settings, observability, versions.supported);
  // A caller every tool is shown to.
  const scopes = [...new Set(Object.values(settings.toolScopes).flat())];
  const caller = { sub: 'usr_generator', clientId: 'generator', scopes, exp: Math.floor(Date.now() / 1000) + 600, tokenId: 'generator' };
  const corsNames = Object.keys(originPolicy.responseHeaders(null)).map((name) => name.toLowerCase());

  async function answer(body: object, headers: ReadonlyArray<readonly [string, string]>, scopes = caller.scopes): Promise<APIGatewayProxyResult> {
    const event = proxyEvent(
      {
        method: 'POST',
        path: '/web-search/mcp',
        resource: '/web-search/mcp',
        rawHeaders: [['Host', HOST], ['Content-Type', 'application/json'], ['Accept', 'application/json, text/event-stream'], ...headers],
        query: new URLSearchParams(),
        body: Buffer.from(JSON.stringify(body)),
        sourceIp: '127.0.0.1',
        requestId: 'generator',
        host: HOST,
      },
      authorizerContext({ principalId: caller.sub, context: callerContext({ ...caller, scopes }) }),
    );
    const admission = admit(event);
    if (!admission.admitted) throw new Error(`Admission refused the generator's request: ${admission.refusal.body}`);
    const result = await serve(admission.request, { requestId: 'generator', remainingTimeMs: () => 20_000 });
    if (result.statusCode !== 200 && result.statusCode !== 202) throw new Error(`The SDK path answered ${result.statusCode}: ${result.body}`);
    return result;
  }

  const tools: Record<'legacy' | 'modern', string[]> = { legacy: [], modern: [] };
  function template(era: 'legacy' | 'modern', result: APIGatewayProxyResult, gaps: Record<string, string>): AnswerTemplate {
    const headers: Record<string, string> = {};
    for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
      if (corsNames.includes(name)) continue; // added per request, from the Origin
      if (values.length !== 1) throw new Error(`The SDK path answered ${name} ${values.length} times`);
      headers[name] = String(values[0]);
    }
    if (result.body === '') return { status: result.statusCode, headers, body: [''] };
    const parsed = JSON.parse(result.body) as { result?: { tools?: unknown[]; content?: PlainToolResult['content']; isError?: boolean } };
    const listed = parsed.result?.tools;
    if (listed) {
      tools[era] = listed.map((tool) => JSON.stringify(tool));
      gaps.tools = JSON.stringify(listed);
    }
    const content = parsed.result?.content;
    if (content) gaps.result = toolResultMembers({ content, ...(parsed.result?.isError !== undefined ? { isError: parsed.result.isError } : {}) });
    return { status: result.statusCode, headers, body: withGaps(result.body, gaps) };
  }

  const id = JSON.stringify(ID);
  // The oldest 2025-era version: the initialize answer echoes it, and holds no other version.
  const requested = versions.legacy[versions.legacy.length - 1]!;
  const legacy: Record<string, AnswerTemplate> = {};
  for (const method of LEGACY_METHODS) {
    if (method === 'initialize') {
      const params = { protocolVersion: requested, capabilities: {}, clientInfo: { name: 'generator', version: '1.0.0' } };
      legacy[method] = template('legacy', await answer({ jsonrpc: '2.0', id: ID, method, params }, []), { id, version: JSON.stringify(requested) });
    } else if (method === 'notifications/initialized') {
      legacy[method] = template('legacy', await answer({ jsonrpc: '2.0', method }, [['MCP-Protocol-Version', versions.legacy[0]!]]), {});
    } else {
      legacy[method] = template('legacy', await answer({ jsonrpc: '2.0', id: ID, method }, [['MCP-Protocol-Version', versions.legacy[0]!]]), { id });
    }
  }
  // A tool the caller has no scope for: the answer is the shared tool call's error result, with no Tavily call.
  const toolCall = (more: object = {}) => ({ jsonrpc: '2.0', id: ID, method: 'tools/call', params: { name: 'web_search', arguments: {}, ...more } });
  legacy['tools/call'] = template('legacy', await answer(toolCall(), [['MCP-Protocol-Version', versions.legacy[0]!]], []), { id });
  const version = versions.modern[0]!;
  const envelope = {
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'generator', version: '1.0.0' },
  };
  const modern: Record<string, AnswerTemplate> = {};
  for (const method of MODERN_METHODS) {
    const headers = [['MCP-Protocol-Version', version], ['Mcp-Method', method]] as const;
    modern[method] = template('modern', await answer({ jsonrpc: '2.0', id: ID, method, params: { _meta: envelope } }, headers), { id });
  }
  const toolCallHeaders = [['MCP-Protocol-Version', version], ['Mcp-Method', 'tools/call'], ['Mcp-Name', 'web_search']] as const;
  modern['tools/call'] = template('modern', await answer(toolCall({ _meta: envelope }), toolCallHeaders, []), { id });

  // One listing per tool serves both eras: the fast path fills either era's tools gap with the same text.
  if (tools.legacy.join('\n') !== tools.modern.join('\n')) {
    throw new Error('The SDK lists the tools differently in the two eras: the fast path would need a listing per era');
  }
  const listings = Object.fromEntries(tools.modern.map((text) => [(JSON.parse(text) as { name: string }).name, text]));

  const json = (value: unknown) => JSON.stringify(value, null, 2);
  return [
    '// Generated by `npm run generate` (scripts/generate-protocol-answers.ts) from the MCP SDK\'s own answers. Do not edit.',
    "import type { AnswerTemplate } from './protocol.js';",
    '',
    '/** The 2026-07-28-era versions the SDK serves, as its server/discover lists them. */',
    `export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ${json(versions.modern)};`,
    '',
    "/** The 2025-era versions the SDK's initialize negotiates (its SUPPORTED_PROTOCOL_VERSIONS). */",
    `export const LEGACY_PROTOCOL_VERSIONS: readonly string[] = ${json(versions.legacy)};`,
    '',
    '/** Every version the endpoint serves, newest first. */',
    `export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = ${json(versions.supported)};`,
    '',
    '/** The fast path\'s answers, per era and method. */',
    'export const ANSWER_TEMPLATES: { readonly legacy: Readonly<Record<string, AnswerTemplate>>; readonly modern: Readonly<Record<string, AnswerTemplate>> } =',
    `  ${json({ legacy, modern }).replace(/\n/g, '\n  ')};`,
    '',
    '/** Each tool as tools/list shows it, in the order it lists them. */',
    `export const TOOL_LISTINGS: Readonly<Record<string, string>> = ${json(listings)};`,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(ANSWERS_PATH, await protocolAnswersSource());
  process.stdout.write(`wrote ${ANSWERS_PATH}\n`);
}
