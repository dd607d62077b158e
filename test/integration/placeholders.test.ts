/**
 * The example values of `.env.example` are refused by `cdk synth` and by
 * `npm run dev`, with a message saying what to put there: a stack built with
 * them trusts nobody's tokens, and used to pass silently.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { refusePlaceholders } from '../../lib/config.js';
import { ConfigurationError } from '../../lambda/shared/settings.js';
import { startDevStack } from '../../local/dev-stack.js';

const example = parseEnv(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')) as Record<string, string>;

test('.env.example still holds the two placeholders this test is about', () => {
  expect(example.SCALEKIT_ENVIRONMENT_URL).toBe('https://your-company.scalekit.com');
  expect(example.SCALEKIT_RESOURCE_ID).toBe('res_1234567890');
});

test('each placeholder is named with what belongs there; real values pass', () => {
  let error: unknown;
  try {
    refusePlaceholders({ environmentUrl: example.SCALEKIT_ENVIRONMENT_URL, resourceId: example.SCALEKIT_RESOURCE_ID });
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigurationError);
  const { problems } = error as ConfigurationError;
  expect(problems).toHaveLength(2);
  expect(problems[0]).toMatch(/^SCALEKIT_ENVIRONMENT_URL: this is the placeholder from \.env\.example; put your Scalekit environment URL there/);
  expect(problems[1]).toMatch(/^SCALEKIT_RESOURCE_ID: this is the placeholder from \.env\.example; put the resource id of your MCP server/);
  expect(() => refusePlaceholders({ environmentUrl: 'https://acme.scalekit.com', resourceId: 'res_2b6f0e' })).not.toThrow();
  expect(() => refusePlaceholders({})).not.toThrow();
});

test('npm run dev refuses them before starting anything', async () => {
  await expect(
    startDevStack(
      { SCALEKIT_ENVIRONMENT_URL: example.SCALEKIT_ENVIRONMENT_URL, SCALEKIT_RESOURCE_ID: example.SCALEKIT_RESOURCE_ID },
      { port: 0, hosts: ['127.0.0.1'] },
    ),
  ).rejects.toThrow(/SCALEKIT_ENVIRONMENT_URL: this is the placeholder/);
});

test('cdk synth (bin/app.ts) fails with the message and exit code 1', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-placeholders-'));
  const environment: NodeJS.ProcessEnv = { ...process.env, ...example, CDK_OUTDIR: outdir };
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: environment,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('SCALEKIT_ENVIRONMENT_URL: this is the placeholder from .env.example');
  expect(result.stderr).toContain('SCALEKIT_RESOURCE_ID: this is the placeholder from .env.example');
}, 60_000);
