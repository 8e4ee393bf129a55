/**
 * Ports and addresses for the voice-pipeline tests (pipeline, transcribe, models, tts):
 * ports 17500-17999 on 127.0.6.x, so they never meet other suites running at the same time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const HOST = '127.0.6.1';

/** Ports for one test file: [base, base + 49], inside 17500-17999. */
export function portRange(base: number): () => number {
  if (base < 17500 || base + 49 > 17999)
    throw new Error(`port base ${base} is outside 17500-17999`);
  let next = base;
  return () => {
    if (next > base + 49) throw new Error('test port range exhausted');
    return next++;
  };
}

export function meshSecret(): Buffer {
  return randomBytes(32);
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `helix-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
