import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * Three groups, one after the other.
 *
 * 1. unit: files that start nothing outside their own process (no child processes, no
 *    nats-server, Docker, network namespaces, recognisers or browsers), two at a time. A file is
 *    an integration file when its text, or that of a test-side module it imports, names any of
 *    INTEGRATION's words.
 * 2. integration: files that start real nats-servers, meshes in network namespaces and dockerds
 *    of their own, two at a time. Each names its namespaces, bridges, engines and temporary
 *    directories after its own process (test/harness/netns.ts, test/support/docker.ts), and binds
 *    ports the OS gives, so two never share one; most of their time is spent waiting on the
 *    mesh's timers (heartbeats, suspect and dead silences) with a core idle: about half of it
 *    when they ran one at a time.
 * 3. exclusive: one at a time, files that share something machine-wide or need the CPU to
 *    themselves. Machine-wide: the machine's own Docker engine (ensureDockerEngine: the tests'
 *    images and containers share one name prefix, and each file's clean-up removes them all),
 *    binfmt_misc (emulationUnavailable registers qemu), cgroups, iptables in the host namespace.
 *    The CPU: the recognisers' decodes (test/stt), and the tests whose figures are timings or
 *    memory (the browser's 11 s to see a dead peer, the mics' 150 ms window, a flood's RSS).
 *
 * When in doubt a file goes to the later group: a wrongly serial file costs seconds, a wrongly
 * parallel one flakes.
 */
const INTEGRATION =
  /child_process|harness|support\/(docker|proc|tmpfs|emulation|mosquitto|fake-)|mosquitto|Supervisor|netns|spawn|execFile|espeak|speech|ocker|nats|whisper|Recogniser|pocketsphinx|tcpdump|chromium|puppeteer|daemon|lab\.js|arecord|flood|cgroup|\bsox\b|\.mjs/;
/** Calls that reach something machine-wide, in the file or a test-side module it imports. */
const EXCLUSIVE_CALLS =
  /(?<!function |`)(ensureDockerEngine|emulationUnavailable)\(|\/sys\/fs\/cgroup|'iptables'/;
/** Files that need the CPU to themselves (decodes, a browser, timings and memory as figures). */
const EXCLUSIVE_FILES =
  /^test\/(stt|e2e|dashboard)\/|many-mics|flood-rss|cgroup|egress-firewall|lazy-load|daemon-loads/;

const all = (readdirSync('test', { recursive: true, encoding: 'utf8' }) as string[])
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => join('test', f));
/** Whether the file's text, or that of a test-side module it imports (./lost-host.js,
 * ../support/…), matches. */
function names(pattern: RegExp, file: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  if (pattern.test(text)) return true;
  for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
    const target = normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
    if (target.startsWith('test/') && names(pattern, target, seen)) return true;
  }
  return false;
}

const unit = all.filter((f) => !names(INTEGRATION, f));
const exclusive = all.filter(
  (f) => !unit.includes(f) && (EXCLUSIVE_FILES.test(f) || names(EXCLUSIVE_CALLS, f)),
);
const integration = all.filter((f) => !unit.includes(f) && !exclusive.includes(f));

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
          include: integration,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          ...shared,
          name: 'exclusive',
          include: exclusive,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
