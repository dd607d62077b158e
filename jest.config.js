/**
 * Jest runs the TypeScript sources as native ES modules (ts-jest, transpile
 * only: `npm run build` type-checks). Integration tests start real servers on
 * loopback, so suites get generous timeouts; no test asserts a timing.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: { isolatedModules: true }, diagnostics: false }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30_000,
  // Each suite starts its own servers and worker threads; two at a time suits a 2-core machine.
  maxWorkers: 2,
};
