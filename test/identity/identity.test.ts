import { mkdtempSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { peerIdFromString } from '@libp2p/peer-id';
import {
  createMesh,
  loadOrCreateIdentity,
  readMesh,
  writeMesh,
  deriveKey,
  natsCredentials,
} from '../../node/identity/index.js';
import { StateError } from '../../node/errors.js';
import { canMount, mountTinyFs } from '../support/tmpfs.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'helix-id-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('identity', () => {
  it('creates an Ed25519 node key once and keeps the same id across restarts', async () => {
    const dir = tmp();
    const first = await loadOrCreateIdentity(dir, 'desk');
    const second = await loadOrCreateIdentity(dir);
    expect(second.id).toBe(first.id);
    expect(second.name).toBe('desk');
    expect(peerIdFromString(first.id).type).toBe('Ed25519');
    expect(first.shortId).toBe(first.id.slice(-8));
  });

  it('writes key and mesh files with mode 0600 and leaves no temp files', async () => {
    const dir = tmp();
    await loadOrCreateIdentity(dir);
    writeMesh(dir, createMesh());
    for (const f of ['node.key', 'node.json', 'mesh.json']) {
      expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('round-trips the mesh id and 256-bit secret', () => {
    const dir = tmp();
    const mesh = createMesh();
    writeMesh(dir, mesh);
    const back = readMesh(dir)!;
    expect(back.meshId).toBe(mesh.meshId);
    expect(back.secret.equals(mesh.secret)).toBe(true);
    expect(back.secret.length).toBe(32);
    expect(readMesh(tmp())).toBeNull();
  });

  it('refuses a corrupt key or mesh file with a message that says what to do', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'node.key'), 'garbage');
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(/corrupt; move it away/);
    writeFileSync(path.join(dir, 'mesh.json'), '{"meshId": 1}');
    expect(() => readMesh(dir)).toThrow(StateError);
  });

  it('derives distinct keys per purpose and never the secret itself', () => {
    const secret = createMesh().secret;
    const keys = (['nats-route', 'nats-client', 'grpc', 'advert'] as const).map((p) =>
      deriveKey(secret, p).toString('hex'),
    );
    expect(new Set(keys).size).toBe(4);
    expect(keys).not.toContain(secret.toString('hex'));
    expect(natsCredentials(secret, 'nats-route').pass).toBe(keys[0]);
    expect(natsCredentials(createMesh().secret, 'nats-route').pass).not.toBe(keys[0]);
  });
});

describe.skipIf(!canMount)('identity on a full disk (a 64 KiB tmpfs)', () => {
  it('says the disk is full and keeps the mesh file it had, with no temp file left', () => {
    const fs = mountTinyFs(64);
    try {
      const mesh = createMesh();
      writeMesh(fs.dir, mesh);
      fs.fill();
      let err: unknown;
      try {
        writeMesh(fs.dir, createMesh());
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StateError);
      expect((err as Error).message).toMatch(/mesh\.json.*the disk is full; free some space/);
      expect(readMesh(fs.dir)!.secret.equals(mesh.secret)).toBe(true);
      expect(readdirSync(fs.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      fs.unmount();
    }
  });
});
