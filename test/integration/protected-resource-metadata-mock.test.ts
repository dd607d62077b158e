/**
 * The protected resource metadata through the local stack: both URLs answer the document
 * built from the deployment's settings, with its headers and CORS, and the metadata function
 * is never invoked for them; the AS metadata still is.
 */
import { jest } from '@jest/globals';
import { PRM_FOR_MCP_PATH, PRM_PATH } from '../../lambda/shared/routes.js';
import { protectedResourceMetadata, protectedResourceSettings } from '../../lambda/shared/protected-resource-metadata.js';
import { defaultToolScopes } from '../../lambda/shared/settings.js';
import { startTestStack, type TestStack } from '../fixtures/test-stack.js';

let running: TestStack;
beforeAll(async () => {
  running = await startTestStack();
});
afterAll(() => running?.close());

test('both PRM URLs: the document, headers and CORS, with no metadata invocation', async () => {
  const { stack, issuer } = running;
  const invoke = jest.spyOn(stack.pools.metadata, 'invoke');
  // What the stack builds its mock from: the deployment's settings, as the local stack has them.
  const expected = JSON.stringify(
    protectedResourceMetadata(
      protectedResourceSettings({
        environmentUrl: issuer.environmentUrl,
        resourceId: issuer.resourceId,
        resourceIdentifier: stack.resourceIdentifier,
        requiredScopes: ['web-search:read'],
        toolScopes: defaultToolScopes(),
      }),
    ),
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
