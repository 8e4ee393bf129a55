/**
 * The CLI drains stdout before it exits: `helix-node --json run …` of a large result read through
 * a slow pipe arrives whole (issue 11; before node/cli/exit.ts the process exited with only what
 * fit the pipe's 64 KiB buffer written, invalid JSON).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlSocketPath } from '../../node/control/index.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-drain-'));
const BIG = 'x'.repeat(1_500_000);
let server: http.Server;
let answered: Promise<void>;

beforeAll(async () => {
  let markAnswered!: () => void;
  answered = new Promise((r) => (markAnswered = r));
  // A stand-in daemon: /v1/run answers one result event of 1.5 MB.
  server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const ev = { type: 'result', text: BIG, data: { size: BIG.length }, hostName: 'fake' };
    res.end(JSON.stringify({ type: 'event', event: ev }) + '\n', markAnswered);
  });
  await new Promise<void>((r) => server.listen(controlSocketPath(stateDir), r));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(stateDir, { recursive: true, force: true });
});

describe('CLI output through a pipe', () => {
  it('--json run of a 1.5 MB result read slowly parses whole', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'node/cli/main.ts',
        '--json',
        'run',
        'big',
        'result',
        '--state-dir',
        stateDir,
      ],
      { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // 'close': the process exited and its stdout and stderr ended.
    const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // A slow reader: nothing is read until the CLI has had its answer and a second to exit.
    await Promise.race([answered, closed]);
    await new Promise((r) => setTimeout(r, 1000));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    const code = await closed;
    const out = Buffer.concat(chunks).toString('utf8');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const ev = JSON.parse(lines[0]!) as { type: string; text: string };
    expect(ev.type).toBe('result');
    expect(ev.text.length).toBe(BIG.length);
  }, 30_000);
});
