/**
 * The X.509 shapes the mesh uses (RFC 5280 certificates, RFC 2986 requests), Ed25519 only
 * (RFC 8410), written and read with der.ts; node:crypto signs, verifies and reads certificates.
 *
 * This replaced @peculiar/x509, which cost a small node 2.3-3.5 MB of resident memory once
 * loaded, on its first start and on every member that admitted a node (an ES module is never
 * unloaded): docs/dependencies.md. Tests check each shape with `openssl` and node:crypto's
 * X509Certificate (test/identity/).
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { InputError } from '../errors.js';
import {
  DerError,
  DerReader,
  Tag,
  bitString,
  boolean,
  contextTag,
  directoryString,
  octetString,
  oid,
  sequence,
  setOf,
  smallInteger,
  time,
  tlv,
  unsignedInteger,
} from './der.js';

const OID = {
  ed25519: '1.3.101.112',
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

// RFC 8410 3: the parameters are absent
const ED25519_ALGORITHM = sequence(oid(OID.ed25519));
const GENERAL_NAME = { dns: contextTag(2, false), ip: contextTag(7, false) };

/** A name of one common name ("CN=..."): the only kind the mesh writes. */
export const commonName = (cn: string) =>
  sequence(setOf(sequence(oid(OID.commonName), directoryString(cn))));

/** One extension; `critical` false is left out (DER omits a DEFAULT). */
function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

export function basicConstraints(ca: boolean, pathLength?: number): Buffer {
  const fields = ca
    ? [boolean(true), ...(pathLength === undefined ? [] : [smallInteger(pathLength)])]
    : [];
  return extension(OID.basicConstraints, true, sequence(...fields));
}

/** RFC 5280 4.2.1.3 bit numbers. */
export const KeyUsage = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** keyUsage (critical), a named bit list: DER drops the trailing zero bits (X.690 11.2.2). */
export function keyUsage(bits: readonly number[]): Buffer {
  const last = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return extension(OID.keyUsage, true, bitString(bytes, 7 - (last & 7)));
}

/** extKeyUsage serverAuth and clientAuth: a node is a TLS server and a client. */
export const serverAndClientAuth = () =>
  extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth)));

/** subjectAltName: DNS names and IP addresses (that order). */
export function subjectAltName(names: { dns: readonly string[]; ips: readonly string[] }): Buffer {
  return extension(
    OID.subjectAltName,
    false,
    sequence(
      ...names.dns.map((d) => tlv(GENERAL_NAME.dns, Buffer.from(d, 'latin1'))),
      ...names.ips.map((ip) => tlv(GENERAL_NAME.ip, ipBytes(ip))),
    ),
  );
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (not the whole SPKI). */
function keyIdentifier(spki: Uint8Array): Buffer {
  return createHash('sha1').update(readSpki(spki).key).digest();
}

export const subjectKeyIdentifier = (spki: Uint8Array) =>
  extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(spki)));

/** authorityKeyIdentifier: [0] keyIdentifier, the issuer's subjectKeyIdentifier. */
export const authorityKeyIdentifier = (issuerSpki: Uint8Array) =>
  extension(
    OID.authorityKeyIdentifier,
    false,
    sequence(tlv(contextTag(0, false), keyIdentifier(issuerSpki))),
  );

/** A v3 certificate, signed with `signingKey` (Ed25519). DER. */
export function certificate(fields: {
  /** big-endian magnitude; positive */
  serial: Uint8Array;
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** the subject's public key, SPKI DER */
  spki: Uint8Array;
  extensions: readonly Buffer[];
  signingKey: KeyObject;
}): Buffer {
  const tbs = sequence(
    tlv(contextTag(0, true), smallInteger(2)),
    unsignedInteger(fields.serial),
    ED25519_ALGORITHM,
    fields.issuer,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    fields.subject,
    Buffer.from(fields.spki),
    tlv(contextTag(3, true), sequence(...fields.extensions)),
  );
  return signed(tbs, fields.signingKey);
}

/** A certificate's subject Name as it is encoded: what a certificate it signs names as issuer. */
export function subjectOf(certDer: Uint8Array): Buffer {
  const tbs = DerReader.whole(certDer, Tag.SEQUENCE, 'certificate').sequence('tbsCertificate');
  tbs.optional(contextTag(0, true), 'version');
  for (const field of ['serialNumber', 'signature', 'issuer', 'validity']) tbs.next(field);
  return Buffer.from(tbs.read(Tag.SEQUENCE, 'subject').raw);
}

/** A PKCS#10 request with an extensionRequest attribute, signed by the key it names. DER. */
export function certificationRequest(fields: {
  subject: Buffer;
  privateKey: KeyObject;
  extensions: readonly Buffer[];
}): Buffer {
  const spki = createPublicKey(fields.privateKey).export({ format: 'der', type: 'spki' });
  const info = sequence(
    smallInteger(0),
    fields.subject,
    spki,
    tlv(
      contextTag(0, true),
      sequence(oid(OID.extensionRequest), setOf(sequence(...fields.extensions))),
    ),
  );
  return signed(info, fields.privateKey);
}

function signed(toBeSigned: Buffer, key: KeyObject): Buffer {
  return sequence(toBeSigned, ED25519_ALGORITHM, bitString(sign(null, toBeSigned, key)));
}

/** What a member takes from a joiner's request. */
export interface CertificationRequest {
  /** the requester's public key, SPKI DER as it was sent */
  spki: Buffer;
  /** its algorithm's OID */
  keyAlgorithm: string;
  /** the signature's algorithm's OID */
  signatureAlgorithm: string;
  /** the signed part (CertificationRequestInfo) */
  info: Buffer;
  signature: Buffer;
  /** the subjectAltName's IP addresses, in order */
  ipAddresses: string[];
}

/**
 * A PKCS#10 request, read strictly: throws DerError for anything that is not one DER request
 * with nothing after it. The signature is not checked here (verifyRequest).
 */
export function readCertificationRequest(der: Uint8Array): CertificationRequest {
  const outer = DerReader.whole(der, Tag.SEQUENCE, 'certification request');
  const infoElement = outer.read(Tag.SEQUENCE, 'certificationRequestInfo');
  const signatureAlgorithm = readAlgorithm(outer, 'signatureAlgorithm');
  const signature = outer.bitString('signature');
  outer.end('certification request');

  const info = DerReader.inside(infoElement);
  const version = info.integer('version');
  if (version.length !== 1 || version[0] !== 0)
    throw new DerError('malformed certification request: its version is not 1 (0)');
  readName(info, 'subject');
  const spkiElement = info.read(Tag.SEQUENCE, 'subjectPKInfo');
  const spki = readSpki(spkiElement.raw);
  const attributes = DerReader.inside(info.read(contextTag(0, true), 'attributes'));
  info.end('certificationRequestInfo');

  // the first subjectAltName counts, as with @peculiar/x509; every one must be well-formed
  let ipAddresses: string[] | null = null;
  while (!attributes.atEnd) {
    const attribute = attributes.sequence('attribute');
    const type = attribute.oid('attribute type');
    const values = DerReader.inside(attribute.read(Tag.SET, 'attribute values'));
    attribute.end('attribute');
    if (type !== OID.extensionRequest) {
      while (!values.atEnd) values.next('attribute value');
      continue;
    }
    const extensions = values.sequence('requested extensions');
    values.end('extensionRequest (one set of extensions)');
    while (!extensions.atEnd) {
      const { id, value } = readExtension(extensions.sequence('extension'));
      if (id !== OID.subjectAltName) continue;
      const ips = readAltNameIps(value);
      ipAddresses ??= ips;
    }
  }
  return {
    spki: Buffer.from(spkiElement.raw),
    keyAlgorithm: spki.algorithm,
    signatureAlgorithm,
    info: Buffer.from(infoElement.raw),
    signature,
    ipAddresses: ipAddresses ?? [],
  };
}

/** The request's key, when the request is Ed25519 and signed by that key; null otherwise. */
export function verifyRequest(request: CertificationRequest): KeyObject | null {
  if (request.keyAlgorithm !== OID.ed25519 || request.signatureAlgorithm !== OID.ed25519)
    return null;
  try {
    const key = createPublicKey({ key: request.spki, format: 'der', type: 'spki' });
    return verify(null, request.info, key, request.signature) ? key : null;
  } catch {
    // a key node:crypto cannot read (an Ed25519 OID over 31 bytes, say)
    return null;
  }
}

function readAlgorithm(reader: DerReader, what: string): string {
  const algorithm = reader.sequence(what);
  const id = algorithm.oid(`${what} algorithm`);
  if (id === OID.ed25519) {
    algorithm.end(`${what} (Ed25519 takes no parameters)`);
  } else if (!algorithm.atEnd) {
    algorithm.next(`${what} parameters`);
    algorithm.end(what);
  }
  return id;
}

/** SubjectPublicKeyInfo: its algorithm's OID and the key bits. */
function readSpki(der: Uint8Array): { algorithm: string; key: Buffer } {
  const spki = DerReader.whole(der, Tag.SEQUENCE, 'subjectPublicKeyInfo');
  const algorithm = readAlgorithm(spki, 'subjectPublicKeyInfo');
  const key = spki.bitString('subjectPublicKey');
  spki.end('subjectPublicKeyInfo');
  return { algorithm, key };
}

/** Name: SEQUENCE OF SET OF { type, value }; read for its shape, the value is not used. */
function readName(reader: DerReader, what: string): void {
  const name = reader.sequence(what);
  while (!name.atEnd) {
    const rdn = DerReader.inside(name.read(Tag.SET, `${what} RDN`));
    do {
      const pair = rdn.sequence(`${what} attribute`);
      pair.oid(`${what} attribute type`);
      pair.next(`${what} attribute value`);
      pair.end(`${what} attribute`);
    } while (!rdn.atEnd);
  }
}

function readExtension(extension: DerReader): { id: string; value: Buffer } {
  const id = extension.oid('extension id');
  if (extension.peekTag() === Tag.BOOLEAN) extension.boolean('extension critical');
  const value = extension.octetString('extension value');
  extension.end('extension');
  return { id, value };
}

/** GeneralNames: the iPAddress entries (4 or 16 bytes), as text; other kinds are skipped. */
function readAltNameIps(value: Buffer): string[] {
  const names = DerReader.whole(value, Tag.SEQUENCE, 'subjectAltName');
  const ips: string[] = [];
  while (!names.atEnd) {
    const name = names.next('general name');
    if (name.tag === GENERAL_NAME.ip) {
      const text = ipText(name.content);
      if (text) ips.push(text);
    }
  }
  return ips;
}

/** An address's bytes (4 for IPv4, 16 for IPv6); its zone, if any, is not part of it. */
export function ipBytes(ip: string): Buffer {
  const address = ip.split('%')[0] ?? '';
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  if (isIP(address) !== 6) throw new InputError(`${ip} is not an IP address`);
  // an IPv6 address may end in an IPv4 one (::ffff:10.0.0.1)
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    text =
      text.slice(0, -dotted[1].length) +
      `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** An address's text from its bytes: dotted IPv4, or IPv6 with its longest zero run as '::'. */
export function ipText(bytes: Uint8Array): string | null {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) return null;
  const groups = Array.from(
    { length: 8 },
    (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0),
  );
  // RFC 5952 4.2: the first longest run of two or more zero groups becomes '::'
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
