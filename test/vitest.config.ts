import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/{unit,integration,e2e}/**/*.test.ts'],
    // Integration tests start their own nats-server processes; forks keep them isolated.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more parallel files only add contention to timing-sensitive fault tests.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
