/**
 * The outside clients that npx runs by version (the others are pinned devDependencies
 * in package.json, and the Python SDK in scripts/matrix-requirements.txt): the smoke
 * test, the client matrix and the dev banner name the same one.
 */
export const INSPECTOR_VERSION = '2.12.0';
export const INSPECTOR = `@modelcontextprotocol/inspector@${INSPECTOR_VERSION}`;
