import { describe, expect, it } from 'vitest';
import {
  AdvertCodec,
  DEFAULT_MAX_MESSAGE_BYTES,
  canonicalJson,
  decodeAdvert,
  decodeBye,
  encodeAdvert,
  encodeBye,
  type DropReason,
} from '../../node/membership/index.js';
import { PROTOCOL_VERSION, type Bye } from '../../node/types.js';
import { MESH_ID, SECRET, advert } from './support/advert.js';

const OTHER_SECRET = new TextEncoder().encode('another mesh entirely, another key');
const utf8 = (s: string) => new TextEncoder().encode(s);
const opts = { meshId: MESH_ID, secret: SECRET };
const bye: Bye = { v: PROTOCOL_VERSION, meshId: MESH_ID, id: 'node-a', at: 1234 };

/** Re-sign a body with the mesh key, as a member (who knows the secret) would. */
function signedAdvertEnvelope(body: Record<string, unknown>): Uint8Array {
  // encodeAdvert signs whatever it is given; the cast lets a test sign an invalid advert.
  return encodeAdvert(body as never, SECRET);
}

interface Envelope {
  advert: Record<string, unknown>;
  mac?: unknown;
}

function tamper(bytes: Uint8Array, change: (envelope: Envelope) => void): Uint8Array {
  const envelope = JSON.parse(new TextDecoder().decode(bytes)) as Envelope;
  change(envelope);
  return utf8(JSON.stringify(envelope));
}

const valid = () => encodeAdvert(advert({ id: 'node-a', seq: 7 }), SECRET);

const advertDrops: {
  name: string;
  bytes: () => Uint8Array;
  drop: DropReason;
  maxBytes?: number;
}[] = [
  { name: 'invalid JSON', bytes: () => utf8('{"advert": {'), drop: 'malformed' },
  {
    name: 'bytes that are not UTF-8',
    bytes: () => new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    drop: 'malformed',
  },
  { name: 'an empty message', bytes: () => new Uint8Array(), drop: 'malformed' },
  { name: 'a JSON array', bytes: () => utf8('[1,2,3]'), drop: 'malformed' },
  { name: 'JSON null', bytes: () => utf8('null'), drop: 'malformed' },
  {
    name: 'an envelope without a mac',
    bytes: () => tamper(valid(), (e) => delete e.mac),
    drop: 'malformed',
  },
  { name: 'an envelope without an advert', bytes: () => utf8('{"mac":"00"}'), drop: 'malformed' },
  { name: 'a bye where an advert belongs', bytes: () => encodeBye(bye, SECRET), drop: 'malformed' },
  {
    name: 'an advert signed with another secret (forged)',
    bytes: () => encodeAdvert(advert({ id: 'node-a' }), OTHER_SECRET),
    drop: 'forged',
  },
  {
    name: 'an advert changed after signing',
    bytes: () => tamper(valid(), (e) => (e.advert.name = 'evil')),
    drop: 'forged',
  },
  {
    name: 'a mac that is not hex',
    bytes: () => tamper(valid(), (e) => (e.mac = 'zz'.repeat(32))),
    drop: 'forged',
  },
  {
    name: 'a truncated mac',
    bytes: () => tamper(valid(), (e) => (e.mac = String(e.mac).slice(0, 40))),
    drop: 'forged',
  },
  {
    name: 'an advert of another mesh',
    bytes: () => encodeAdvert(advert({ id: 'node-a', meshId: 'mesh-other' }), OTHER_SECRET),
    drop: 'wrong-mesh',
  },
  {
    name: 'an advert relabelled with this mesh id but signed by another mesh',
    bytes: () =>
      tamper(encodeAdvert(advert({ id: 'node-a', meshId: 'mesh-other' }), OTHER_SECRET), (e) => {
        e.advert.meshId = MESH_ID;
      }),
    drop: 'forged',
  },
  {
    name: 'a signed advert missing a required field',
    bytes: () => {
      const { capabilities: _c, ...body } = advert({ id: 'node-a' });
      return signedAdvertEnvelope(body);
    },
    drop: 'schema',
  },
  {
    name: 'a signed advert with a field of the wrong type',
    bytes: () => signedAdvertEnvelope({ ...advert({ id: 'node-a' }), seq: 'seven' }),
    drop: 'schema',
  },
  {
    name: 'a signed advert of a future protocol version',
    bytes: () => signedAdvertEnvelope({ ...advert({ id: 'node-a' }), v: PROTOCOL_VERSION + 1 }),
    drop: 'schema',
  },
  {
    name: 'a signed advert without a mesh id',
    bytes: () => {
      const { meshId: _m, ...body } = advert({ id: 'node-a' });
      return signedAdvertEnvelope(body);
    },
    drop: 'schema',
  },
  {
    name: 'a message over 64 KiB',
    bytes: () => utf8(`{"advert":{},"mac":"${'0'.repeat(DEFAULT_MAX_MESSAGE_BYTES)}"}`),
    drop: 'oversized',
  },
  {
    name: 'a valid advert over a lowered size limit',
    bytes: () => valid(),
    drop: 'oversized',
    maxBytes: 100,
  },
];

describe('advert codec', () => {
  it('round-trips an advert', () => {
    const a = advert({ id: 'node-a', seq: 7 });
    expect(decodeAdvert(encodeAdvert(a, SECRET), opts)).toEqual({ ok: a });
  });

  it('round-trips a bye', () => {
    expect(decodeBye(encodeBye(bye, SECRET), opts)).toEqual({ ok: bye });
  });

  it('accepts an advert whose keys arrive in another order', () => {
    const reordered = tamper(valid(), (e) => {
      e.advert = Object.fromEntries(Object.entries(e.advert).reverse());
    });
    expect(decodeAdvert(reordered, opts)).toMatchObject({ ok: { id: 'node-a', seq: 7 } });
  });

  it('accepts an advert exactly at the size limit', () => {
    const bytes = valid();
    expect(decodeAdvert(bytes, { ...opts, maxBytes: bytes.byteLength })).toHaveProperty('ok');
  });

  it.each(advertDrops)('drops $name as $drop', ({ bytes, drop, maxBytes }) => {
    expect(decodeAdvert(bytes(), { ...opts, maxBytes })).toEqual({ drop });
  });

  it.each([
    { name: 'an advert where a bye belongs', bytes: () => valid(), drop: 'malformed' },
    { name: 'a forged bye', bytes: () => encodeBye(bye, OTHER_SECRET), drop: 'forged' },
    {
      name: "an advert's mac moved onto a bye",
      bytes: () => {
        const a = advert({ id: 'node-a' });
        const advertMac = (
          JSON.parse(new TextDecoder().decode(encodeAdvert(a, SECRET))) as { mac: string }
        ).mac;
        return utf8(JSON.stringify({ bye: a, mac: advertMac }));
      },
      drop: 'forged',
    },
    {
      name: 'a bye of another mesh',
      bytes: () => encodeBye({ ...bye, meshId: 'mesh-other' }, OTHER_SECRET),
      drop: 'wrong-mesh',
    },
    {
      name: 'a signed bye without a time',
      bytes: () => encodeBye({ v: PROTOCOL_VERSION, meshId: MESH_ID, id: 'node-a' } as Bye, SECRET),
      drop: 'schema',
    },
    {
      name: 'an oversized bye',
      bytes: () => new Uint8Array(DEFAULT_MAX_MESSAGE_BYTES + 1),
      drop: 'oversized',
    },
  ])('drops $name as $drop', ({ bytes, drop }) => {
    expect(decodeBye(bytes(), opts)).toEqual({ drop });
  });

  it('counts every drop by reason and passes good messages through', () => {
    const codec = new AdvertCodec(opts);
    const expected: Record<DropReason, number> = {
      oversized: 0,
      malformed: 0,
      schema: 0,
      forged: 0,
      'wrong-mesh': 0,
      'subject-mismatch': 0,
    };
    expect(codec.drops()).toEqual(expected);
    for (const { bytes, drop, maxBytes } of advertDrops) {
      if (maxBytes !== undefined) continue;
      expect(codec.decodeAdvert(bytes())).toEqual({ drop });
      expected[drop] += 1;
    }
    expect(codec.decodeAdvert(codec.encodeAdvert(advert({ id: 'node-b' })))).toHaveProperty('ok');
    expect(codec.decodeBye(codec.encodeBye(bye))).toEqual({ ok: bye });
    expect(codec.decodeBye(utf8('not json'))).toEqual({ drop: 'malformed' });
    expected.malformed += 1;
    codec.countDrop('subject-mismatch');
    expected['subject-mismatch'] += 1;
    expect(codec.drops()).toEqual(expected);
  });

  it('never throws, whatever bytes arrive', () => {
    const codec = new AdvertCodec(opts);
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const samples = [
      valid(),
      utf8('{"advert":{"meshId":{"toString":1}},"mac":[]}'),
      utf8('{"advert":"x","mac":"y"}'),
    ];
    for (let i = 0; i < 300; i++) {
      const base = samples[i % samples.length] ?? valid();
      const bytes = Uint8Array.from(base, (b) =>
        random() < 0.02 ? Math.floor(random() * 256) : b,
      );
      expect(() =>
        codec.decodeAdvert(bytes.subarray(0, Math.floor(random() * bytes.length) + 1)),
      ).not.toThrow();
      expect(() => codec.decodeBye(bytes)).not.toThrow();
    }
    const total = Object.values(codec.drops()).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
  });

  it('canonical JSON sorts keys at every level and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, e: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });
});
