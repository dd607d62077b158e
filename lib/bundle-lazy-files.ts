/**
 * `tsx lib/bundle-lazy-files.ts <function> <outdir>`: bundle a function's
 * lazily loaded files (LAZY_FILES in lib/bundling.ts) beside its index.js. The
 * stack runs it after NodejsFunction's own bundling (an afterBundling command
 * hook, in the project's root), so the asset holds both files.
 */
import { buildLazyFiles } from './bundling.js';

const [functionName, outdir] = process.argv.slice(2);
if (!functionName || !outdir) {
  process.stderr.write('usage: tsx lib/bundle-lazy-files.ts <function> <outdir>\n');
  process.exit(2);
}
buildLazyFiles(functionName, outdir).then(
  (files) => process.stdout.write(`bundled ${files.length} lazily loaded file(s) for ${functionName}\n`),
  (error: unknown) => {
    process.stderr.write(`could not bundle the lazily loaded files of ${functionName}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
