/**
 * The protected resource metadata through the local stack: both URLs answer the metadata
 * function's document (built from the function's own environment), with its headers and CORS,
 * and the metadata function is never invoked for them; the AS metadata still is.
 */
import { jest } from '@jest/globals';
import { functionEnvironment } from '../../lib/functions.js';
import { PRM_FOR_MCP_PATH, PRM_PATH } from '../../lib/routes.js';
import { protectedResourceMetadata, protectedResourceSettings } from '../../lambda/metadata/metadata.js';
import { definitions as d, parseSettings } from '../../lambda/shared/settings.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';

let running: TestStack;
beforeAll(async () => {
  running = await startTestStack();
});
afterAll(() => running?.close());

test('both PRM URLs: the document, headers and CORS, with no metadata invocation', async () => {
  const { stack, issuer } = running;
  const invoke = jest.spyOn(stack.pools.metadata, 'invoke');
  // What the metadata function would build, from the settings it parses (lambda/metadata/index.ts).
  const settings = parseSettings(
    {
      environmentUrl: ['SCALEKIT_ENVIRONMENT_URL', d.environmentUrl],
      resourceId: ['SCALEKIT_RESOURCE_ID', d.resourceId],
      resourceIdentifier: ['RESOURCE_IDENTIFIER', d.resourceIdentifier],
      requiredScopes: ['REQUIRED_SCOPES', d.requiredScopes],
      toolScopes: ['TOOL_SCOPES', d.toolScopes],
    },
    functionEnvironment('metadata', {
      environmentUrl: issuer.environmentUrl,
      resourceId: issuer.resourceId,
      resourceIdentifier: stack.resourceIdentifier,
      requiredScopes: ['web-search:read'],
      toolScopes: (await import('../../lambda/shared/settings.js')).defaultToolScopes(),
      toolOutputBudgetChars: 1000,
      allowedOrigins: [],
      apiBaseUrl: stack.baseUrl,
      tavilyApiBaseUrl: 'http://localhost:1',
      logLevel: 'INFO',
      tracingEnabled: false,
    }),
    'test',
  );
  const expected = JSON.stringify(
    protectedResourceMetadata(protectedResourceSettings(settings)),
  );
  for (const path of [PRM_PATH, PRM_FOR_MCP_PATH]) {
    const allowed = await fetch(`${stack.baseUrl}${path}`, { headers: { Origin: 'http://localhost:6274' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toBe(expected);
    expect(allowed.headers.get('content-type')).toBe('application/json');
    expect(allowed.headers.get('cache-control')).toBe('public, max-age=300');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    expect(allowed.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, Retry-After');
    expect(allowed.headers.get('vary')).toBe('Origin');
    const foreign = await fetch(`${stack.baseUrl}${path}`, { headers: { Origin: 'https://evil.example.com' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(foreign.headers.get('vary')).toBe('Origin');
  }
  expect(invoke).not.toHaveBeenCalled();
  await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`);
  expect(invoke).toHaveBeenCalledTimes(1);
});
