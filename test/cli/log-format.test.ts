/**
 * Readable log lines (issue 13, "a terminal that reads like a person wrote it"): the message, the
 * fields a person needs, no JSON objects; colours only when wanted; nothing from a peer reaches
 * the terminal as a control character; URL credentials redacted as in the JSON lines.
 */
import { describe, expect, it } from 'vitest';
import {
  duration,
  formatLogLine,
  formatLogMessage,
  resolveLogFormat,
} from '../../node/cli/log-format.js';
import { prettyLogStream } from '../../node/cli/log-pretty.js';
import { colourWanted } from '../../node/cli/output.js';
import { createLogger } from '../../node/log.js';

// eslint-disable-next-line no-control-regex -- looking for raw control characters is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const ESC = '\u001b';

/** A logger writing readable lines into an array, as `join` on a terminal does into stderr. */
function prettyLogger(opts: { color: boolean; level?: string }) {
  const lines: string[] = [];
  const to = { write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) };
  const level = opts.level ?? 'info';
  const log = createLogger(
    level,
    {},
    prettyLogStream({ color: opts.color, verbose: level === 'debug', to }),
  );
  return { log, lines };
}

describe('resolveLogFormat', () => {
  it.each([
    [{ configured: 'auto', json: false, isTTY: true }, 'pretty'],
    [{ configured: 'auto', json: false, isTTY: false }, 'json'],
    [{ configured: 'auto', json: true, isTTY: true }, 'json'],
    [{ configured: 'pretty', json: false, isTTY: false }, 'pretty'],
    [{ configured: 'json', json: false, isTTY: true }, 'json'],
    [{ flag: 'pretty', configured: 'json', json: true, isTTY: false }, 'pretty'],
    [{ flag: 'json', configured: 'pretty', json: false, isTTY: true }, 'json'],
    [{ flag: 'auto', configured: 'json', json: false, isTTY: true }, 'pretty'],
  ] as const)('%o -> %s', (input, format) => {
    expect(resolveLogFormat(input)).toBe(format);
  });
});

describe('colourWanted', () => {
  it.each([
    ['a terminal', { isTTY: true, env: {} }, true],
    ['a pipe', { isTTY: false, env: {} }, false],
    ['NO_COLOR=1 on a terminal', { isTTY: true, env: { NO_COLOR: '1' } }, false],
    ['NO_COLOR= (empty) on a terminal', { isTTY: true, env: { NO_COLOR: '' } }, true],
    ['--no-color on a terminal', { flag: false, isTTY: true, env: {} }, false],
    ['FORCE_COLOR=1 into a pipe', { isTTY: false, env: { FORCE_COLOR: '1' } }, true],
    ['FORCE_COLOR=0 on a terminal', { isTTY: true, env: { FORCE_COLOR: '0' } }, false],
    [
      'NO_COLOR wins over FORCE_COLOR',
      { isTTY: true, env: { NO_COLOR: 'x', FORCE_COLOR: '1' } },
      false,
    ],
    ['TERM=dumb', { isTTY: true, env: { TERM: 'dumb' } }, false],
  ])('%s', (_what, input, wanted) => {
    expect(colourWanted(input)).toBe(wanted);
  });
});

describe('a readable log line', () => {
  it('is the message with the useful fields, never a JSON object or this node’s own id', () => {
    const line = formatLogMessage({
      level: 30,
      time: 0,
      id: 'BuREMGEX',
      node: 'desk',
      component: 'pipeline',
      traceId: 'c0ffee',
      agent: 'timer',
      intent: 'set',
      ms: 841.6,
      msg: 'command done',
    });
    expect(line).toBe('command done (agent timer, intent set, 842 ms)');
  });

  it('does not repeat what the message says, and puts an error after a colon', () => {
    expect(
      formatLogMessage({
        level: 30,
        peer: '12D3KooWDHGFMX7Xq1c6BhA5JtuUr53SqFGZvKgd8c3UBuREMGEX',
        name: 'kitchen',
        from: 'alive',
        to: 'suspect',
        reason: 'silent for 3 s',
        msg: 'peer kitchen (12D3KooWDHGF) is suspect, was alive',
      }),
    ).toBe('peer kitchen (12D3KooWDHGF) is suspect, was alive (silent for 3 s)');
    expect(
      formatLogMessage({
        level: 40,
        err: { type: 'Error', message: 'connect ECONNREFUSED', stack: 'Error: …\n  at x' },
        msg: 'bus error',
      }),
    ).toBe('bus error: connect ECONNREFUSED');
  });

  it('sums up capabilities in words', () => {
    const line = formatLogMessage({
      level: 30,
      capabilities: {
        mic: 0,
        gpu: ['RTX 4060 8 GiB'],
        docker: '27.1',
        stt: null,
        ollama: 3,
        tts: ['espeak-ng'],
        go: true,
      },
      msg: 'capabilities changed',
    });
    expect(line).toBe(
      'capabilities changed (no mic, GPU RTX 4060 8 GiB, Docker 27.1, no STT, Ollama (3 models), TTS espeak-ng, Go)',
    );
  });

  it('shows every other field as key=value at debug level only', () => {
    const rec = { level: 20, port: 4222, file: '/x/settings.json', msg: 'bus connected' };
    expect(formatLogMessage(rec)).toBe('bus connected');
    expect(formatLogMessage(rec, { color: false, verbose: true })).toBe(
      'bus connected (port=4222, file=/x/settings.json)',
    );
  });

  it('has colours only when asked: time dim, level coloured, details dim', () => {
    const rec = { level: 40, time: Date.UTC(2026, 11, 3, 14, 3, 7), agent: 'a', msg: 'm' };
    const plain = formatLogLine(rec, { color: false });
    expect(plain).toMatch(/^\d\d:\d\d:\d\d warn {2}m \(agent a\)$/);
    expect(plain).not.toContain(ESC);
    const coloured = formatLogLine(rec, { color: true });
    expect(coloured).toContain(`${ESC}[33mwarn `);
    expect(coloured).toContain(`${ESC}[2m(agent a)${ESC}[0m`);
  });

  it('makes control characters from a peer or an agent visible, colours on or off', () => {
    for (const color of [false, true]) {
      const line = formatLogLine(
        {
          level: 30,
          time: 0,
          name: 'kit\u001b]0;owned\u0007chen',
          agent: 'evil\u009b2J',
          err: 'bad\u001b[2Jthing',
          msg: 'peer kit\u001b]0;owned\u0007chen joined\r',
        },
        { color },
      );
      // only the formatter's own SGR codes remain
      // eslint-disable-next-line no-control-regex -- removing the formatter's own colour codes
      const withoutOwn = line.replace(/\u001b\[(?:0|1|2|3[1-4])m/g, '');
      expect(withoutOwn).not.toMatch(RAW_CONTROL);
      expect(line).toContain('kit\\u001b]0;owned\\u0007chen');
      expect(line).toContain('evil\\u009b2J');
      expect(line).toContain('bad\\u001b[2Jthing');
    }
  });

  it.each([
    [350, '350 ms'],
    [2430, '2.4 s'],
    [42_000, '42 s'],
    [180_000, '3 min'],
  ])('duration(%d) = %s', (ms, shown) => {
    expect(duration(ms)).toBe(shown);
  });
});

describe('the pretty log stream', () => {
  it('writes one readable line per record, below the level filtered out', () => {
    const { log, lines } = prettyLogger({ color: false });
    log.debug({ agent: 'x' }, 'not shown at info');
    log
      .child({ id: 'BuREMGEX' })
      .info({ agents: ['echo', 'timer'], dirs: ['/a'] }, 'agents loaded');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d info {2}agents loaded \(echo, timer\)$/);
  });

  it('redacts URL credentials in any field, as the JSON lines do', () => {
    const { log, lines } = prettyLogger({ color: true });
    log.warn(
      { broker: 'mqtt://helix:hunter2@10.0.0.2:1883', err: 'connect mqtt://helix:hunter2@x:1' },
      'broker at mqtt://helix:hunter2@10.0.0.2:1883 went away',
    );
    const text = lines.join('\n');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('broker at mqtt://***@10.0.0.2:1883 went away');
    expect(text).toContain('connect mqtt://***@x:1');
  });

  it('hides the secret-bearing keys pino redacts', () => {
    const { log, lines } = prettyLogger({ color: false, level: 'debug' });
    log.info({ secret: 's3cr3t-value', meshSecret: 'm3sh' }, 'joined');
    expect(lines.join('\n')).not.toMatch(/s3cr3t-value|m3sh/);
  });
});
