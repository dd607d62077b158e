/**
 * The Tavily key provider against a loopback SSM, through the real Powertools
 * Parameters and aws-json: reads that overlap (a tool call starts one as it
 * arrives, and asks again when it calls Tavily) share one SSM request, and a
 * failed read is not kept.
 */
import { createTavilyKeyProvider } from '../../../lambda/mcp/tavily-key.js';
import { TavilyError } from '../../../lambda/mcp/tavily.js';
import { fakeSsmForThisProcess } from '../../fixtures/fake-ssm.js';

const fakeSsm = fakeSsmForThisProcess();

const readsOf = (name: string) => fakeSsm().requests.filter((request) => request.body.Name === name).length;

test('reads under way are shared: one SSM request however many ask', async () => {
  fakeSsm().parameters.set('/key/shared', 'tvly-shared');
  const key = createTavilyKeyProvider({ parameterName: '/key/shared' });
  const early = key();
  const later = key();
  expect(later).toBe(early);
  expect(await Promise.all([early, later, key()])).toEqual(['tvly-shared', 'tvly-shared', 'tvly-shared']);
  expect(readsOf('/key/shared')).toBe(1);
});

test('a failed read is not kept: the next call reads again', async () => {
  const key = createTavilyKeyProvider({ parameterName: '/key/late' });
  const failure = await key().catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(TavilyError);
  expect((failure as TavilyError).kind).toBe('missing_key');
  fakeSsm().parameters.set('/key/late', 'tvly-late');
  expect(await key()).toBe('tvly-late');
  expect(readsOf('/key/late')).toBe(2);
});

test('a key in the environment is returned as it is, with no SSM request', async () => {
  const before = fakeSsm().requests.length;
  expect(await createTavilyKeyProvider({ apiKey: 'tvly-local', parameterName: '/key/unused' })()).toBe('tvly-local');
  expect(fakeSsm().requests.length).toBe(before);
});
