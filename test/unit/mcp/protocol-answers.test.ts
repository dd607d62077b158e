/**
 * The fast path's answers and version lists (lambda/mcp/protocol-answers.generated.ts)
 * come from the SDK: the committed file is what the generator writes today, and
 * the versions are the SDK's exported 2025-era list after the modern one its
 * server/discover lists, newest first, as the endpoint answers them.
 */
import { readFileSync } from 'node:fs';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS as SDK_LEGACY_VERSIONS } from '@modelcontextprotocol/server';
import { ANSWERS_PATH, protocolAnswersSource, sdkModernVersions } from '../../../scripts/generate-protocol-answers.js';
import {
  ANSWER_TEMPLATES,
  LEGACY_PROTOCOL_VERSIONS,
  MODERN_PROTOCOL_VERSIONS,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '../../../lambda/mcp/protocol-answers.generated.js';

test('the committed answers are the ones the SDK gives now (run `npm run generate` if not)', async () => {
  expect(readFileSync(ANSWERS_PATH, 'utf8')).toBe(await protocolAnswersSource());
});

test('the fast path\'s versions are the SDK\'s exported lists plus the modern one, newest first', async () => {
  const modern = await sdkModernVersions();
  expect(modern).toContain('2026-07-28');
  expect(MODERN_PROTOCOL_VERSIONS).toEqual(modern);
  expect(LEGACY_PROTOCOL_VERSIONS).toEqual(SDK_LEGACY_VERSIONS);
  expect(LEGACY_PROTOCOL_VERSIONS[0]).toBe(LATEST_PROTOCOL_VERSION);
  expect(SUPPORTED_PROTOCOL_VERSIONS).toEqual([...modern, ...SDK_LEGACY_VERSIONS]);
  expect(SUPPORTED_PROTOCOL_VERSIONS).toEqual([...SUPPORTED_PROTOCOL_VERSIONS].sort().reverse());
});

test('server/discover\'s answer lists every version the endpoint serves, as the spec\'s dual-era example does', () => {
  const discover = ANSWER_TEMPLATES.modern['server/discover']!;
  expect(discover.body[0]).toContain(`"supportedVersions":${JSON.stringify(SUPPORTED_PROTOCOL_VERSIONS)}`);
  expect(SUPPORTED_PROTOCOL_VERSIONS.slice(0, 2)).toEqual(['2026-07-28', '2025-11-25']);
});

test('every template has a body with gaps only for what a request decides', () => {
  for (const era of [ANSWER_TEMPLATES.legacy, ANSWER_TEMPLATES.modern]) {
    for (const template of Object.values(era)) {
      expect(template.body.length % 2).toBe(1);
      template.body.forEach((part, index) => {
        if (index % 2 === 1) expect(['id', 'version', 'tools', 'result']).toContain(part);
      });
    }
  }
  expect(Object.keys(ANSWER_TEMPLATES.legacy).sort()).toEqual(['initialize', 'notifications/initialized', 'ping', 'tools/call', 'tools/list']);
  expect(Object.keys(ANSWER_TEMPLATES.modern).sort()).toEqual(['server/discover', 'tools/call', 'tools/list']);
});
