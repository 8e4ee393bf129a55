/**
 * The test engine's pidfile check: dockerd refuses to start while the pid in its pidfile exists,
 * whatever that process is now. A CI run failed every Docker test that way (a dead engine's pid
 * had been reused by a long-lived process), so ensureDockerEngine() tells a live dockerd from a
 * stale entry first. Real processes: a live one under another name, a zombie, a dead pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidfileHolder } from './docker.js';
import { waitFor } from './wait.js';

describe('pidfileHolder', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  const pidfile = (content: string): string => {
    const file = path.join(dir, `p${children.length}-${Math.random()}.pid`);
    writeFileSync(file, content);
    return file;
  };
  const start = (cmd: string, args: string[]): ChildProcess => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    children.push(child);
    return child;
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'helix-test-pidfile-'));
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('no file: nobody holds it', () => {
    expect(pidfileHolder(path.join(dir, 'absent.pid'), 'dockerd')).toEqual({ kind: 'none' });
  });

  it('no number in the file, or a pid that is not running: stale', async () => {
    expect(pidfileHolder(pidfile('garbage\n'), 'dockerd')).toMatchObject({ kind: 'stale' });
    const done = start('true', []);
    await new Promise((r) => done.once('exit', r));
    expect(pidfileHolder(pidfile(`${done.pid}\n`), 'dockerd')).toEqual({
      kind: 'stale',
      why: `pid ${done.pid} is not running`,
    });
  });

  it('a live process of another name holding the pid: stale, naming what it is now', () => {
    const sleeper = start('sleep', ['30']);
    expect(pidfileHolder(pidfile(String(sleeper.pid)), 'dockerd')).toEqual({
      kind: 'stale',
      why: `pid ${sleeper.pid} is now "sleep", not dockerd`,
    });
  });

  it('a zombie of the right name: stale', async () => {
    // `sleep 0` exits under a parent (the exec'd `sleep 30`) that never reaps it.
    const parent = start('sh', ['-c', 'sleep 0 & exec sleep 30']);
    let zombie = 0;
    await waitFor(
      () => {
        const kids = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8');
        zombie = Number(kids.trim().split(' ')[0]);
        return !!zombie && /\) Z /.test(readFileSync(`/proc/${zombie}/stat`, 'utf8'));
      },
      { timeoutMs: 5000, what: 'a zombie child of sleep' },
    );
    expect(pidfileHolder(pidfile(`${zombie}\n`), 'sleep')).toEqual({
      kind: 'stale',
      why: `sleep ${zombie} is a zombie`,
    });
  });

  it('a live process of the right name: live, with what to do', () => {
    const sleeper = start('sleep', ['30']);
    const holder = pidfileHolder(pidfile(`${sleeper.pid}\n`), 'sleep');
    expect(holder).toMatchObject({ kind: 'live', pid: sleeper.pid });
    expect(holder.kind === 'live' && holder.describe).toContain(`kill ${sleeper.pid}`);
  });
});
