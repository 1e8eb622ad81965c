import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking is done once by `tsc` in `npm test`; ts-jest only transpiles.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  setupFilesAfterEnv: ['<rootDir>/test/helpers/setup.ts'],
  testTimeout: 30_000,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  // Process and fault suites start real redis-server and node processes; two
  // workers keep them from starving each other on a 2-core machine.
  maxWorkers: 2,
};

export default config;
