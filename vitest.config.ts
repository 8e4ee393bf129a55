import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real nats-server, dockerd and network namespaces; two cores.
    fileParallelism: false,
    reporters: ['default'],
  },
});
