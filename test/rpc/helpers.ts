/** Shared by the rpc and join tests: temp dirs, addresses in 127.0.3.1-20 (ports: test/support/ports.ts). */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function meshSecret(): Buffer {
  return randomBytes(32);
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `helix-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Local addresses of listening TCP sockets on `port`, as `ss -ltnH` prints them. */
export async function listeningAddresses(port: number): Promise<string[]> {
  const { stdout } = await run('ss', ['-ltnH', `sport = :${port}`], { timeout: 5000 });
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[3])
    .filter((a): a is string => a !== undefined && a !== '');
}
