/**
 * Settings messages on the wire: `<mac>\n<body>`, where body is UTF-8 JSON and
 * mac = hex HMAC-SHA256(deriveKey(meshSecret, 'settings'), body bytes).
 *
 * The mac covers the very bytes that travel, so no canonical form of the JSON is needed (the
 * advert codec signs canonical JSON because its mac sits inside the JSON it signs). The key is
 * its own purpose of the mesh secret, so a settings mac can never pass as an advert's.
 * The body names its kind (delta, digest, state), and a body on another kind's subject is
 * dropped, so a signed message cannot be replayed as another kind.
 *
 * Decoding never throws: a rejected message comes back as a drop reason, in the order the checks
 * run: oversized → malformed → unsigned → wrong-mesh → forged → schema → wrong-subject.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { deriveKey } from '../identity/index.js';
import { jsonTooDeep } from '../types.js';
import { digestLines, type JsonValue, type SettingEntry } from './merge.js';
import { lazySchema } from '../types.js';

export const SETTINGS_PROTOCOL_VERSION = 1;

export const DROP_REASONS = [
  'oversized',
  'malformed',
  'unsigned',
  'wrong-mesh',
  'forged',
  'schema',
  /** a signed body whose kind differs from its subject's */
  'wrong-subject',
  /** one write in a valid message: its key is malformed (counted per write) */
  'invalid-entry',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const DEFAULT_MAX_MESSAGE_BYTES = 896 * 1024;

const HlcSchema = lazySchema(() =>
  z.strictObject({
    wall: z.number().int().nonnegative(),
    logical: z.number().int().nonnegative(),
    node: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
  }),
);

const JsonValueSchema: z.ZodType<JsonValue> = lazySchema(() => z.json());

const EntrySchema = lazySchema(() =>
  z.union([
    z.strictObject({ key: z.string().min(1).max(256), hlc: HlcSchema, value: JsonValueSchema }),
    z.strictObject({ key: z.string().min(1).max(256), hlc: HlcSchema, deleted: z.literal(true) }),
  ]),
);

const common = {
  v: z.literal(SETTINGS_PROTOCOL_VERSION),
  meshId: z.string().min(1),
  from: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/),
};

const BodySchema = lazySchema(() =>
  z.discriminatedUnion('kind', [
    /** writes a node just made (or merged from a peer and is passing on): merge them */
    z.strictObject({ ...common, kind: z.literal('delta'), entries: z.array(EntrySchema) }),
    /** "this is what I hold": a peer holding something else answers with its state */
    z.strictObject({
      ...common,
      kind: z.literal('digest'),
      digest: z.string().regex(/^[0-9a-f]{1,64}$/),
      count: z.number().int().nonnegative(),
    }),
    /** one chunk of a full state, sent to one node */
    z.strictObject({
      ...common,
      kind: z.literal('state'),
      to: z.string(),
      part: z.number().int().nonnegative(),
      parts: z.number().int().positive(),
      entries: z.array(EntrySchema),
    }),
  ]),
);

export type SettingsMessage = z.infer<typeof BodySchema>;
export type MessageKind = SettingsMessage['kind'];
/** A drop carries the sender the body claims, when it could be read (for the log line only). */
export type Decoded = { ok: SettingsMessage } | { drop: DropReason; claimedFrom?: string };

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const NEWLINE = 0x0a;
const MAC_HEX_LENGTH = 64;

/** A short digest of a state: equal digests, equal states (see digestLines). */
export function stateDigest(state: ReadonlyMap<string, SettingEntry>): string {
  return createHash('sha256').update(digestLines(state).join('\n')).digest('hex').slice(0, 32);
}

export interface SettingsCodecOptions {
  meshId: string;
  secret: Uint8Array;
  /** default 896 KiB (nats-server's max_payload is 1 MiB) */
  maxBytes?: number;
}

/** Signs and checks settings messages with the mesh's settings key, counting drops by reason. */
export class SettingsCodec {
  #key: Buffer;
  readonly #meshId: string;
  readonly maxBytes: number;
  readonly #drops = emptyDrops();

  constructor(options: SettingsCodecOptions) {
    this.#key = deriveKey(options.secret, 'settings');
    this.#meshId = options.meshId;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  get meshId(): string {
    return this.#meshId;
  }

  /** Sign and check with a new mesh secret from now on (a key rotation, node/removal). */
  setSecret(secret: Uint8Array): void {
    this.#key = deriveKey(secret, 'settings');
  }

  encode(body: SettingsMessage): Uint8Array {
    const json = encoder.encode(JSON.stringify(body));
    const mac = encoder.encode(createHmac('sha256', this.#key).update(json).digest('hex'));
    const out = new Uint8Array(mac.byteLength + 1 + json.byteLength);
    out.set(mac, 0);
    out[mac.byteLength] = NEWLINE;
    out.set(json, mac.byteLength + 1);
    return out;
  }

  /**
   * Messages of `kind` carrying `entries`, each within maxBytes. A write that alone exceeds the
   * limit is left out and returned in `tooLarge` (set() refuses such values, so only a peer's
   * oversized write from a newer version could get here).
   */
  encodeChunks(
    entries: readonly SettingEntry[],
    make: (entries: SettingEntry[], part: number, parts: number) => SettingsMessage,
  ): { messages: Uint8Array[]; tooLarge: SettingEntry[] } {
    const overhead = this.encode(make([], 0, 1)).byteLength + 64; // room for part numbers
    const budget = this.maxBytes - overhead;
    const groups: SettingEntry[][] = [];
    const tooLarge: SettingEntry[] = [];
    let group: SettingEntry[] = [];
    let size = 0;
    for (const e of entries) {
      const bytes = encoder.encode(JSON.stringify(e)).byteLength + 1;
      if (bytes > budget) {
        tooLarge.push(e);
        continue;
      }
      if (size + bytes > budget && group.length > 0) {
        groups.push(group);
        group = [];
        size = 0;
      }
      group.push(e);
      size += bytes;
    }
    if (group.length > 0 || groups.length === 0) groups.push(group);
    const messages = groups.map((g, i) => this.encode(make(g, i, groups.length)));
    return { messages, tooLarge };
  }

  /** Check and parse one message received on a subject of `kind`; counts the drop if any. */
  decode(bytes: Uint8Array, kind: MessageKind): Decoded {
    const result = this.#decode(bytes, kind);
    if ('drop' in result) this.#drops[result.drop] += 1;
    return result;
  }

  #decode(bytes: Uint8Array, kind: MessageKind): Decoded {
    if (bytes.byteLength > this.maxBytes) return { drop: 'oversized' };
    const newline = bytes.indexOf(NEWLINE);
    const macPart = newline === MAC_HEX_LENGTH ? bytes.subarray(0, newline) : null;
    const bodyBytes = macPart ? bytes.subarray(newline + 1) : bytes;
    let body: unknown;
    try {
      body = JSON.parse(strictUtf8.decode(bodyBytes));
    } catch {
      return { drop: 'malformed' };
    }
    // Too deep for the schema (zod recurses) and for JSON.stringify later: a RangeError otherwise.
    if (body === null || typeof body !== 'object' || Array.isArray(body) || jsonTooDeep(body)) {
      return { drop: 'malformed' };
    }
    const from = (body as Record<string, unknown>).from;
    const claimed = typeof from === 'string' ? { claimedFrom: from.slice(0, 128) } : {};
    if (!macPart) return { drop: 'unsigned', ...claimed };
    // A node of another mesh signs with another secret: say so rather than "forged".
    const claimedMesh = (body as Record<string, unknown>).meshId;
    if (typeof claimedMesh === 'string' && claimedMesh !== this.#meshId) {
      return { drop: 'wrong-mesh', ...claimed };
    }
    const macHex = Buffer.from(macPart).toString('latin1');
    const given = /^[0-9a-f]{64}$/.test(macHex) ? Buffer.from(macHex, 'hex') : null;
    const expected = createHmac('sha256', this.#key).update(bodyBytes).digest();
    if (!given || !timingSafeEqual(given, expected)) return { drop: 'forged', ...claimed };
    const parsed = BodySchema.safeParse(body);
    if (!parsed.success) return { drop: 'schema', ...claimed };
    if (parsed.data.meshId !== this.#meshId) return { drop: 'wrong-mesh' };
    if (parsed.data.kind !== kind) return { drop: 'wrong-subject' };
    return { ok: parsed.data };
  }

  /** Count a drop found outside the codec (a write refused by the schema). */
  countDrop(reason: DropReason, n = 1): void {
    this.#drops[reason] += n;
  }

  /** Drops so far, by reason (a copy; every reason present). */
  drops(): Record<DropReason, number> {
    return { ...this.#drops };
  }
}

export function emptyDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}
