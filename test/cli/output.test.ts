/**
 * Terminal injection (issue 11): text from an agent (progress, results, errors) reaches the
 * terminal with every control character made visible, and --json output stays JSON.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlSocketPath } from '../../node/control/index.js';
import { describeArgs, describeData, paint, safeText } from '../../node/cli/output.js';

const ESC = '\u001b';
const BEL = '\u0007';
/** What a hostile agent prints: a new window title, an OSC 8 link, erase-line, cursor up, a
 * C1 CSI, a carriage return over the line, and a right-to-left override. */
const HOSTILE = [
  `${ESC}]0;pwned${BEL}`,
  `${ESC}]8;;https://evil.example/${ESC}\\click${ESC}]8;;${ESC}\\`,
  `${ESC}[2K${ESC}[1A`,
  '\u009b31m',
  'all good\rALL BAD',
  'file\u202egpj.exe',
  '\u0008\u007f',
].join(' ');
/** Anything a terminal would act on rather than show (newline and tab are fine). */
// eslint-disable-next-line no-control-regex -- the characters under test
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('safeText', () => {
  it('makes every control, escape, C1 and bidi character visible', () => {
    const s = safeText(HOSTILE);
    expect(s).not.toMatch(RAW);
    expect(s).toContain('\\u001b]0;pwned\\u0007');
    expect(s).toContain('\\u009b31m');
    expect(s).toContain('all good\\u000dALL BAD');
    expect(s).toContain('file\\u202egpj.exe');
  });

  it('keeps newlines, tabs and ordinary text in any script', () => {
    const text = 'line 1\n\tline 2: café, 東京, שלום, 🙂';
    expect(safeText(text)).toBe(text);
  });

  it("keeps paint's own colours only when asked, and nobody else's", () => {
    const mine = paint({ color: true }, 'red', 'failed');
    expect(safeText(mine, { keepColour: true })).toBe(mine);
    expect(safeText(mine)).not.toMatch(RAW);
    const theirs = `${mine} ${ESC}[8mhidden${ESC}]0;t${BEL}`;
    const kept = safeText(theirs, { keepColour: true });
    expect(kept.startsWith(mine)).toBe(true);
    expect(kept.slice(mine.length)).not.toMatch(RAW);
  });

  it('leaves JSON valid JSON with the same value (C1 and bidi escaped like C0)', () => {
    const value = { text: HOSTILE, nested: [HOSTILE], n: 1 };
    const json = safeText(JSON.stringify(value));
    expect(json).not.toMatch(RAW);
    expect(JSON.parse(json)).toEqual(value);
    // JSON.stringify alone escapes C0 but leaves C1 and bidi raw: that is why JSON goes through it.
    expect(JSON.stringify(value)).toMatch(RAW);
  });
});

describe('structured values for a person, not JSON objects', () => {
  it('writes arguments as key=value, quoting only what is not one plain word', () => {
    expect(describeArgs({ room: 'kitchen', minutes: 5, on: true })).toBe(
      'room=kitchen minutes=5 on=true',
    );
    expect(describeArgs({ text: 'buy milk', tags: ['a'] })).toBe('text="buy milk" tags=["a"]');
    expect(describeArgs({})).toBe('');
    expect(describeArgs(undefined)).toBe('');
  });

  it("writes an agent's data-only result as one key: value line per field", () => {
    expect(describeData({ remaining: 3, next: 'kitchen timer' })).toBe(
      'remaining: 3\nnext: kitchen timer',
    );
    expect(describeData(42)).toBe('42');
    expect(describeData(null)).toBe('');
  });
});

describe('the CLI prints what an agent sent safely', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-inject-'));
  let server: http.Server;
  beforeAll(async () => {
    // A stand-in daemon: /v1/run streams a hostile agent's progress and result.
    server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const events = [
        { type: 'progress', message: HOSTILE },
        { type: 'result', text: HOSTILE, data: { s: HOSTILE }, hostName: 'fake' },
      ];
      res.end(events.map((event) => JSON.stringify({ type: 'event', event }) + '\n').join(''));
    });
    await new Promise<void>((r) => server.listen(controlSocketPath(stateDir), r));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(stateDir, { recursive: true, force: true });
  });

  function run(extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'node/cli/main.ts',
        ...extra,
        'run',
        'evil',
        'go',
        '--state-dir',
        stateDir,
      ],
      {
        cwd: path.resolve(import.meta.dirname, '..', '..'),
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((r) => child.once('close', (code) => r({ code, stdout, stderr })));
  }

  it('for a person: progress and result with no raw control character', async () => {
    const r = await run([]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('\\u001b]0;pwned\\u0007');
    expect(r.stdout).toContain('\\u001b]0;pwned\\u0007');
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stdout.replace(/\n$/, '')).not.toMatch(RAW);
  }, 30_000);

  it('with --json: NDJSON with the same strings, and no raw control character', async () => {
    const r = await run(['--json']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\n/g, '')).not.toMatch(RAW);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toEqual({ type: 'progress', message: HOSTILE });
    expect(events[1]).toMatchObject({ type: 'result', text: HOSTILE, data: { s: HOSTILE } });
  }, 30_000);
});
