/** A container's usage read from cgroup files (node/agents/docker/cgroup.ts), v1 and v2 trees. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCgroupUsage } from '../../node/agents/docker/cgroup.js';

const ID = 'a'.repeat(64);
const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true })));
});

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'helix-cgroup-'));
  roots.push(root);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
  return root;
}

describe('readCgroupUsage', () => {
  it('reads cgroup v2 (systemd driver): pids, refusals at the limit, memory less cache, OOM kills, open files', async () => {
    const dir = `system.slice/docker-${ID}.scope`;
    const root = await tree({
      'cgroup.controllers': 'cpu memory pids',
      [`${dir}/pids.current`]: '16\n',
      [`${dir}/pids.max`]: '16\n',
      [`${dir}/pids.events`]: 'max 5\n',
      [`${dir}/memory.current`]: '12000000\n',
      [`${dir}/memory.max`]: '16777216\n',
      [`${dir}/memory.stat`]: 'anon 9000000\nfile 3000000\ninactive_file 2000000\n',
      [`${dir}/memory.events`]: 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
      [`${dir}/cgroup.procs`]: '101\n102\n',
      'proc/101/fd/0': '',
      'proc/101/fd/1': '',
      'proc/102/fd/0': '',
      'proc/102/fd/1': '',
      'proc/102/fd/2': '',
    });
    expect(await readCgroupUsage(ID, root, undefined, path.join(root, 'proc'))).toEqual({
      pids: 16,
      pidsLimit: 16,
      pidsLimitHits: 5,
      memoryBytes: 10_000_000,
      memoryLimitBytes: 16777216,
      oomKills: 1,
      openFiles: 3,
    });
  });

  it('reads cgroup v1 (cgroupfs driver), "max" as no limit', async () => {
    const root = await tree({
      [`pids/docker/${ID}/pids.current`]: '4',
      [`pids/docker/${ID}/pids.max`]: 'max',
      [`pids/docker/${ID}/pids.events`]: 'max 0',
      [`memory/docker/${ID}/memory.usage_in_bytes`]: '5000000',
      [`memory/docker/${ID}/memory.limit_in_bytes`]: '16777216',
      [`memory/docker/${ID}/memory.stat`]: 'cache 1000\ntotal_inactive_file 1000000\n',
      [`memory/docker/${ID}/memory.oom_control`]: 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    });
    expect(await readCgroupUsage(ID, root)).toEqual({
      pids: 4,
      pidsLimit: null,
      pidsLimitHits: 0,
      memoryBytes: 5_000_000,
      memoryLimitBytes: 16777216,
      oomKills: 0,
      openFiles: null,
    });
  });

  it('is null when the container has no cgroup here (an engine on another host)', async () => {
    expect(await readCgroupUsage(ID, await tree({ 'cgroup.controllers': 'pids' }))).toBeNull();
  });
});
