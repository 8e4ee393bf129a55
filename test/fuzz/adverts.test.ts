/**
 * Fuzzing (issue 11): adverts and byes as they arrive on the bus. Whatever the bytes, the codec
 * returns a value or a drop reason; it never throws, and only a correctly signed, schema-valid
 * advert of this mesh gets through.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AdvertCodec, DROP_REASONS, encodeAdvert } from '../../node/membership/index.js';
import { NodeAdvertSchema, PROTOCOL_VERSION } from '../../node/types.js';
import { MESH_ID, SECRET, advert } from '../membership/support/advert.js';
import { mutated, nested, runs, smallBytes, smallJson, utf8 } from './support.js';

const codec = new AdvertCodec({ meshId: MESH_ID, secret: SECRET });
const REASONS = new Set<string>(DROP_REASONS);

/** Decodes as advert and as bye; both must answer a value or a known drop reason. */
function decodesSafely(bytes: Uint8Array): void {
  for (const result of [codec.decodeAdvert(bytes), codec.decodeBye(bytes)]) {
    // plain checks, not expect(): this runs tens of thousands of times
    if ('drop' in result) {
      if (!REASONS.has(result.drop)) throw new Error(`unknown drop reason ${result.drop}`);
    } else if (result.ok.meshId !== MESH_ID) throw new Error(`accepted mesh ${result.ok.meshId}`);
  }
}

const validAdvert = advert({ id: 'node-a', seq: 7 });
const validBytes = encodeAdvert(validAdvert, SECRET);

describe('fuzz: advert and bye decoding', () => {
  it('arbitrary bytes: a drop reason, never a throw', () => {
    fc.assert(fc.property(smallBytes, decodesSafely), runs());
  });

  it('arbitrary JSON, bare or in an envelope with any mac', () => {
    const envelope = fc.oneof(
      smallJson,
      fc.record({
        advert: smallJson,
        mac: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{64}$/)),
      }),
      fc.record({ bye: smallJson, mac: fc.string() }),
    );
    fc.assert(
      fc.property(envelope, (value) => decodesSafely(utf8(JSON.stringify(value)))),
      runs(),
    );
  });

  it('mutations of a valid signed advert: dropped unless still valid', () => {
    fc.assert(
      fc.property(mutated(validBytes), (bytes) => {
        const result = codec.decodeAdvert(bytes);
        if ('ok' in result) expect(NodeAdvertSchema.safeParse(result.ok).success).toBe(true);
        else expect(REASONS.has(result.drop)).toBe(true);
        codec.decodeBye(bytes);
      }),
      runs(),
    );
  });

  it('validly signed bodies with arbitrary fields: the schema decides, never a throw', () => {
    const body = fc.record(
      {
        v: fc.oneof(fc.constant(PROTOCOL_VERSION), smallJson),
        meshId: fc.oneof(fc.constant(MESH_ID), smallJson),
        id: fc.oneof(fc.constant('node-b'), smallJson),
        seq: fc.oneof(fc.nat(), smallJson),
        addresses: fc.oneof(fc.array(fc.string(), { maxLength: 20 }), smallJson),
        ports: smallJson,
        capabilities: fc.oneof(fc.constant(validAdvert.capabilities), smallJson),
        load: fc.oneof(fc.constant(validAdvert.load), smallJson),
        extra: smallJson,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(body, (b) => {
        const signed = encodeAdvert({ ...validAdvert, ...b } as never, SECRET);
        const result = codec.decodeAdvert(signed);
        if ('ok' in result) expect(result.ok.meshId).toBe(MESH_ID);
        else expect(['schema', 'wrong-mesh', 'malformed', 'oversized']).toContain(result.drop);
      }),
      runs(),
    );
  });

  it('deeply nested JSON (signed or not) is dropped, not a stack overflow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30_000 }), fc.boolean(), (depth, sign) => {
        const body = { ...validAdvert, extra: JSON.parse(nested(depth)) as unknown };
        const bytes = sign
          ? utf8(`{"advert":{"x":${nested(depth)}},"mac":"${'0'.repeat(64)}"}`)
          : depth < 2000
            ? encodeAdvert(body as never, SECRET)
            : utf8(`{"advert":${nested(depth, '{"a":', '}', '1')},"mac":"00"}`);
        decodesSafely(bytes);
      }),
      runs(200),
    );
  });
});
