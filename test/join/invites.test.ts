import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createInvite, invitesFile, listOpenInvites } from '../../node/join/index.js';
import { tempDir } from '../rpc/helpers.js';

const run = promisify(execFile);
const fixture = path.join(import.meta.dirname, 'fixtures', 'make-invites.ts');

describe('invite store', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('loses no invite when separate processes create invites at the same time', async () => {
    const { dir, remove } = tempDir('invites');
    cleanups.push(remove);
    const startAt = String(Date.now() + 3000);
    const children = [1, 2, 3].map(() =>
      run(process.execPath, ['--import', 'tsx', fixture, dir, '30', startAt], { timeout: 30_000 }),
    );
    const outputs = await Promise.all(children);
    const codes = outputs.flatMap((o) => JSON.parse(o.stdout) as string[]);
    expect(new Set(codes).size).toBe(90);
    expect(listOpenInvites(dir)).toHaveLength(90);
    expect(existsSync(`${invitesFile(dir)}.lock`)).toBe(false);
  });

  it('forgets used and expired invites a day later', async () => {
    const { dir, remove } = tempDir('invites');
    cleanups.push(remove);
    const now = Date.now();
    await createInvite(dir, {
      ttlS: 600,
      memberAddress: '127.0.3.19',
      rpcPort: 7700,
      now: now - 2 * 24 * 3600_000,
    });
    await createInvite(dir, {
      ttlS: 600,
      memberAddress: '127.0.3.19',
      rpcPort: 7700,
      now: now - 3600_000,
    });
    await createInvite(dir, { ttlS: 600, memberAddress: '127.0.3.19', rpcPort: 7700, now });
    const stored = JSON.parse(readFileSync(invitesFile(dir), 'utf8')) as { invites: unknown[] };
    // the two-day-old one is pruned; the expired-an-hour-ago one stays to say "expired"
    expect(stored.invites).toHaveLength(2);
    expect(listOpenInvites(dir)).toHaveLength(1);
  });
});
