/**
 * The one wire form of the voice messages nodes sign for each other (heard.ts announcements,
 * context.ts conversation contexts): `<mac>\n<body>`, body UTF-8 JSON carrying `meshId`, mac =
 * hex HMAC-SHA256(deriveKey(meshSecret, 'voice'), body bytes); its own key purpose, so a voice
 * message's mac never passes as an advert's or a setting's. Each message kind has its own strict
 * schema with a `kind` literal, so one kind never passes as another.
 *
 * Opening never throws: a rejected message is a drop reason, checked in this order: oversized →
 * malformed → wrong-mesh → forged → schema.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import type { Bus, Subscription } from '../bus/index.js';
import { deriveKey } from '../identity/index.js';
import { silentLogger, type Logger } from '../log.js';

export type SignedDropReason = 'oversized' | 'malformed' | 'wrong-mesh' | 'forged' | 'schema';

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Seals and opens voice messages with the mesh's voice key. */
export class SignedVoiceCodec {
  readonly #key: Buffer;
  readonly meshId: string;

  constructor(
    options: { meshId: string; secret: Uint8Array },
    private readonly maxBytes: number,
  ) {
    this.#key = deriveKey(options.secret, 'voice');
    this.meshId = options.meshId;
  }

  /** `body` carries this mesh's id (the caller builds it with `meshId`). */
  seal(body: object): Uint8Array {
    const json = JSON.stringify(body);
    return encoder.encode(`${this.mac(encoder.encode(json)).toString('hex')}\n${json}`);
  }

  open<T extends { meshId: string }>(
    bytes: Uint8Array,
    schema: z.ZodType<T>,
  ): { ok: T } | { drop: SignedDropReason } {
    if (bytes.byteLength > this.maxBytes) return { drop: 'oversized' };
    const nl = bytes.indexOf(0x0a);
    if (nl !== 64) return { drop: 'malformed' };
    const macHex = new TextDecoder().decode(bytes.subarray(0, nl));
    const json = bytes.subarray(nl + 1);
    let body: unknown;
    try {
      body = JSON.parse(strictUtf8.decode(json));
    } catch {
      return { drop: 'malformed' };
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      return { drop: 'malformed' };
    const mesh = (body as Record<string, unknown>).meshId;
    if (typeof mesh === 'string' && mesh !== this.meshId) return { drop: 'wrong-mesh' };
    const given = /^[0-9a-f]{64}$/i.test(macHex) ? Buffer.from(macHex, 'hex') : null;
    if (!given || !timingSafeEqual(given, this.mac(json))) return { drop: 'forged' };
    const parsed = schema.safeParse(body);
    if (!parsed.success || parsed.data.meshId !== this.meshId) return { drop: 'schema' };
    return { ok: parsed.data };
  }

  private mac(bytes: Uint8Array): Buffer {
    return createHmac('sha256', this.#key).update(bytes).digest();
  }
}

/** A voice message kind's codec: what signed.ts's channel sends and receives. */
export interface VoiceMessageCodec<T extends { node: string }> {
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): { ok: T } | { drop: SignedDropReason };
}

/**
 * Publish and subscribe one kind of voice message on its bus subject: sending never throws (a
 * voice message must not fail a command), drops are logged at debug, and a node's own messages
 * are not handed back to it.
 */
export function busVoiceChannel<T extends { node: string }>(
  bus: Bus,
  subject: string,
  codec: VoiceMessageCodec<T>,
  opts: { selfId: string; logger?: Logger; what: string },
): { publish(message: T): void; subscribe(listener: (message: T) => void): () => void } {
  const log = opts.logger ?? silentLogger;
  return {
    publish(message) {
      try {
        bus.publish(subject, codec.encode(message));
      } catch (err) {
        log.debug({ err: String(err) }, `could not send ${opts.what}`);
      }
    },
    subscribe(listener) {
      const sub: Subscription = bus.subscribe(subject, (msg) => {
        const d = codec.decode(msg.data);
        if ('drop' in d) {
          log.debug({ reason: d.drop }, `dropped ${opts.what}`);
          return;
        }
        if (d.ok.node === opts.selfId) return;
        listener(d.ok);
      });
      return () => sub.unsubscribe();
    },
  };
}
