/**
 * Addresses for the voice-pipeline tests (pipeline, transcribe, models, tts): 127.0.6.x; ports
 * come from the OS (test/support/ports.ts), so they never meet other suites or a running node.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const HOST = '127.0.6.1';

export function meshSecret(): Buffer {
  return randomBytes(32);
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `helix-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
