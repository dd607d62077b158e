/**
 * callsATool: which admitted bodies start the Tavily key read early (sdk-path.ts).
 * A well-formed tools/call does, alone or in a batch; a notification, a malformed
 * call and anything else do not.
 */
import { callsATool } from '../../../lambda/mcp/protocol.js';

const call = (params: unknown, id: unknown = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params });

test('a tools/call request, alone or in a batch', () => {
  expect(callsATool(call({ name: 'web_search', arguments: { query: 'x' } }))).toBe(true);
  expect(callsATool(call({ name: 'web_search' }))).toBe(true);
  expect(callsATool([{ jsonrpc: '2.0', method: 'notifications/initialized' }, call({ name: 'web_map', arguments: {} }, 'a')])).toBe(true);
});

test('not a notification, a malformed call, another method or no message', () => {
  expect(callsATool({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'web_search' } })).toBe(false);
  expect(callsATool(call({ arguments: {} }))).toBe(false);
  expect(callsATool(call({ name: 'web_search', arguments: 'x' }))).toBe(false);
  expect(callsATool(call(undefined))).toBe(false);
  expect(callsATool({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} })).toBe(false);
  expect(callsATool([{ jsonrpc: '2.0', id: 1, method: 'ping' }])).toBe(false);
  expect(callsATool(null)).toBe(false);
  expect(callsATool('tools/call')).toBe(false);
});
