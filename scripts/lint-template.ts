/**
 * `npx tsx scripts/lint-template.ts`: synthesize the stack's default template and
 * the everything-on ones (custom domain with and without a hosted zone, WAF, alarm
 * email, tracing, quotas, denylist, origins) with cdk.json's feature flags, as
 * `cdk synth` does, and run cfn-lint on them with .cfnlintrc.yaml. Any error or
 * warning fails; a warning that must stay is turned off there, with its reason.
 * The functions are not bundled: the templates are what is linted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVERYTHING_ON, EVERYTHING_ON_WITHOUT_ZONE, synthStack } from '../test/stack/variants.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cdkContext = (JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
/** Regions whose resource specifications the templates are checked against. */
const REGIONS = ['us-east-1', 'eu-west-1'];

const variants: Record<string, Readonly<Record<string, string>>> = {
  default: {},
  'everything-on': EVERYTHING_ON,
  'everything-on-without-hosted-zone': EVERYTHING_ON_WITHOUT_ZONE,
};

const version = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
if (version.error || version.status !== 0) {
  process.stderr.write(
    'cfn-lint is not installed (or not on PATH). Install it with `pip install cfn-lint` (Python 3.9+), then run this again.\n',
  );
  process.exit(1);
}

const folder = mkdtempSync(join(tmpdir(), 'lint-template-'));
const files = Object.entries(variants).map(([name, overrides]) => {
  const { app } = synthStack(overrides, { context: cdkContext });
  const file = join(folder, `${name}.template.json`);
  writeFileSync(file, JSON.stringify(app.synth().getStackByName('WebSearchMcp').template, null, 1));
  return file;
});

process.stdout.write(`${version.stdout.trim()} on ${files.length} templates (${Object.keys(variants).join(', ')}), regions ${REGIONS.join(', ')}\n`);
const lint = spawnSync(
  'cfn-lint',
  ['--config-file', join(root, '.cfnlintrc.yaml'), '--non-zero-exit-code', 'warning', '--regions', ...REGIONS, '--', ...files],
  { cwd: root, stdio: 'inherit' },
);
if (lint.status !== 0) {
  process.stderr.write(`cfn-lint found problems (exit ${lint.status ?? lint.signal}); templates kept in ${folder}\n`);
  process.exit(1);
}
process.stdout.write('cfn-lint: no errors, no warnings\n');
