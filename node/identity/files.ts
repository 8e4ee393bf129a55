/** Small, safe file helpers for the state dir: atomic writes (tmp + fsync + rename), mode 0600. */
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  renameSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import path from 'node:path';
import { StateError, fileProblemHint } from '../errors.js';

export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StateError(`cannot create state dir ${dir}; choose another with --state-dir`, {
      cause: err,
    });
  }
}

/** Write a file so a crash leaves either the old or the new content, never a torn one. */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): void {
  ensureDir(path.dirname(file));
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    const hint = fileProblemHint(err) ?? 'check the permissions of the state dir';
    throw new StateError(`cannot write ${file}: ${(err as Error).message}; ${hint}`, {
      cause: err,
    });
  }
}

/** Read a file, or null when it does not exist. */
export function readFileOrNull(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StateError(
      `cannot read ${file}: ${(err as Error).message}; check the permissions of the state dir`,
      {
        cause: err,
      },
    );
  }
}
