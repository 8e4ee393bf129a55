/**
 * The mesh certificate authority and this node's certificate (docs/security.md, "Encryption").
 *
 * The CA key is derived from the mesh secret (HKDF-SHA256, "helix/v1/mesh-ca" -> an Ed25519
 * seed) and its certificate is built from fixed fields, so every member holds the same CA
 * without one being sent: any member can admit a node while the creator is offline, an existing
 * mesh gains its CA on the first start of this version, and rotating the mesh secret rotates the
 * CA. The price: whoever holds the mesh secret can mint certificates, which is why every gRPC
 * call still carries the per-call proof of the *current* secret as a second factor.
 *
 * Each node has its own TLS key (Ed25519, made on the node, never sent): at join it sends a CSR
 * and the admitting member signs it; a node that has a mesh but no certificate (a mesh made
 * before TLS, a lost file, a new address) issues its own from the derived CA.
 *
 * Certificates and requests are written by x509.ts (our own DER, der.ts) and signed, verified
 * and read by node:crypto: no X.509 library is loaded (docs/dependencies.md).
 */
import {
  KeyObject,
  X509Certificate as NodeX509,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  webcrypto,
} from 'node:crypto';
import { isIP } from 'node:net';
import path from 'node:path';
import { MeshAccessError, StateError } from '../errors.js';
import { pem } from './der.js';
import { readFileOrNull, writeFileAtomic } from './files.js';
import {
  KeyUsage,
  authorityKeyIdentifier,
  basicConstraints,
  certificate,
  certificationRequest,
  commonName,
  keyUsage,
  readCertificationRequest,
  serverAndClientAuth,
  subjectAltName,
  subjectKeyIdentifier,
  subjectOf,
  verifyRequest,
  type CertificationRequest,
} from './x509.js';

// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519 = { name: 'Ed25519' } as const;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
/** The name node certificates carry for TLS's server-name checks (peers are dialled by IP). */
export const MESH_TLS_SERVER_NAME = 'helix-node';
const CA_NOT_BEFORE = new Date('2024-01-01T00:00:00Z');
// RFC 5280 4.1.2.5: 99991231235959Z means "no well-defined expiration date".
const NO_EXPIRY = new Date('9999-12-31T23:59:59Z');
const NODE_CERT_DAYS = 10 * 365;

/** The files this node's TLS material lives in (PEM, mode 0600); nats-server reads them too. */
export const tlsFiles = (stateDir: string) => ({
  dir: path.join(stateDir, 'tls'),
  ca: path.join(stateDir, 'tls', 'mesh-ca.pem'),
  key: path.join(stateDir, 'tls', 'node-key.pem'),
  cert: path.join(stateDir, 'tls', 'node-cert.pem'),
});

/** What a TLS endpoint needs: the mesh CA, this node's certificate and key (all PEM). */
export interface MeshTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** where they are on disk (for nats-server) */
  files: { ca: string; cert: string; key: string };
  /** the certificate's subject: this node's id */
  nodeId: string;
  /** the IP addresses the certificate names */
  addresses: string[];
}

interface MeshCa {
  certPem: string;
  certDer: Buffer;
  name: string;
  keys: CryptoKeyPair;
}

const caCache = new Map<string, Promise<MeshCa>>();

/**
 * The mesh CA for a mesh secret: the same key and certificate on every member. `stored` is the CA
 * certificate this node wrote before (its state dir's ca.pem): when it is this secret's CA (named
 * for this key, self-signed, with the private key derived from the secret) it is taken as it is,
 * checked by node:crypto. A file anyone else made cannot pass: it would need the key only the
 * secret gives.
 */
export function meshCa(secret: Uint8Array, stored?: string | Buffer | null): Promise<MeshCa> {
  const cacheKey = Buffer.from(secret).toString('base64');
  let ca = caCache.get(cacheKey);
  if (!ca) {
    ca = (async () =>
      (stored ? await storedMeshCa(secret, stored) : null) ?? (await buildMeshCa(secret)))();
    caCache.set(cacheKey, ca);
    // a failure is not kept: the next call tries again
    ca.catch(() => caCache.delete(cacheKey));
  }
  return ca;
}

/** The CA's key, derived from the mesh secret, and the name that carries its fingerprint. */
function caKey(secret: Uint8Array) {
  const seed = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'helix/v1/mesh-ca', 32));
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const fingerprint = createHash('sha256').update(spki).digest();
  // The name carries the key's fingerprint, so a rotated CA never shares a name with the old one.
  const cn = `helix mesh CA ${fingerprint.subarray(0, 8).toString('hex')}`;
  return { privateKey, spki, fingerprint, cn, name: `CN=${cn}` };
}

/** `pem` as this secret's CA, checked with node:crypto alone; null when it is not. */
export async function storedMeshCa(
  secret: Uint8Array,
  pem: string | Buffer,
): Promise<MeshCa | null> {
  let cert: NodeX509;
  try {
    cert = new NodeX509(pem);
  } catch {
    return null;
  }
  const { privateKey, name } = caKey(secret);
  const ours =
    cert.ca &&
    cert.subject === name &&
    cert.issuer === name &&
    cert.checkPrivateKey(privateKey) &&
    cert.verify(cert.publicKey);
  if (!ours) return null;
  return {
    certPem: pem.toString(),
    certDer: Buffer.from(cert.raw),
    name,
    keys: await cryptoKeys(privateKey),
  };
}

/**
 * The CA certificate, byte for byte what @peculiar/x509 made before (test/identity/fixtures), so
 * a mesh keeps its CA across the change.
 */
async function buildMeshCa(secret: Uint8Array): Promise<MeshCa> {
  const { privateKey, spki, fingerprint, cn, name } = caKey(secret);
  const certDer = certificate({
    // positive, fixed per key: the certificate is byte-identical on every member
    serial: Buffer.concat([Buffer.from([0x01]), fingerprint.subarray(8, 16)]),
    issuer: commonName(cn),
    subject: commonName(cn),
    notBefore: CA_NOT_BEFORE,
    notAfter: NO_EXPIRY,
    spki,
    extensions: [
      basicConstraints(true, 0),
      keyUsage([KeyUsage.keyCertSign, KeyUsage.cRLSign]),
      subjectKeyIdentifier(spki),
    ],
    signingKey: privateKey,
  });
  return {
    certPem: pem('CERTIFICATE', certDer),
    certDer,
    name,
    keys: await cryptoKeys(privateKey),
  };
}

async function cryptoKeys(privateKey: KeyObject): Promise<CryptoKeyPair> {
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, ED25519, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', spki, ED25519, true, ['verify']),
  };
}

/** This node's TLS key (made on first use, kept in the state dir; it never leaves the node). */
function loadOrCreateTlsKey(stateDir: string): KeyObject {
  const file = tlsFiles(stateDir).key;
  const pem = readFileOrNull(file);
  if (pem) {
    try {
      return createPrivateKey(pem);
    } catch (err) {
      throw new StateError(
        `${file} is not a readable private key; remove it and restart (the node makes a new key and certificate)`,
        { cause: err },
      );
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileAtomic(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return privateKey;
}

/**
 * A certificate signing request for this node's TLS key (made now if missing), naming the node
 * id and the addresses it serves on. DER bytes, for JoinRequest.csr.
 */
export async function createNodeCsr(
  stateDir: string,
  subject: { nodeId: string; addresses: readonly string[] },
): Promise<Buffer> {
  return certificationRequest({
    subject: commonName(subject.nodeId),
    privateKey: loadOrCreateTlsKey(stateDir),
    extensions: [subjectAltName(altNames(subject.addresses))],
  });
}

/**
 * The mesh CA signs a CSR: subject = the node id the member admitted (whatever the CSR says),
 * alternative names = the CSR's IP addresses plus the mesh server name. Throws MeshAccessError
 * for a CSR that is malformed, not self-signed by its key, or not Ed25519.
 */
export async function issueNodeCertificate(
  secret: Uint8Array,
  csrDer: Uint8Array,
  nodeId: string,
): Promise<Buffer> {
  let csr: CertificationRequest;
  try {
    csr = readCertificationRequest(csrDer);
  } catch (err) {
    throw new MeshAccessError(
      'the join request carries a malformed certificate request; update helix-node on the joining device',
      { cause: err },
    );
  }
  const publicKey = verifyRequest(csr);
  if (!publicKey)
    throw new MeshAccessError(
      'the join request carries a certificate request that is not a valid Ed25519 self-signed CSR; update helix-node on the joining device',
    );
  const ips = csr.ipAddresses.filter((ip) => isIP(ip) !== 0).slice(0, 16);
  return signNodeCertificate(
    secret,
    publicKey.export({ format: 'der', type: 'spki' }),
    nodeId,
    ips,
  );
}

/** A node certificate from the mesh CA for the key `spki` (DER). */
async function signNodeCertificate(
  secret: Uint8Array,
  spki: Buffer,
  nodeId: string,
  addresses: readonly string[],
): Promise<Buffer> {
  const ca = await meshCa(secret);
  const caSpki = KeyObject.from(ca.keys.publicKey).export({ format: 'der', type: 'spki' });
  const serial = randomBytes(16);
  // positive, with a first byte that is not zero: 16 bytes as DER writes it
  serial[0] = Math.max(0x01, (serial[0] ?? 0) & 0x7f);
  const now = Date.now();
  return certificate({
    serial,
    // byte for byte the CA certificate's subject (RFC 5280 7.1 compares names; DER makes it exact)
    issuer: subjectOf(ca.certDer),
    subject: commonName(nodeId),
    // an hour back: a peer whose clock runs a little behind still accepts it
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + NODE_CERT_DAYS * 86400_000),
    spki,
    extensions: [
      basicConstraints(false),
      keyUsage([KeyUsage.digitalSignature]),
      // both: a node is a TLS server (gRPC, routes) and a client (calls, dialled routes)
      serverAndClientAuth(),
      subjectAltName(altNames(addresses)),
      authorityKeyIdentifier(caSpki),
    ],
    signingKey: KeyObject.from(ca.keys.privateKey),
  });
}

function altNames(addresses: readonly string[]): { dns: string[]; ips: string[] } {
  const ips = [...new Set([...addresses, '127.0.0.1'])].filter((a) => isIP(a) !== 0);
  return { dns: [MESH_TLS_SERVER_NAME], ips };
}

/**
 * Check `certDer` against this node's key and the mesh CA, then store it with the CA. Throws
 * MeshAccessError when the certificate is not for this node or not signed by the mesh CA.
 */
export async function installNodeCertificate(
  stateDir: string,
  secret: Uint8Array,
  certDer: Uint8Array,
  nodeId: string,
): Promise<MeshTls> {
  const ca = await meshCa(secret);
  const key = loadOrCreateTlsKey(stateDir);
  const problem = checkCertificate(Buffer.from(certDer), ca, key, nodeId);
  if (problem)
    throw new MeshAccessError(
      `the certificate the member issued cannot be used: ${problem}; update helix-node on that member and join again`,
    );
  const certPem = new NodeX509(Buffer.from(certDer)).toString();
  const f = tlsFiles(stateDir);
  writeFileAtomic(f.ca, ca.certPem);
  writeFileAtomic(f.cert, certPem);
  return loaded(stateDir, ca.certPem, certPem, nodeId);
}

/**
 * This node's TLS material for the mesh: the stored certificate when it is signed by this mesh's
 * CA, names this node and every address in `addresses`, and has a month left; otherwise a new one
 * issued here (the node holds the derived CA). `issued` says which, for the log.
 */
export async function ensureNodeTls(
  stateDir: string,
  secret: Uint8Array,
  subject: { nodeId: string; addresses: readonly string[] },
): Promise<{ tls: MeshTls; issued: string | null }> {
  const f = tlsFiles(stateDir);
  const ca = await meshCa(secret, readFileOrNull(f.ca));
  const key = loadOrCreateTlsKey(stateDir);
  const stored = readFileOrNull(f.cert);
  let why: string | null = stored ? null : 'no certificate yet';
  if (stored) {
    let der: Buffer | null = null;
    try {
      der = Buffer.from(new NodeX509(stored).raw);
    } catch {
      why = 'the stored certificate is unreadable';
    }
    if (der) why = checkCertificate(der, ca, key, subject.nodeId, subject.addresses);
  }
  if (readFileOrNull(f.ca)?.toString() !== ca.certPem) writeFileAtomic(f.ca, ca.certPem);
  if (why === null && stored)
    return { tls: loaded(stateDir, ca.certPem, stored, subject.nodeId), issued: null };
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const der = await signNodeCertificate(secret, spki, subject.nodeId, subject.addresses);
  const certPem = new NodeX509(der).toString();
  writeFileAtomic(f.cert, certPem);
  return { tls: loaded(stateDir, ca.certPem, certPem, subject.nodeId), issued: why };
}

/** Why `der` is not a usable certificate for this node (null when it is). */
function checkCertificate(
  der: Buffer,
  ca: MeshCa,
  key: KeyObject,
  nodeId: string,
  addresses: readonly string[] = [],
): string | null {
  let cert: NodeX509;
  try {
    cert = new NodeX509(der);
  } catch {
    return 'it is not a readable X.509 certificate';
  }
  const caCert = new NodeX509(ca.certDer);
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey))
    return 'it is not signed by this mesh CA (the mesh secret changed)';
  if (!cert.checkPrivateKey(key)) return 'it is for another key than this node holds';
  if (cert.subject !== `CN=${nodeId}`) return `it names ${cert.subject}, not CN=${nodeId}`;
  const names = cert.subjectAltName ?? '';
  const missing = addresses.filter((a) => isIP(a) !== 0 && !names.includes(`IP Address:${a}`));
  if (missing.length > 0) return `it does not name this node's address ${missing.join(', ')}`;
  if (Date.parse(cert.validTo) - Date.now() < 30 * 86400_000) return 'it expires within a month';
  return null;
}

function loaded(
  stateDir: string,
  caPem: string,
  certPem: string | Buffer,
  nodeId: string,
): MeshTls {
  const f = tlsFiles(stateDir);
  const cert = Buffer.from(certPem);
  const names = new NodeX509(cert).subjectAltName ?? '';
  const addresses = [...names.matchAll(/IP Address:([0-9A-Fa-f:.]+)/g)].map((m) => m[1] ?? '');
  return {
    ca: Buffer.from(caPem),
    cert,
    key: readFileOrNull(f.key) ?? Buffer.alloc(0),
    files: { ca: f.ca, cert: f.cert, key: f.key },
    nodeId,
    addresses,
  };
}

/**
 * A throwaway self-signed certificate and key (PEM), for an endpoint that must speak TLS before
 * any mesh exists (the bootstrap stand-in). Nobody verifies it; it only encrypts.
 */
export async function throwawayCertificate(): Promise<{ cert: Buffer; key: Buffer }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const name = commonName(`${MESH_TLS_SERVER_NAME} bootstrap`);
  const now = Date.now();
  const der = certificate({
    serial: Buffer.concat([Buffer.from([0x01]), randomBytes(8)]),
    issuer: name,
    subject: name,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 86400_000),
    spki: publicKey.export({ format: 'der', type: 'spki' }),
    extensions: [subjectAltName(altNames([]))],
    signingKey: privateKey,
  });
  return {
    cert: Buffer.from(pem('CERTIFICATE', der)),
    key: Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' })),
  };
}
