/**
 * Fuzzing (issue 11): every generated gRPC message type (node/rpc/gen, ts-proto). Arbitrary bytes
 * decode or throw an ordinary Error at once (no hang, no allocation sized by a claimed length);
 * whatever decodes re-encodes to bytes that decode to the same message, and fromPartial of an
 * arbitrary record encodes and decodes to itself.
 */
import { readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as agent from '../../node/rpc/gen/helix/v1/agent.js';
import * as image from '../../node/rpc/gen/helix/v1/image.js';
import * as keys from '../../node/rpc/gen/helix/v1/keys.js';
import * as llm from '../../node/rpc/gen/helix/v1/llm.js';
import * as mesh from '../../node/rpc/gen/helix/v1/mesh.js';
import * as models from '../../node/rpc/gen/helix/v1/models.js';
import * as registry from '../../node/rpc/gen/helix/v1/registry.js';
import * as router from '../../node/rpc/gen/helix/v1/router.js';
import * as transcriber from '../../node/rpc/gen/helix/v1/transcriber.js';
import { runs } from './support.js';

interface Fns {
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  fromPartial(object: unknown): unknown;
}

const modules = { agent, image, keys, llm, mesh, models, registry, router, transcriber };
const messages: [string, Fns][] = Object.entries(modules).flatMap(([file, exports]) =>
  Object.entries(exports as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'object' && v !== null && 'decode' in v && 'fromPartial' in v)
    .map(([name, v]) => [`${file}.${name}`, v as Fns] as [string, Fns]),
);

/** Protobuf-ish bytes: valid tags and varints for fields 1-8 mixed with noise. */
const wireBytes = fc
  .array(
    fc.oneof(
      fc.record({
        field: fc.integer({ min: 1, max: 8 }),
        wire: fc.constantFrom(0, 1, 2, 5),
        len: fc.nat(12),
      }),
      fc.uint8Array({ minLength: 1, maxLength: 6 }),
    ),
    { maxLength: 8 },
  )
  .map((parts) => {
    const out: number[] = [];
    for (const p of parts) {
      if (p instanceof Uint8Array) out.push(...p);
      else {
        out.push((p.field << 3) | p.wire);
        if (p.wire === 0) out.push(p.len);
        else if (p.wire === 1) out.push(...new Array<number>(8).fill(p.len));
        else if (p.wire === 5) out.push(...new Array<number>(4).fill(p.len));
        else out.push(p.len, ...new Array<number>(p.len).fill(0x08));
      }
    }
    return Uint8Array.from(out);
  });
/** A length prefix claiming far more than follows (2^31 - 1, 2^32 - 1, 2^63-ish). */
const hugeClaims = fc
  .tuple(
    fc.integer({ min: 1, max: 8 }),
    fc.constantFrom(
      [0xff, 0xff, 0xff, 0xff, 0x07],
      [0xff, 0xff, 0xff, 0xff, 0x0f],
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ),
  )
  .map(([field, len]) => Uint8Array.from([(field << 3) | 2, ...len, 1, 2, 3]));

const input = fc.oneof(fc.uint8Array({ maxLength: 48 }), wireBytes, hugeClaims);

/** decode, checked without expect() (called 10,000 times per type: plain checks are faster). */
function decodes(fns: Fns, bytes: Uint8Array): unknown {
  const started = performance.now();
  let message: unknown;
  try {
    message = fns.decode(bytes);
  } catch (err) {
    if (!(err instanceof Error)) throw new Error(`decode threw a non-Error: ${String(err)}`);
    // not an allocation sized by a claimed length
    if (/Invalid (typed )?array length|allocation failed/i.test(err.message)) throw err;
    message = undefined;
  }
  const ms = performance.now() - started;
  if (ms > 1000) throw new Error(`decode of ${bytes.length} bytes took ${ms} ms`);
  return message;
}

describe('fuzz: gRPC messages', () => {
  it('fuzzes every generated file, so a new .proto cannot slip past', () => {
    // (the registry's messages were missed before: the check was "at least 20 types")
    const generated = readdirSync(new URL('../../node/rpc/gen/helix/v1/', import.meta.url))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .sort();
    expect(Object.keys(modules).sort()).toEqual(generated);
    for (const file of generated)
      expect(messages.some(([name]) => name.startsWith(`${file}.`))).toBe(true);
  });

  describe.each(messages)('%s', (_name, fns) => {
    it('decodes arbitrary bytes or throws an Error; what decodes round-trips', () => {
      fc.assert(
        fc.property(input, (bytes) => {
          const message = decodes(fns, bytes);
          if (message === undefined) return true;
          const again = fns.decode(fns.encode(message).finish());
          if (!isDeepStrictEqual(again, message)) return false;
          return isDeepStrictEqual(fns.fromPartial(message), message);
        }),
        runs(),
      );
    });
  });
});
