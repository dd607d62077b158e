/**
 * The MCP endpoint core (the SDK half of the SDK path), with requests admitted
 * by admission.ts and no AWS adapter around it: how the invocation's remaining
 * time becomes the deadline a slow Tavily runs into, what reaches the tools,
 * and how answers are bounded and list this endpoint's versions.
 */
import { createAdmission, type AdmittedRequest } from '../../../lambda/mcp/admission.js';
import { createMcpEndpoint, type EndpointInvocation } from '../../../lambda/mcp/mcp-endpoint.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '../../../lambda/mcp/protocol-answers.generated.js';
import { createToolCaller } from '../../../lambda/mcp/tool-call.js';
import { createMcpServerFactory } from '../../../lambda/mcp/server.js';
import { createTavilyClient } from '../../../lambda/mcp/tavily.js';
import { toolEntries } from '../../../lambda/mcp/tools/index.js';
import { createOriginPolicy } from '../../../lambda/shared/cors.js';
import { defaultToolScopes } from '../../../lambda/shared/settings.js';
import { startFakeTavily, type FakeTavily } from '../../fixtures/fake-tavily.js';
import { CLIENT_HEADERS, mcpEvent } from './mcp-event.js';

let tavily: FakeTavily;
beforeAll(async () => {
  tavily = await startFakeTavily();
});
afterAll(() => tavily.close());
beforeEach(() => tavily.reset());

function endpoint(outputBudgetChars?: number) {
  const newServer = createMcpServerFactory({
    toolCaller: createToolCaller({
      tools: toolEntries,
      toolScopes: defaultToolScopes(),
      tavily: createTavilyClient({ baseUrl: tavily.url, apiKey: async () => tavily.apiKey }),
      ...(outputBudgetChars ? { outputBudgetChars } : {}),
    }),
  });
  return createMcpEndpoint({ newServer, supportedVersions: SUPPORTED_PROTOCOL_VERSIONS });
}

const admit = createAdmission({ originPolicy: createOriginPolicy(['https://app.example.com']) });
const invocation = (overrides: Partial<EndpointInvocation> = {}): EndpointInvocation => ({
  requestId: 'req-1',
  remainingTimeMs: () => 20_000,
  ...overrides,
});

/** A request as admission admits it, carrying the client's token as a real client's would. */
function rpc(body: object, headers: ReadonlyArray<readonly [string, string]> = []): AdmittedRequest {
  const admission = admit(mcpEvent({ body, headers: [...CLIENT_HEADERS, ['Authorization', 'Bearer secret-token'], ...headers] }));
  if (!admission.admitted) throw new Error(`refused: ${admission.refusal.body}`);
  return admission.request;
}

const call = (name: string, args: object) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } });

test('when Tavily hangs, the call ends before the invocation does, as an isError result saying how to ask for less', async () => {
  tavily.always('search', { kind: 'hang' });
  // 1.8 s left, 1.5 s kept back for the answer: Tavily gets about 300 ms.
  const response = await endpoint()(rpc(call('web_search', { query: 'slow' })), invocation({ remainingTimeMs: () => 1_800 }));
  expect(response.status).toBe(200);
  const { result } = await response.json();
  expect(result.isError).toBe(true);
  expect(result.content[0].text).toMatch(/took too long.*before this server's time limit.*search_depth "basic" or "fast"/);
});

test('the client token never reaches the tools: Tavily gets the server key', async () => {
  const response = await endpoint()(rpc(call('web_search', { query: 'who sees what' })), invocation());
  expect((await response.json()).result.isError).toBeFalsy();
  expect(tavily.requests[0]!.headers.authorization).toBe(`Bearer ${tavily.apiKey}`);
  expect(JSON.stringify(tavily.requests[0])).not.toContain('secret-token');
});

test('one server serves request after request, each on a fresh transport', async () => {
  const serve = endpoint();
  for (let id = 1; id <= 5; id++) {
    const response = await serve(rpc({ jsonrpc: '2.0', id, method: 'ping' }), invocation());
    expect(await response.json()).toEqual({ jsonrpc: '2.0', id, result: {} });
  }
});

test('an answer that would pass Lambda\'s 6 MB limit becomes a JSON-RPC error saying what to do, never a 502', async () => {
  // The largest budget, filled with three-byte characters, in the text and the structured content: over 6 MB.
  const page = '€'.repeat(1_000_000);
  tavily.always('extract', { kind: 'json', body: { results: [{ url: 'https://example.com/a', raw_content: page }], failed_results: [] } });
  const response = await endpoint(1_000_000)(rpc(call('web_extract', { urls: ['https://example.com/a'] })), invocation());
  expect(response.status).toBe(200);
  const text = await response.text();
  expect(Buffer.byteLength(text)).toBeLessThan(1000);
  expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32000, message: expect.stringContaining('too large') } });
});

describe('the versions this endpoint lists are every version it serves, newest first', () => {
  const envelope = (version: string) => ({
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'endpoint-test', version: '1.0.0' },
  });
  const modern = (method: string, version: string, id = 1) =>
    rpc({ jsonrpc: '2.0', id, method, params: { _meta: envelope(version) } }, [
      ['MCP-Protocol-Version', version],
      ['Mcp-Method', method],
    ]);

  test('server/discover: supportedVersions lists the 2025-era versions after 2026-07-28, the rest as the SDK wrote it', async () => {
    const text = await (await endpoint()(modern('server/discover', '2026-07-28'), invocation())).text();
    expect(SUPPORTED_PROTOCOL_VERSIONS[0]).toBe('2026-07-28');
    expect(SUPPORTED_PROTOCOL_VERSIONS).toContain('2025-11-25');
    expect(text.startsWith(`{"result":{"supportedVersions":${JSON.stringify(SUPPORTED_PROTOCOL_VERSIONS)},"capabilities":`)).toBe(true);
  });

  test.each(['2099-01-01', '2025-11-25'])('a request for %s under the envelope: -32022 whose data.supported lists them all', async (version) => {
    const response = await endpoint()(modern('tools/list', version, 8), invocation());
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      jsonrpc: '2.0',
      id: 8,
      error: { code: -32022, message: `Unsupported protocol version: ${version}`, data: { supported: SUPPORTED_PROTOCOL_VERSIONS, requested: version } },
    });
  });
});
