/**
 * A small real file system that can be filled: a tmpfs of a fixed size (root only), for the
 * full-disk tests. fill() takes every free byte; unmount() removes it and its mount point.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TinyFs {
  dir: string;
  /** Write a file that takes the rest of the space (every later write fails with ENOSPC). */
  fill(): void;
  unmount(): void;
}

export const canMount = process.getuid?.() === 0;

const mounted = new Set<string>();
// A test that hangs never reaches its finally: unmount what is left when the worker exits.
process.once('exit', () => {
  for (const dir of mounted) unmount(dir);
});

function unmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir]);
  } catch {
    // not mounted (any more)
  }
  rmSync(dir, { recursive: true, force: true });
  mounted.delete(dir);
}

export function mountTinyFs(sizeKiB: number): TinyFs {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-tinyfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir]);
  mounted.add(dir);
  return {
    dir,
    fill() {
      try {
        writeFileSync(path.join(dir, 'filler'), Buffer.alloc(sizeKiB * 1024 + 4096));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    },
    unmount: () => unmount(dir),
  };
}
