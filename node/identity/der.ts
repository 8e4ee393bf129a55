/**
 * DER (ITU-T X.690) for the mesh's few fixed X.509 shapes (node/identity/x509.ts): a writer for
 * what this node makes and a strict reader for what a peer sends (a joiner's CSR).
 *
 * The reader takes DER and nothing looser: one-byte tags only, definite minimal lengths, every
 * length inside its parent, minimal integers and OIDs, a boolean as 00 or FF, BIT STRINGs of
 * whole bytes (keys and signatures). Anything else throws DerError. Every read moves forward by at least the two
 * bytes of a tag and a length, so no input makes it loop.
 */
import { InputError } from '../errors.js';

/** Universal tags this code writes or reads (X.690 8.x; X.680 8.4). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** A context-specific tag [n]: primitive (IMPLICIT over a string) or constructed. */
export const contextTag = (n: number, constructed: boolean) => (constructed ? 0xa0 : 0x80) | n;

/** Bytes that are not the DER this code expects. */
export class DerError extends InputError {}

// --- writer ---------------------------------------------------------------------------------

/** One TLV: `tag`, the definite minimal length, then `content` concatenated. */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const sequence = (...items: Uint8Array[]) => tlv(Tag.SEQUENCE, ...items);

/** SET OF: DER orders the elements by their encodings (X.690 11.6). */
export const setOf = (...items: Uint8Array[]) =>
  tlv(Tag.SET, ...[...items].sort((a, b) => Buffer.compare(a, b)));

/** A non-negative INTEGER from its big-endian magnitude. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = Buffer.from(magnitude.subarray(start));
  if (bytes.length === 0) return tlv(Tag.INTEGER, Buffer.from([0]));
  return tlv(
    Tag.INTEGER,
    (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes,
  );
}

/** A small non-negative INTEGER (a version, a path length). */
export const smallInteger = (n: number) =>
  unsignedInteger(Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]));

export const boolean = (value: boolean) => tlv(Tag.BOOLEAN, Buffer.from([value ? 0xff : 0]));

export const octetString = (bytes: Uint8Array) => tlv(Tag.OCTET_STRING, bytes);

/** A BIT STRING of whole bytes, or with `unusedBits` (all zero) at the end of the last one. */
export const bitString = (bytes: Uint8Array, unusedBits = 0) =>
  tlv(Tag.BIT_STRING, Buffer.from([unusedBits]), bytes);

/** An OBJECT IDENTIFIER from its dotted form ("2.5.29.19"). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [first = 0n, second = 0n, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const groups = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(Tag.OID, Buffer.from(out));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A directory string: PrintableString when the text allows it, else UTF8String. */
export const directoryString = (text: string) =>
  tlv(PRINTABLE.test(text) ? Tag.PRINTABLE_STRING : Tag.UTF8_STRING, Buffer.from(text, 'utf8'));

/** RFC 5280 4.1.2.5: UTCTime for 1950-2049, GeneralizedTime otherwise; whole seconds, Z. */
export function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const two = (n: number) => String(n).padStart(2, '0');
  const rest =
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds()) +
    'Z';
  if (year >= 1950 && year <= 2049)
    return tlv(Tag.UTC_TIME, Buffer.from(two(year % 100) + rest, 'latin1'));
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(String(year).padStart(4, '0') + rest, 'latin1'));
}

/** PEM as @peculiar/x509 wrote it (64-character lines, no newline at the end): CA files match. */
export function pem(label: string, der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`].join('\n');
}

// --- reader ---------------------------------------------------------------------------------

/** One element read: its tag, its content, and its whole encoding (what a signature covers). */
export interface Element {
  tag: number;
  content: Buffer;
  raw: Buffer;
  /** where it starts in the outermost input, for error messages */
  offset: number;
}

/** Reads the elements of one constructed value (or of a whole input) in order. */
export class DerReader {
  private pos = 0;

  private constructor(
    private readonly bytes: Buffer,
    /** where `bytes` starts in the outermost input */
    private readonly base: number,
  ) {}

  /** The single element that `bytes` must hold, nothing before or after it. */
  static one(bytes: Uint8Array, what: string): Element {
    const reader = new DerReader(Buffer.from(bytes), 0);
    const element = reader.next(what);
    reader.end(what);
    return element;
  }

  /** A reader over the content of the single element with `tag` that `bytes` must hold. */
  static whole(bytes: Uint8Array, tag: number, what: string): DerReader {
    const element = DerReader.one(bytes, what);
    if (element.tag !== tag)
      failAt(element, `${what}: tag 0x${hex(element.tag)} where 0x${hex(tag)} belongs`);
    return DerReader.inside(element);
  }

  /** A reader over the content of `element` (a SEQUENCE, SET or explicit tag). */
  static inside(element: Element): DerReader {
    return new DerReader(
      element.content,
      element.offset + element.raw.length - element.content.length,
    );
  }

  get atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** The next element's tag, without reading it; undefined at the end. */
  peekTag(): number | undefined {
    return this.bytes[this.pos];
  }

  /** The next element, whatever its tag. */
  next(what: string): Element {
    const start = this.pos;
    const tag = this.byte(what);
    // tag number 31 announces a multi-byte tag: none of the shapes read here has one
    if ((tag & 0x1f) === 0x1f) this.fail(start, `${what}: a multi-byte tag`);
    const first = this.byte(what);
    let length = first;
    if (first === 0x80) this.fail(start, `${what}: an indefinite length (BER, not DER)`);
    if (first > 0x80) {
      const count = first & 0x7f;
      if (count > 4) this.fail(start, `${what}: a length of ${count} bytes`);
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + this.byte(what);
      if (length < 0x80 || length < 256 ** (count - 1))
        this.fail(start, `${what}: a length not in its shortest form`);
    }
    const left = this.bytes.length - this.pos;
    if (length > left) this.fail(start, `${what}: a length of ${length} with ${left} bytes left`);
    const content = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return {
      tag,
      content,
      raw: this.bytes.subarray(start, this.pos),
      offset: this.base + start,
    };
  }

  /** The next element, which must have `tag`. */
  read(tag: number, what: string): Element {
    const element = this.next(what);
    if (element.tag !== tag)
      failAt(element, `${what}: tag 0x${hex(element.tag)} where 0x${hex(tag)} belongs`);
    return element;
  }

  /** The next element when it has `tag`, else null (nothing read). */
  optional(tag: number, what: string): Element | null {
    return this.peekTag() === tag ? this.read(tag, what) : null;
  }

  /** A reader over the next element, a SEQUENCE. */
  sequence(what: string): DerReader {
    return DerReader.inside(this.read(Tag.SEQUENCE, what));
  }

  /** An INTEGER's content, checked minimal (X.690 8.3.2). */
  integer(what: string): Buffer {
    const element = this.read(Tag.INTEGER, what);
    const [a, b] = element.content;
    if (a === undefined) failAt(element, `${what}: an empty INTEGER`);
    if (b !== undefined && ((a === 0 && b < 0x80) || (a === 0xff && b >= 0x80)))
      failAt(element, `${what}: an INTEGER not in its shortest form`);
    return element.content;
  }

  /** An OBJECT IDENTIFIER, dotted. */
  oid(what: string): string {
    const element = this.read(Tag.OID, what);
    const { content } = element;
    if (content.length === 0 || (content[content.length - 1] ?? 0) & 0x80)
      failAt(element, `${what}: an OBJECT IDENTIFIER cut short`);
    const arcs: bigint[] = [];
    let value = 0n;
    let fresh = true;
    for (const byte of content) {
      // a leading 0x80 pads a subidentifier: not minimal (X.690 8.19.2)
      if (fresh && byte === 0x80) failAt(element, `${what}: an OBJECT IDENTIFIER not minimal`);
      value = (value << 7n) | BigInt(byte & 0x7f);
      fresh = (byte & 0x80) === 0;
      if (fresh) {
        arcs.push(value);
        value = 0n;
      }
    }
    const [head = 0n, ...tail] = arcs;
    const first = head < 80n ? head / 40n : 2n;
    return [first, head - first * 40n, ...tail].join('.');
  }

  /** A BIT STRING's bytes: whole bytes only (keys, signatures), so no unused bits. */
  bitString(what: string): Buffer {
    const element = this.read(Tag.BIT_STRING, what);
    if (element.content.length === 0)
      failAt(element, `${what}: a BIT STRING without its count of unused bits`);
    if (element.content[0] !== 0) failAt(element, `${what}: a BIT STRING of partial bytes`);
    return element.content.subarray(1);
  }

  octetString(what: string): Buffer {
    return this.read(Tag.OCTET_STRING, what).content;
  }

  boolean(what: string): boolean {
    const { content, ...element } = this.read(Tag.BOOLEAN, what);
    if (content.length !== 1 || (content[0] !== 0 && content[0] !== 0xff))
      failAt(element, `${what}: a BOOLEAN that is not 00 or FF`);
    return content[0] === 0xff;
  }

  /** Throws unless every byte was read. */
  end(what: string): void {
    if (!this.atEnd)
      this.fail(this.pos, `${what}: ${this.bytes.length - this.pos} bytes after its end`);
  }

  private byte(what: string): number {
    const b = this.bytes[this.pos];
    if (b === undefined) this.fail(this.pos, `${what}: cut short`);
    this.pos++;
    return b;
  }

  /** `at`: a position in this reader's bytes */
  private fail(at: number, message: string): never {
    throw new DerError(`malformed DER at byte ${this.base + at}: ${message}`);
  }
}

function failAt(element: { offset: number }, message: string): never {
  throw new DerError(`malformed DER at byte ${element.offset}: ${message}`);
}

const hex = (n: number) => n.toString(16).padStart(2, '0');
