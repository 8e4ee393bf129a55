import { X509Certificate, verify, webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMesh,
  createNodeCsr,
  ensureNodeTls,
  installNodeCertificate,
  issueNodeCertificate,
  meshCa,
  storedMeshCa,
  tlsFiles,
} from '../../node/identity/index.js';
import { MeshAccessError } from '../../node/errors.js';

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
    const x = await import('@peculiar/x509');
    const keys = (await crypto.subtle.generateKey('Ed25519', true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const impostor = await x.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: ca.name,
      keys,
      signingAlgorithm: { name: 'Ed25519' },
      extensions: [new x.BasicConstraintsExtension(true, 0, true)],
    });
    expect(new X509Certificate(impostor.toString('pem')).subject).toBe(ca.name);
    expect(await storedMeshCa(secret, impostor.toString('pem'))).toBeNull();
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
