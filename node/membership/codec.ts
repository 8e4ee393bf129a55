/**
 * Adverts and byes on the wire: a JSON envelope `{ advert, mac }` / `{ bye, mac }` where
 * mac = hex HMAC-SHA256(deriveKey(secret, 'advert'), "<kind>\n" + canonical JSON of the body).
 * The kind prefix keeps an advert's mac from passing as a bye's. Decoding never throws: every
 * rejected message comes back as a drop reason, in the order the checks run:
 * oversized → malformed (not UTF-8 / JSON / an envelope, or nested too deeply) → wrong-mesh → forged → schema.
 * The mesh id is read before the mac so a node of another mesh (another secret) is reported as
 * such rather than as a forgery.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../identity/index.js';
import { ByeSchema, NodeAdvertSchema, jsonTooDeep, type Bye, type NodeAdvert } from '../types.js';

export const DROP_REASONS = [
  'oversized',
  'malformed',
  'schema',
  'forged',
  'wrong-mesh',
  /** a valid message whose node id differs from the id in its subject (counted by the service) */
  'subject-mismatch',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export type Decoded<T> = { ok: T } | { drop: DropReason };

export interface DecodeOptions {
  meshId: string;
  secret: Uint8Array;
  /** default 64 KiB */
  maxBytes?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

type Kind = 'advert' | 'bye';

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** JSON with object keys sorted at every level: the bytes the mac covers. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) sorted[key] = sortKeys(v);
    }
    return sorted;
  }
  return value;
}

function mac(key: Uint8Array, kind: Kind, body: unknown): Buffer {
  return createHmac('sha256', key)
    .update(`${kind}\n${canonicalJson(body)}`)
    .digest();
}

function encode(key: Uint8Array, kind: Kind, body: object): Uint8Array {
  return encoder.encode(
    JSON.stringify({ [kind]: body, mac: mac(key, kind, body).toString('hex') }),
  );
}

function decode<T>(
  bytes: Uint8Array,
  kind: Kind,
  key: Uint8Array,
  meshId: string,
  maxBytes: number,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
): Decoded<T> {
  if (bytes.byteLength > maxBytes) return { drop: 'oversized' };
  let envelope: unknown;
  try {
    envelope = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    return { drop: 'malformed' };
  }
  if (
    envelope === null ||
    typeof envelope !== 'object' ||
    Array.isArray(envelope) ||
    jsonTooDeep(envelope) // canonical JSON of the body would overflow the stack
  ) {
    return { drop: 'malformed' };
  }
  const body = (envelope as Record<string, unknown>)[kind];
  const macHex = (envelope as Record<string, unknown>).mac;
  if (
    body === null ||
    typeof body !== 'object' ||
    Array.isArray(body) ||
    typeof macHex !== 'string'
  ) {
    return { drop: 'malformed' };
  }
  const claimedMesh = (body as Record<string, unknown>).meshId;
  if (typeof claimedMesh === 'string' && claimedMesh !== meshId) return { drop: 'wrong-mesh' };

  const expected = mac(key, kind, body);
  const given = /^[0-9a-f]{64}$/i.test(macHex) ? Buffer.from(macHex, 'hex') : null;
  if (!given || !timingSafeEqual(given, expected)) return { drop: 'forged' };

  const parsed = schema.safeParse(body);
  if (!parsed.success) return { drop: 'schema' };
  // A signed body without a mesh id fails the schema above; this guards a schema change.
  if ((parsed.data as { meshId?: unknown }).meshId !== meshId) return { drop: 'wrong-mesh' };
  return { ok: parsed.data };
}

export function encodeAdvert(advert: NodeAdvert, secret: Uint8Array): Uint8Array {
  return encode(deriveKey(secret, 'advert'), 'advert', advert);
}

export function encodeBye(bye: Bye, secret: Uint8Array): Uint8Array {
  return encode(deriveKey(secret, 'advert'), 'bye', bye);
}

export function decodeAdvert(bytes: Uint8Array, options: DecodeOptions): Decoded<NodeAdvert> {
  const key = deriveKey(options.secret, 'advert');
  return decode(
    bytes,
    'advert',
    key,
    options.meshId,
    options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    NodeAdvertSchema,
  );
}

export function decodeBye(bytes: Uint8Array, options: DecodeOptions): Decoded<Bye> {
  const key = deriveKey(options.secret, 'advert');
  return decode(
    bytes,
    'bye',
    key,
    options.meshId,
    options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    ByeSchema,
  );
}

/**
 * The codec a node uses: derives the key once and counts every drop by reason.
 */
export class AdvertCodec {
  #key: Buffer;
  readonly #meshId: string;
  readonly #maxBytes: number;
  readonly #drops: Record<DropReason, number> = emptyDrops();

  constructor(options: DecodeOptions) {
    this.#key = deriveKey(options.secret, 'advert');
    this.#meshId = options.meshId;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Sign and check with a new mesh secret from now on (a key rotation, node/removal). */
  setSecret(secret: Uint8Array): void {
    this.#key = deriveKey(secret, 'advert');
  }

  encodeAdvert(advert: NodeAdvert): Uint8Array {
    return encode(this.#key, 'advert', advert);
  }

  encodeBye(bye: Bye): Uint8Array {
    return encode(this.#key, 'bye', bye);
  }

  decodeAdvert(bytes: Uint8Array): Decoded<NodeAdvert> {
    return this.#counted(
      decode(bytes, 'advert', this.#key, this.#meshId, this.#maxBytes, NodeAdvertSchema),
    );
  }

  decodeBye(bytes: Uint8Array): Decoded<Bye> {
    return this.#counted(decode(bytes, 'bye', this.#key, this.#meshId, this.#maxBytes, ByeSchema));
  }

  /** Count a drop found outside the codec (e.g. a subject/id mismatch). */
  countDrop(reason: DropReason): void {
    this.#drops[reason] += 1;
  }

  /** Drops so far, by reason (a copy; every reason present). */
  drops(): Record<DropReason, number> {
    return { ...this.#drops };
  }

  #counted<T>(result: Decoded<T>): Decoded<T> {
    if ('drop' in result) this.#drops[result.drop] += 1;
    return result;
  }
}

export function emptyDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}
