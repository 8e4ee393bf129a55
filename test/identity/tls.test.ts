import { spawnSync } from 'node:child_process';
import {
  X509Certificate,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  verify,
} from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMesh,
  createNodeCsr,
  ensureNodeTls,
  installNodeCertificate,
  issueNodeCertificate,
  meshCa,
  storedMeshCa,
  throwawayCertificate,
  tlsFiles,
} from '../../node/identity/index.js';
import { DerReader, Tag, pem } from '../../node/identity/der.js';
import {
  basicConstraints,
  certificate,
  certificationRequest,
  commonName,
  subjectAltName,
} from '../../node/identity/x509.js';
import { MeshAccessError } from '../../node/errors.js';
import { mutated, runs } from '../fuzz/support.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'helix-tls-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('mesh certificate authority', () => {
  it('is the same certificate on every member (derived from the mesh secret) and changes with it', async () => {
    const mesh = createMesh();
    const a = await meshCa(Buffer.from(mesh.secret));
    const b = await meshCa(Buffer.from(mesh.secret.toString('hex'), 'hex'));
    expect(b.certPem).toBe(a.certPem);
    const other = await meshCa(createMesh().secret);
    expect(other.certPem).not.toBe(a.certPem);
    expect(other.name).not.toBe(a.name);
    const cert = new X509Certificate(a.certDer);
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  it("takes the CA file a restarted node wrote before, and no other: not another mesh's, not one for another key", async () => {
    const secret = createMesh().secret;
    const ca = await meshCa(secret);
    const again = await storedMeshCa(secret, Buffer.from(ca.certPem));
    expect(again).not.toBeNull();
    expect(again!.certPem).toBe(ca.certPem);
    expect(again!.name).toBe(ca.name);
    expect(Buffer.compare(again!.certDer, ca.certDer)).toBe(0);
    // its keys sign what the CA's public key verifies
    const data = Buffer.from('node certificate');
    const signature = await crypto.subtle.sign('Ed25519', again!.keys.privateKey, data);
    const caKey = new X509Certificate(ca.certDer).publicKey;
    expect(verify(null, data, caKey, Buffer.from(signature))).toBe(true);

    expect(await storedMeshCa(createMesh().secret, ca.certPem)).toBeNull();
    expect(await storedMeshCa(secret, 'not a certificate')).toBeNull();
    // an impostor: the CA's very name, self-signed, with a key of its own
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const name = commonName(ca.name.slice('CN='.length));
    const impostor = pem(
      'CERTIFICATE',
      certificate({
        serial: Buffer.from([1]),
        issuer: name,
        subject: name,
        notBefore: new Date('2024-01-01T00:00:00Z'),
        notAfter: new Date('9999-12-31T23:59:59Z'),
        spki: publicKey.export({ format: 'der', type: 'spki' }),
        extensions: [basicConstraints(true, 0)],
        signingKey: privateKey,
      }),
    );
    expect(new X509Certificate(impostor).subject).toBe(ca.name);
    expect(new X509Certificate(impostor).ca).toBe(true);
    expect(await storedMeshCa(secret, impostor)).toBeNull();
  });

  it('signs a joiner CSR for the node id the member admitted; the key stays on the joiner', async () => {
    const mesh = createMesh();
    const joiner = tmp();
    const csr = await createNodeCsr(joiner, { nodeId: 'claimed-id', addresses: ['100.64.104.9'] });
    const der = await issueNodeCertificate(mesh.secret, csr, 'admitted-id');
    const cert = new X509Certificate(der);
    expect(cert.subject).toBe('CN=admitted-id');
    expect(cert.subjectAltName).toContain('IP Address:100.64.104.9');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(csr.toString('latin1')).not.toContain('PRIVATE');
    const tls = await installNodeCertificate(joiner, mesh.secret, der, 'admitted-id');
    expect(tls.addresses).toEqual(['100.64.104.9', '127.0.0.1']);
    expect(statSync(tlsFiles(joiner).key).mode & 0o777).toBe(0o600);
    expect(readFileSync(tlsFiles(joiner).ca, 'utf8')).toBe((await meshCa(mesh.secret)).certPem);
  });

  it('refuses a certificate from another mesh or for another key', async () => {
    const mesh = createMesh();
    const joiner = tmp();
    const csr = await createNodeCsr(joiner, { nodeId: 'n1', addresses: [] });
    const foreign = await issueNodeCertificate(createMesh().secret, csr, 'n1');
    await expect(installNodeCertificate(joiner, mesh.secret, foreign, 'n1')).rejects.toThrow(
      /not signed by this mesh CA/,
    );
    const otherKey = await createNodeCsr(tmp(), { nodeId: 'n1', addresses: [] });
    const wrongKey = await issueNodeCertificate(mesh.secret, otherKey, 'n1');
    await expect(installNodeCertificate(joiner, mesh.secret, wrongKey, 'n1')).rejects.toThrow(
      /another key/,
    );
  });

  it('refuses a malformed CSR with an error that says what to do', async () => {
    await expect(
      issueNodeCertificate(createMesh().secret, Buffer.from('not a csr'), 'n1'),
    ).rejects.toThrow(MeshAccessError);
  });

  it('issues a certificate on the first start of a mesh made before TLS, and again when the address changes', async () => {
    const mesh = createMesh();
    const dir = tmp();
    const first = await ensureNodeTls(dir, mesh.secret, { nodeId: 'n1', addresses: ['10.0.0.2'] });
    expect(first.issued).toBe('no certificate yet');
    const again = await ensureNodeTls(dir, mesh.secret, { nodeId: 'n1', addresses: ['10.0.0.2'] });
    expect(again.issued).toBeNull();
    expect(again.tls.cert.equals(first.tls.cert)).toBe(true);
    const moved = await ensureNodeTls(dir, mesh.secret, { nodeId: 'n1', addresses: ['10.0.0.3'] });
    expect(moved.issued).toMatch(/does not name this node's address 10.0.0.3/);
    const rotated = await ensureNodeTls(dir, createMesh().secret, {
      nodeId: 'n1',
      addresses: ['10.0.0.3'],
    });
    expect(rotated.issued).toMatch(/not signed by this mesh CA/);
    writeFileSync(tlsFiles(dir).cert, 'garbage');
    const repaired = await ensureNodeTls(dir, mesh.secret, {
      nodeId: 'n1',
      addresses: ['10.0.0.3'],
    });
    expect(repaired.issued).toMatch(/unreadable/);
  });
});

// test/identity/fixtures: made by @peculiar/x509 2.2, before node/identity/x509.ts replaced it,
// for the mesh secret 32 bytes of 0x07 and the node key whose seed is 32 bytes of 0x09.
const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));
const SECRET_07 = Buffer.alloc(32, 0x07);
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A state dir holding the node key whose seed is 32 bytes of `byte`. */
function stateWithKey(byte: number): string {
  const dir = tmp();
  const key = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.alloc(32, byte)]),
    format: 'der',
    type: 'pkcs8',
  });
  mkdirSync(tlsFiles(dir).dir, { recursive: true });
  writeFileSync(tlsFiles(dir).key, key.export({ format: 'pem', type: 'pkcs8' }));
  return dir;
}

/** A certificate's tbsCertificate, element by element. */
function tbsElements(der: Uint8Array): Buffer[] {
  const tbs = DerReader.whole(der, Tag.SEQUENCE, 'certificate').sequence('tbsCertificate');
  const elements: Buffer[] = [];
  while (!tbs.atEnd) elements.push(Buffer.from(tbs.next('field').raw));
  return elements;
}

describe('the X.509 material, as @peculiar/x509 wrote it', () => {
  it('makes the mesh CA byte for byte as before, so an existing mesh keeps its CA', async () => {
    const before = fixture('mesh-ca-secret-07.pem').toString();
    const ca = await meshCa(SECRET_07);
    expect(ca.certPem).toBe(before);
    expect(ca.name).toBe('CN=helix mesh CA dcc7044700d6295d');
    expect((await storedMeshCa(SECRET_07, before))?.certPem).toBe(before);
  });

  it("writes a node's CSR byte for byte as before (Ed25519 signs deterministically)", async () => {
    const csr = await createNodeCsr(stateWithKey(0x09), {
      nodeId: 'node-1',
      addresses: ['100.64.0.5', 'fd7a:115c:a1e0::1'],
    });
    expect(csr.toString('hex')).toBe(fixture('node-1-csr-key-09.der').toString('hex'));
  });

  it('signs a node certificate field for field as before, but for its serial and dates', async () => {
    const before = fixture('node-1-cert-secret-07.der');
    const now = Date.now();
    const der = await issueNodeCertificate(SECRET_07, fixture('node-1-csr-key-09.der'), 'node-1');
    const [oldFields, newFields] = [tbsElements(before), tbsElements(der)];
    // version, serial, signature, issuer, validity, subject, key, extensions
    expect(newFields).toHaveLength(8);
    const fixed = (fields: Buffer[]) =>
      fields.filter((_, i) => i !== 1 && i !== 4).map((f) => f.toString('hex'));
    expect(fixed(newFields)).toEqual(fixed(oldFields));

    // random, positive, 16 bytes: INTEGER, length 16, a first byte of 01-7F
    const serial = newFields[1]!;
    expect(serial.subarray(0, 2).toString('hex')).toBe('0210');
    expect(serial[2]).toBeGreaterThanOrEqual(0x01);
    expect(serial[2]).toBeLessThanOrEqual(0x7f);
    expect(serial.equals(oldFields[1]!)).toBe(false);
    const cert = new X509Certificate(der);
    expect(Math.abs(Date.parse(cert.validFrom) - (now - 3600_000))).toBeLessThan(5_000);
    expect(Math.abs(Date.parse(cert.validTo) - (now + 3650 * 86400_000))).toBeLessThan(5_000);
  });
});

describe('node:crypto and openssl read what the mesh makes', () => {
  it('a node certificate chains to the mesh CA in node:crypto, with its extensions', async () => {
    const mesh = createMesh();
    const csr = await createNodeCsr(tmp(), { nodeId: 'n1', addresses: ['100.64.0.9', '::1'] });
    const cert = new X509Certificate(await issueNodeCertificate(mesh.secret, csr, 'n1'));
    const ca = new X509Certificate((await meshCa(mesh.secret)).certDer);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(ca.checkIssued(ca) && ca.verify(ca.publicKey)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(ca.validTo).toBe('Dec 31 23:59:59 9999 GMT');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.subjectAltName).toBe(
      'DNS:helix-node, IP Address:100.64.0.9, IP Address:0:0:0:0:0:0:0:1, IP Address:127.0.0.1',
    );
    expect(cert.checkHost('helix-node')).toBe('helix-node');
    expect(cert.checkIP('100.64.0.9')).toBe('100.64.0.9');
  });

  it('a throwaway certificate is self-signed for a day and names helix-node', async () => {
    const { cert, key } = await throwawayCertificate();
    const x = new X509Certificate(cert);
    expect(x.subject).toBe('CN=helix-node bootstrap');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x.subjectAltName).toBe('DNS:helix-node, IP Address:127.0.0.1');
    expect(Date.parse(x.validTo) - Date.parse(x.validFrom)).toBe(25 * 3600_000);
  });

  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
  describe.skipIf(!hasOpenssl)('openssl (skipped where it is not installed)', () => {
    const openssl = (...args: string[]) => {
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
    };

    it('reads the CA, a node certificate, a CSR and the throwaway certificate; verifies the chain for TLS', async () => {
      const dir = tmp();
      const file = (name: string, data: string | Buffer) => {
        writeFileSync(path.join(dir, name), data);
        return path.join(dir, name);
      };
      const mesh = createMesh();
      const ca = await meshCa(mesh.secret);
      const csr = await createNodeCsr(tmp(), { nodeId: 'n1', addresses: ['100.64.0.9'] });
      const node = await issueNodeCertificate(mesh.secret, csr, 'n1');
      const caFile = file('ca.pem', ca.certPem);
      const nodeFile = file('node.pem', pem('CERTIFICATE', node));

      const caText = openssl('x509', '-noout', '-text', '-in', caFile);
      expect(caText.ok, caText.out).toBe(true);
      expect(caText.out).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      expect(caText.out).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
      expect(caText.out).toMatch(/Subject Key Identifier:/);
      expect(caText.out).toContain('Not After : Dec 31 23:59:59 9999 GMT');

      const nodeText = openssl('x509', '-noout', '-text', '-in', nodeFile);
      expect(nodeText.ok, nodeText.out).toBe(true);
      expect(nodeText.out).toContain('Subject: CN = n1');
      expect(nodeText.out).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(nodeText.out).toMatch(/Key Usage: critical\s+Digital Signature/);
      expect(nodeText.out).toMatch(
        /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/,
      );
      expect(nodeText.out).toMatch(
        /Subject Alternative Name:\s+DNS:helix-node, IP Address:100.64.0.9, IP Address:127.0.0.1/,
      );
      const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(caText.out)?.[1];
      expect(ski).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
      expect(nodeText.out).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${ski}`));
      for (const purpose of ['sslserver', 'sslclient']) {
        const chain = openssl('verify', '-CAfile', caFile, '-purpose', purpose, nodeFile);
        expect(chain.out).toContain(`${nodeFile}: OK`);
      }

      const csrFile = file('csr.der', csr);
      const csrText = openssl('req', '-inform', 'DER', '-in', csrFile, '-verify', '-noout');
      expect(csrText.ok, csrText.out).toBe(true);
      expect(csrText.out).toContain('self-signature verify OK');
      const csrFields = openssl('req', '-inform', 'DER', '-in', csrFile, '-noout', '-text');
      expect(csrFields.out).toContain('Subject: CN = n1');
      expect(csrFields.out).toMatch(
        /Requested Extensions:\s+X509v3 Subject Alternative Name:\s+DNS:helix-node, IP Address:100.64.0.9, IP Address:127.0.0.1/,
      );

      const throwaway = openssl(
        'x509',
        '-noout',
        '-text',
        '-in',
        file('throwaway.pem', (await throwawayCertificate()).cert),
      );
      expect(throwaway.ok, throwaway.out).toBe(true);
      expect(throwaway.out).toMatch(
        /Subject Alternative Name:\s+DNS:helix-node, IP Address:127.0.0.1/,
      );
    });

    it.each([
      ['ECDSA P-256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
      ['Ed448', ['-newkey', 'ed448']],
      ['RSA', ['-newkey', 'rsa:2048']],
    ])('refuses an %s CSR made by openssl: not Ed25519', async (_kind, keyArgs) => {
      const dir = tmp();
      const out = path.join(dir, 'csr.der');
      const made = openssl(
        'req',
        '-new',
        ...keyArgs,
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-subj',
        '/CN=n1',
        '-addext',
        'subjectAltName=IP:100.64.0.9',
        '-outform',
        'DER',
        '-out',
        out,
      );
      expect(made.ok, made.out).toBe(true);
      await expect(
        issueNodeCertificate(createMesh().secret, readFileSync(out), 'n1'),
      ).rejects.toThrow(/not a valid Ed25519 self-signed CSR/);
    });

    it('takes a CSR that openssl made with an Ed25519 key', async () => {
      const dir = tmp();
      const out = path.join(dir, 'csr.der');
      const made = openssl(
        'req',
        '-new',
        '-newkey',
        'ed25519',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-subj',
        '/CN=n1/O=somewhere',
        '-addext',
        'subjectAltName=DNS:elsewhere,IP:100.64.0.9,IP:fd7a:115c:a1e0::9,email:a@b.c',
        '-addext',
        'keyUsage=critical,digitalSignature',
        '-outform',
        'DER',
        '-out',
        out,
      );
      expect(made.ok, made.out).toBe(true);
      const cert = new X509Certificate(
        await issueNodeCertificate(createMesh().secret, readFileSync(out), 'n1'),
      );
      expect(cert.subjectAltName).toBe(
        'DNS:helix-node, IP Address:100.64.0.9, IP Address:FD7A:115C:A1E0:0:0:0:0:9, IP Address:127.0.0.1',
      );
    });
  });
});

describe('a CSR from a joining peer, read strictly', () => {
  const MALFORMED = /malformed certificate request/;
  const NOT_ED25519 = /not a valid Ed25519 self-signed CSR/;
  const validCsr = () =>
    createNodeCsr(stateWithKey(0x09), { nodeId: 'node-1', addresses: ['100.64.0.5'] });

  it.each([
    ['truncated', (csr: Buffer) => csr.subarray(0, csr.length - 1), MALFORMED],
    ['cut to its header', (csr: Buffer) => csr.subarray(0, 3), MALFORMED],
    ['with bytes after it', (csr: Buffer) => Buffer.concat([csr, Buffer.from([0])]), MALFORMED],
    ['with a second request after it', (csr: Buffer) => Buffer.concat([csr, csr]), MALFORMED],
    [
      'with its outer length pointing past the end',
      (csr: Buffer) => Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), csr.subarray(3)]),
      MALFORMED,
    ],
    [
      'with an indefinite outer length',
      (csr: Buffer) => Buffer.concat([Buffer.from([0x30, 0x80]), csr.subarray(3), Buffer.alloc(2)]),
      MALFORMED,
    ],
    [
      'with a signature one bit off',
      (csr: Buffer) => {
        const bad = Buffer.from(csr);
        bad[bad.length - 1]! ^= 0x01;
        return bad;
      },
      NOT_ED25519,
    ],
    [
      'with its subject changed after signing',
      (csr: Buffer) => {
        const bad = Buffer.from(csr);
        bad.write('node-2', bad.indexOf('node-1'), 'latin1');
        return bad;
      },
      NOT_ED25519,
    ],
    ['empty', () => Buffer.alloc(0), MALFORMED],
    ['random bytes', () => randomBytes(200), MALFORMED],
  ])('refuses a CSR %s with MeshAccessError', async (_what, spoil, message) => {
    const csr = spoil(await validCsr());
    const refusal = issueNodeCertificate(createMesh().secret, csr, 'node-1');
    await expect(refusal).rejects.toThrow(MeshAccessError);
    await expect(refusal).rejects.toThrow(message);
  });

  it('refuses a CSR whose extension is not DER inside its OCTET STRING', async () => {
    const bad = certificationRequest({
      subject: commonName('node-1'),
      privateKey: generateKeyPairSync('ed25519').privateKey,
      // a subjectAltName whose GeneralNames SEQUENCE claims 10 bytes and holds 5
      extensions: [Buffer.from('300e0603551d110407300a8704644000', 'hex')],
    });
    await expect(issueNodeCertificate(createMesh().secret, bad, 'n1')).rejects.toThrow(MALFORMED);
  });

  it('takes at most 16 IP addresses from a CSR, plus the loopback one', async () => {
    const ips = Array.from({ length: 20 }, (_, i) => `100.64.1.${i + 1}`);
    const csr = certificationRequest({
      subject: commonName('n1'),
      privateKey: generateKeyPairSync('ed25519').privateKey,
      extensions: [subjectAltName({ dns: ['helix-node'], ips })],
    });
    const cert = new X509Certificate(await issueNodeCertificate(createMesh().secret, csr, 'n1'));
    const named = [...(cert.subjectAltName ?? '').matchAll(/IP Address:([^,]+)/g)].map((m) => m[1]);
    expect(named).toEqual([...ips.slice(0, 16), '127.0.0.1']);
  });

  it('fuzz: a mutated CSR is refused with MeshAccessError or signed, and never hangs', async () => {
    const valid = await validCsr();
    const secret = createMesh().secret;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(mutated(valid), async (bytes) => {
        try {
          new X509Certificate(await issueNodeCertificate(secret, bytes, 'node-1'));
        } catch (err) {
          if (!(err instanceof MeshAccessError)) throw err;
          refused++;
        }
      }),
      runs(1_000),
    );
    expect(refused).toBeGreaterThan(900);
  });
});
