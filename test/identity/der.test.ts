import { createPrivateKey, createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DerError,
  DerReader,
  Tag,
  boolean,
  oid,
  sequence,
  setOf,
  time,
  tlv,
  unsignedInteger,
} from '../../node/identity/der.js';
import {
  certificationRequest,
  commonName,
  ipBytes,
  ipText,
  readCertificationRequest,
  subjectAltName,
  verifyRequest,
} from '../../node/identity/x509.js';
import { mutated, runs } from '../fuzz/support.js';

const hex = (h: string) => Buffer.from(h.replace(/ /g, ''), 'hex');
const ed25519Key = (byte: number) =>
  createPrivateKey({
    key: Buffer.concat([hex('302e020100300506032b657004220420'), Buffer.alloc(32, byte)]),
    format: 'der',
    type: 'pkcs8',
  });

describe('DER writer', () => {
  it.each([
    ['2.5.29.19', '06 03 55 1d 13'],
    ['1.3.101.112', '06 03 2b 65 70'],
    ['1.2.840.113549.1.9.14', '06 09 2a 86 48 86 f7 0d 01 09 0e'],
    ['1.3.6.1.5.5.7.3.1', '06 08 2b 06 01 05 05 07 03 01'],
    ['2.999.3', '06 03 88 37 03'],
  ])('writes OID %s as %s, and reads it back', (dotted, der) => {
    expect(oid(dotted).toString('hex')).toBe(hex(der).toString('hex'));
    expect(inside(der).oid('oid')).toBe(dotted);
  });

  it.each([
    [0, '00'],
    [127, '7f'],
    [128, '81 80'],
    [255, '81 ff'],
    [256, '82 01 00'],
    [65_536, '83 01 00 00'],
  ])('writes a length of %i in its shortest form (%s)', (length, encoded) => {
    const der = tlv(Tag.OCTET_STRING, Buffer.alloc(length));
    expect(der.subarray(1, 1 + hex(encoded).length).toString('hex')).toBe(
      hex(encoded).toString('hex'),
    );
    expect(DerReader.one(der, 'octets').content.length).toBe(length);
  });

  it.each([
    ['00', '02 01 00'],
    ['', '02 01 00'],
    ['7f', '02 01 7f'],
    ['80', '02 02 00 80'],
    ['00 00 01', '02 01 01'],
    ['00 ff', '02 02 00 ff'],
  ])('writes the unsigned integer %s minimal and positive (%s)', (magnitude, der) => {
    expect(unsignedInteger(hex(magnitude)).toString('hex')).toBe(hex(der).toString('hex'));
  });

  it.each([
    ['1950-01-01T00:00:00Z', Tag.UTC_TIME, '500101000000Z'],
    ['2049-12-31T23:59:59.999Z', Tag.UTC_TIME, '491231235959Z'],
    ['2050-01-01T00:00:00Z', Tag.GENERALIZED_TIME, '20500101000000Z'],
    ['1949-12-31T23:59:59Z', Tag.GENERALIZED_TIME, '19491231235959Z'],
    ['9999-12-31T23:59:59Z', Tag.GENERALIZED_TIME, '99991231235959Z'],
  ])('writes %s as tag %i %s (RFC 5280 4.1.2.5)', (date, tag, text) => {
    const der = time(new Date(date));
    expect(der[0]).toBe(tag);
    expect(der.subarray(2).toString('latin1')).toBe(text);
  });

  it('orders a SET OF by its elements encodings', () => {
    expect(setOf(hex('04 01 02'), hex('02 01 05')).toString('hex')).toBe('3106020105040102');
  });

  it.each([
    ['127.0.0.1', '7f000001', '127.0.0.1'],
    ['100.64.0.5', '64400005', '100.64.0.5'],
    ['fd7a:115c:a1e0::1', 'fd7a115ca1e000000000000000000001', 'fd7a:115c:a1e0::1'],
    ['::1', '00000000000000000000000000000001', '::1'],
    ['::', '00000000000000000000000000000000', '::'],
    ['1:0:0:2:0:0:0:3', '00010000000000020000000000000003', '1:0:0:2::3'],
    ['1:0:2:3:4:5:6:7', '00010000000200030004000500060007', '1:0:2:3:4:5:6:7'],
    ['::ffff:10.0.0.1', '00000000000000000000ffff0a000001', '::ffff:a00:1'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001', 'fe80::1'],
  ])('writes address %s as %s and reads it back as %s', (text, bytes, back) => {
    expect(ipBytes(text).toString('hex')).toBe(bytes);
    expect(ipText(hex(bytes))).toBe(back);
  });
});

/** A reader over `bytes`, as if they were a SEQUENCE's content. */
const inside = (bytes: string) => DerReader.whole(sequence(hex(bytes)), Tag.SEQUENCE, 'test');

describe('DER reader', () => {
  it.each([
    ['an empty input', '', /cut short/],
    ['a tag alone', '30', /cut short/],
    ['a length past the end', '04 05 01 02', /a length of 5 with 2 bytes left/],
    ['a long length past the end', '04 82 ff ff 00', /a length of 65535 with 1 bytes left/],
    ['an indefinite length', '30 80 00 00', /indefinite length/],
    ['a long form for a short length', '04 81 05 01 02 03 04 05', /shortest form/],
    ['a long form with a leading zero', '04 82 00 81' + ' 00'.repeat(0x81), /shortest form/],
    ['a five-byte length', '04 85 00 00 00 00 01 00', /a length of 5 bytes/],
    ['a length cut short', '04 82 01', /cut short/],
    ['a multi-byte tag', '1f 81 00 00', /multi-byte tag/],
    ['bytes after the element', '05 00 00', /1 bytes after its end/],
  ])('refuses %s', (_what, bytes, message) => {
    expect(() => DerReader.one(hex(bytes), 'input')).toThrow(DerError);
    expect(() => DerReader.one(hex(bytes), 'input')).toThrow(message);
  });

  it('refuses an element inside its parent whose length runs past the parent', () => {
    // the parent holds 5 bytes, its child claims 5 after its own 2; the input goes on after it
    const top = DerReader.whole(hex('30 0b 30 05 04 05 01 02 03 04 02 aa bb'), Tag.SEQUENCE, 'top');
    const parent = top.sequence('parent');
    expect(() => parent.next('child')).toThrow(/byte 4: child: a length of 5 with 3 bytes left/);
  });

  it.each([
    ['integer', '02 00', /empty INTEGER/],
    ['integer', '02 02 00 7f', /INTEGER not in its shortest form/],
    ['integer', '02 02 ff 80', /INTEGER not in its shortest form/],
    ['oid', '06 00', /cut short/],
    ['oid', '06 02 55 9d', /cut short/],
    ['oid', '06 03 55 80 13', /not minimal/],
    ['boolean', '01 01 01', /not 00 or FF/],
    ['boolean', '01 02 ff ff', /not 00 or FF/],
    ['bitString', '03 02 01 80', /partial bytes/],
    ['bitString', '03 00', /without its count of unused bits/],
    ['integer', '04 01 00', /tag 0x04 where 0x02 belongs/],
  ] as const)('refuses a malformed %s (%s)', (kind, bytes, message) => {
    expect(() => inside(bytes)[kind]('value')).toThrow(message);
  });

  it('reads what the writer writes, and says where an element starts', () => {
    const der = sequence(boolean(true), unsignedInteger(hex('0102')), oid('2.5.29.17'));
    const reader = DerReader.whole(der, Tag.SEQUENCE, 'outer');
    expect(reader.boolean('b')).toBe(true);
    expect(reader.integer('i').toString('hex')).toBe('0102');
    expect(reader.peekTag()).toBe(Tag.OID);
    const element = reader.next('o');
    expect(element.offset).toBe(9);
    expect(reader.atEnd).toBe(true);
    expect(() => reader.next('past the end')).toThrow(/cut short/);
  });
});

describe('certification requests', () => {
  const key = ed25519Key(9);
  const valid = certificationRequest({
    subject: commonName('node-1'),
    privateKey: key,
    extensions: [subjectAltName({ dns: ['helix-node'], ips: ['100.64.0.5', 'fd7a:115c:a1e0::1'] })],
  });

  it('reads back the key, the addresses and a signature that verifies', () => {
    const request = readCertificationRequest(valid);
    expect(request.ipAddresses).toEqual(['100.64.0.5', 'fd7a:115c:a1e0::1']);
    expect(verifyRequest(request)?.export({ format: 'der', type: 'spki' })).toEqual(
      createPublicKey(key).export({ format: 'der', type: 'spki' }),
    );
  });

  it('finds no key in a request signed by another key', () => {
    const request = readCertificationRequest(valid);
    const other = certificationRequest({
      subject: commonName('node-1'),
      privateKey: ed25519Key(10),
      extensions: [],
    });
    const forged = { ...request, signature: readCertificationRequest(other).signature };
    expect(verifyRequest(forged)).toBeNull();
  });

  it('fuzz: mutations of a valid request read as a request or throw DerError, and end', () => {
    fc.assert(
      fc.property(mutated(valid), (bytes) => {
        try {
          const request = readCertificationRequest(bytes);
          verifyRequest(request);
        } catch (err) {
          if (!(err instanceof DerError)) throw err;
        }
      }),
      runs(5_000),
    );
  });

  it('fuzz: a length byte set to anything reads or throws DerError', () => {
    // every byte that is a length in the request, set to each of a few interesting values
    fc.assert(
      fc.property(
        fc.nat(valid.length - 1),
        fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x85, 0xff),
        (at, byte) => {
          const bytes = Buffer.from(valid);
          bytes[at] = byte;
          try {
            readCertificationRequest(bytes);
          } catch (err) {
            if (!(err instanceof DerError)) throw err;
          }
        },
      ),
      runs(2_000),
    );
  });
});
