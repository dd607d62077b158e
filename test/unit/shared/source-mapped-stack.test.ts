/**
 * Unexpected errors are logged with stacks mapped back to the TypeScript sources,
 * from the bundle's own source map, loaded only when such an error happens.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptions } from '../../../lib/bundling.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let outDir: string;

beforeAll(() => {
  mkdirSync(join(root, '.local'), { recursive: true });
  outDir = mkdtempSync(join(root, '.local', 'stack-test-'));
});
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

test('a frame in the minified bundle is reported at its line in the TypeScript source', async () => {
  const outfile = join(outDir, 'index.cjs');
  await build(esbuildOptions(join(root, 'test/fixtures/throwing-entry.ts'), outfile));
  const { stackOfFailure } = createRequire(import.meta.url)(outfile) as { stackOfFailure: () => string };
  const stack = stackOfFailure();
  expect(stack).toContain('Error: on purpose');
  expect(stack).toMatch(/test\/fixtures\/throwing-entry\.ts:6:\d+/);
  expect(stack).not.toContain(`${outfile}:`);
});

test('without a bundle (running from sources) the stack is returned as it is', async () => {
  const { sourceMappedStack } = await import('../../../lambda/shared/observability.js');
  const error = new Error('plain');
  expect(sourceMappedStack(error)).toBe(error.stack);
  expect(sourceMappedStack('not an error')).toBeUndefined();
});
