import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveKey } from '../../node/identity/index.js';
import { SettingsCodec, type SettingsMessage } from '../../node/settings/index.js';

const SECRET = randomBytes(32);
const MESH = 'mesh-1';
const enc = new TextEncoder();

const delta: SettingsMessage = {
  v: 1,
  meshId: MESH,
  from: 'node-a',
  kind: 'delta',
  entries: [{ key: 'lights.backend', value: 'both', hlc: { wall: 1, logical: 0, node: 'node-a' } }],
};

/** `<mac>\n<body>` signed with the given key, as a peer (or an attacker) would build it. */
function signed(body: unknown, key: Uint8Array = deriveKey(SECRET, 'settings')): Uint8Array {
  const json = JSON.stringify(body);
  const mac = createHmac('sha256', key).update(json).digest('hex');
  return enc.encode(`${mac}\n${json}`);
}

describe('settings codec', () => {
  it('round-trips a signed message', () => {
    const codec = new SettingsCodec({ meshId: MESH, secret: SECRET });
    expect(codec.decode(codec.encode(delta), 'delta')).toEqual({ ok: delta });
    expect(Object.values(codec.drops()).every((n) => n === 0)).toBe(true);
  });

  const cases: {
    name: string;
    bytes: () => Uint8Array;
    reason: string;
    kind?: 'delta' | 'digest';
  }[] = [
    {
      name: 'unsigned (a bare body)',
      bytes: () => enc.encode(JSON.stringify(delta)),
      reason: 'unsigned',
    },
    {
      name: 'signed with another secret',
      bytes: () => signed(delta, deriveKey(randomBytes(32), 'settings')),
      reason: 'forged',
    },
    {
      name: "signed with the mesh's advert key instead of the settings key",
      bytes: () => signed(delta, deriveKey(SECRET, 'advert')),
      reason: 'forged',
    },
    {
      name: 'body changed after signing',
      bytes: () => {
        const b = signed(delta);
        const s = new TextDecoder().decode(b).replace('"both"', '"zigbee2mqtt"');
        return enc.encode(s);
      },
      reason: 'forged',
    },
    {
      name: 'a mac of the wrong length',
      bytes: () => enc.encode(`abc\n${JSON.stringify(delta)}`),
      reason: 'malformed',
    },
    {
      name: 'not JSON',
      bytes: () => enc.encode(`${'0'.repeat(64)}\nnot json`),
      reason: 'malformed',
    },
    { name: 'not UTF-8', bytes: () => new Uint8Array([0xff, 0xfe, 0x7b]), reason: 'malformed' },
    { name: 'too large', bytes: () => new Uint8Array(1000 * 1024), reason: 'oversized' },
    {
      name: 'from another mesh',
      bytes: () => signed({ ...delta, meshId: 'other' }),
      reason: 'wrong-mesh',
    },
    {
      name: 'signed but not the schema',
      bytes: () => signed({ ...delta, entries: 'x' }),
      reason: 'schema',
    },
    {
      name: 'a delta replayed on the digest subject',
      bytes: () => signed(delta),
      reason: 'wrong-subject',
      kind: 'digest',
    },
  ];
  for (const c of cases) {
    it(`drops and counts a message ${c.name} as ${c.reason}`, () => {
      const codec = new SettingsCodec({ meshId: MESH, secret: SECRET });
      expect(codec.decode(c.bytes(), c.kind ?? 'delta')).toMatchObject({ drop: c.reason });
      const drops = codec.drops();
      expect(drops[c.reason as keyof typeof drops]).toBe(1);
      expect(Object.values(drops).reduce((a, b) => a + b, 0)).toBe(1);
    });
  }

  it('splits a large state into messages within the limit, every write in exactly one', () => {
    const codec = new SettingsCodec({ meshId: MESH, secret: SECRET, maxBytes: 4096 });
    const entries = Array.from({ length: 300 }, (_, i) => ({
      key: `rooms.room-${i}`,
      value: { lights: [`light_${i}_a`, `light_${i}_b`] },
      hlc: { wall: i, logical: 0, node: 'node-a' },
    }));
    const { messages, tooLarge } = codec.encodeChunks(entries, (es, part, parts) => ({
      v: 1,
      meshId: MESH,
      from: 'node-a',
      kind: 'state',
      to: 'node-b',
      part,
      parts,
      entries: es,
    }));
    expect(tooLarge).toEqual([]);
    expect(messages.length).toBeGreaterThan(5);
    const seen: string[] = [];
    for (const m of messages) {
      expect(m.byteLength).toBeLessThanOrEqual(4096);
      const d = codec.decode(m, 'state');
      if (!('ok' in d) || d.ok.kind !== 'state') throw new Error(`dropped: ${JSON.stringify(d)}`);
      expect(d.ok.parts).toBe(messages.length);
      seen.push(...d.ok.entries.map((e) => e.key));
    }
    expect(seen).toEqual(entries.map((e) => e.key));
  });
});
