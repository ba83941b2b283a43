/**
 * Test kinds show in their suffix: *.unit.test.ts (pure, no I/O), *.int.test.ts (real
 * Postgres and a real Temporal dev server), *.e2e.test.ts (the whole system over HTTP).
 */
const transform = { '^.+\\.ts$': ['@swc/jest'] };
const common = {
  testEnvironment: 'node',
  transform,
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  transform,
  // Integration tests wait on real sagas; unit tests finish in milliseconds either way.
  testTimeout: 120000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/**/*.unit.test.ts'] },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/test/**/*.int.test.ts', '<rootDir>/test/**/*.e2e.test.ts'],
      // One Postgres and one Temporal dev server for the run, started only when int tests run.
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
      setupFiles: ['<rootDir>/test/support/quietTemporal.ts'],
    },
  ],
};
