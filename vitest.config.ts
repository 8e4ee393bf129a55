import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * Two groups. Files that start nothing outside their own process (no child processes, no
 * nats-server, Docker, network namespaces, recognisers or browsers) run first, two at a time;
 * then the integration files run one at a time, as before: they start real nats-servers,
 * dockerds and namespace meshes whose run ids and timings assume they have the machine (two
 * cores) to themselves. A file is an integration file when its text names any of these; when in
 * doubt a file is one (a wrongly serial file costs seconds, a wrongly parallel one flakes).
 */
const INTEGRATION =
  /child_process|harness|support\/(docker|proc|tmpfs|emulation|mosquitto|fake-)|mosquitto|Supervisor|netns|spawn|execFile|espeak|speech|ocker|nats|whisper|Recogniser|pocketsphinx|tcpdump|chromium|puppeteer|daemon|lab\.js|arecord|flood|cgroup|\bsox\b|\.mjs/;

const all = (readdirSync('test', { recursive: true, encoding: 'utf8' }) as string[])
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join('test', f));
/** The file's text and that of every test-side module it imports (./lost-host.js, ../support/…). */
function startsProcesses(file: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  if (INTEGRATION.test(text)) return true;
  for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
    const target = normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
    if (target.startsWith('test/') && startsProcesses(target, seen)) return true;
  }
  return false;
}

const unit = all.filter((f) => !startsProcesses(f));

const shared = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: unit,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: unit,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
