/**
 * Fuzzing (issue 11): the agent protocol. parseAgentLine answers a message or a reason for any
 * line; the LineSplitter yields the same lines (and the same too-long reports) however the
 * container's stdout is chunked, and never holds more than its limit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAgentLine } from '../../node/agentspec/protocol.js';
import { LineSplitter } from '../../node/agents/framing.js';
import { mutated, nested, runs, smallJson, utf8 } from './support.js';

function parsesSafely(line: string): void {
  const parsed = parseAgentLine(line);
  if (parsed.ok) expect(typeof parsed.message.type).toBe('string');
  else expect(typeof parsed.reason).toBe('string');
  // what the host does with a message next (log it, forward it) re-serialises it
  if (parsed.ok) JSON.stringify(parsed.message);
}

const valid = [
  { v: 1, type: 'ready', agent: 'lights' },
  { v: 1, type: 'progress', id: 't1', message: 'working', percent: 50 },
  { v: 1, type: 'result', id: 't1', text: 'done', data: { n: 1 } },
  { v: 1, type: 'error', id: 't1', message: 'no', code: 'unknown_room' },
  { v: 1, type: 'call', id: 't1', call_id: 'c1', method: 'mqtt.publish', params: { topic: 'x' } },
];

describe('fuzz: agent protocol lines', () => {
  it('arbitrary strings and JSON: a message or a reason, never a throw', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      smallJson.map((j) => JSON.stringify(j)),
      fc
        .record(
          {
            v: fc.oneof(fc.constant(1), smallJson),
            type: fc.oneof(
              fc.constantFrom('ready', 'progress', 'result', 'error', 'call'),
              smallJson,
            ),
            id: fc.oneof(fc.string({ maxLength: 3 }), smallJson),
            call_id: smallJson,
            method: smallJson,
            params: smallJson,
            message: smallJson,
            text: smallJson,
            percent: fc.oneof(fc.double(), smallJson),
            code: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9_]{0,3}$/), smallJson),
            data: smallJson,
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    );
    fc.assert(fc.property(line, parsesSafely), runs());
  });

  it('mutations of valid messages', () => {
    const text = fc.constantFrom(...valid).chain((m) => mutated(utf8(JSON.stringify(m))));
    fc.assert(
      fc.property(text, (bytes) => parsesSafely(Buffer.from(bytes).toString('utf8'))),
      runs(),
    );
  });

  it('deep nesting is refused with a reason, not a stack overflow later', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30_000 }), (depth) => {
        parsesSafely(`{"v":1,"type":"result","id":"a","text":"x","data":${nested(depth)}}`);
      }),
      runs(200),
    );
  });
});

// ---- framing ----

interface Framed {
  lines: string[];
  tooLong: number;
}

function frame(chunks: readonly Uint8Array[], maxBytes: number): Framed {
  const out: Framed = { lines: [], tooLong: 0 };
  const splitter = new LineSplitter(
    maxBytes,
    (line) => out.lines.push(line),
    (size) => {
      expect(size).toBeGreaterThan(maxBytes);
      out.tooLong += 1;
    },
  );
  for (const c of chunks) splitter.push(Buffer.from(c));
  splitter.end();
  return out;
}

/** Cuts `bytes` at the given points (any, repeated, out of order). */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...at, bytes.length]) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

/** What the lines should be, worked out from the whole stream at once. */
function expected(bytes: Uint8Array, maxBytes: number): Framed {
  const out: Framed = { lines: [], tooLong: 0 };
  const raw = Buffer.from(bytes);
  const pieces: Buffer[] = [];
  let start = 0;
  for (let nl = raw.indexOf(0x0a); nl !== -1; nl = raw.indexOf(0x0a, start)) {
    pieces.push(raw.subarray(start, nl));
    start = nl + 1;
  }
  if (start < raw.length) pieces.push(raw.subarray(start));
  for (const p of pieces) {
    if (p.length > maxBytes) out.tooLong += 1;
    else {
      const line = p.toString('utf8').replace(/\r$/, '');
      if (line.trim() !== '') out.lines.push(line);
    }
  }
  return out;
}

describe('fuzz: agent stdout framing', () => {
  // bytes weighted toward newlines, CR, spaces and a multi-byte UTF-8 character
  const streamByte = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(0x0a, 0x0d, 0x20, 0x7b, 0x7d) },
    { weight: 1, arbitrary: fc.constantFrom(0xe2, 0x82, 0xac) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 255 }) },
  );
  const stream = fc.array(streamByte, { maxLength: 80 }).map((a) => Uint8Array.from(a));
  const euros = fc.nat(20).map((n) => utf8(`${'€'.repeat(n)}\n{"v":1}\n`));

  it('yields the same lines however the input is chunked, and drops oversized lines', () => {
    fc.assert(
      fc.property(
        fc.oneof(stream, euros),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 24 }),
        (bytes, points, maxBytes) => {
          const want = expected(bytes, maxBytes);
          expect(frame([bytes], maxBytes)).toEqual(want);
          expect(frame(cut(bytes, points), maxBytes)).toEqual(want);
          // byte by byte, the worst case for a split multi-byte character
          expect(frame(cut(bytes, [...bytes.keys()]), maxBytes)).toEqual(want);
        },
      ),
      runs(),
    );
  });

  it('an endless line is reported once and never buffered past the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 64 }),
        fc.integer({ min: 1, max: 40 }),
        (maxBytes, n) => {
          const out: Framed = { lines: [], tooLong: 0 };
          const splitter = new LineSplitter(
            maxBytes,
            (l) => out.lines.push(l),
            () => (out.tooLong += 1),
          );
          const chunk = Buffer.alloc(16, 0x61);
          for (let i = 0; i < n; i++) {
            splitter.push(chunk);
            // what it holds of the unfinished line (a private field, read for the test)
            expect((splitter as unknown as { size: number }).size).toBeLessThanOrEqual(maxBytes);
          }
          expect(out.tooLong).toBe(16 * n > maxBytes ? 1 : 0);
          splitter.push(Buffer.from('\n{"v":1}\n'));
          expect(out.lines).toEqual(
            16 * n > maxBytes ? ['{"v":1}'] : ['a'.repeat(16 * n), '{"v":1}'],
          );
          expect(out.tooLong).toBe(16 * n > maxBytes ? 1 : 0);
        },
      ),
      runs(),
    );
  });
});
