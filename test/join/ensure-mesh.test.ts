/** The mesh a node starts with: the one on disk, else create (off a tailnet), never a second one. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshAccessError } from '../../node/errors.js';
import { createMesh, readMesh, writeMesh } from '../../node/identity/index.js';
import { ensureMesh, type EnsureMeshOptions } from '../../node/join/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function options(over: Partial<EnsureMeshOptions> = {}) {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-ensure-mesh-'));
  dirs.push(stateDir);
  const asked: string[] = [];
  const opts: EnsureMeshOptions = {
    stateDir,
    discovery: {
      refresh: async () => asked.push('refresh'),
      candidates: () => {
        asked.push('candidates');
        return [];
      },
    },
    onTailnet: false,
    selfAddress: '127.0.8.40',
    // off a tailnet with no invite the node creates at once and binds nothing
    rpcPort: 0,
    nodeId: 'id-self',
    name: 'self',
    ...over,
  };
  return { opts, asked };
}

describe('ensureMesh', () => {
  it('keeps the membership on disk and asks nobody', async () => {
    const { opts, asked } = options();
    const mine = createMesh();
    writeMesh(opts.stateDir, mine);
    const ensured = await ensureMesh(opts);
    expect(ensured.mesh.meshId).toBe(mine.meshId);
    expect(ensured.members).toEqual([]);
    await ensured.release();
    expect(asked).toEqual([]);
  });

  it('refuses an invite on a node that already belongs to a mesh, naming the file to remove', async () => {
    const { opts } = options({ invite: 'helix-invite-anything' });
    const mine = createMesh();
    writeMesh(opts.stateDir, mine);
    const err = await ensureMesh(opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshAccessError);
    expect((err as Error).message).toContain(mine.meshId);
    expect((err as Error).message).toContain(path.join(opts.stateDir, 'mesh.json'));
  });

  it('creates a mesh at once off a tailnet, writes it, and never polls discovery', async () => {
    const { opts, asked } = options();
    const ensured = await ensureMesh(opts);
    try {
      expect(ensured.mesh.meshId).toMatch(/^mesh-[0-9a-f]{12}$/);
      expect(readMesh(opts.stateDir)?.meshId).toBe(ensured.mesh.meshId);
      expect(ensured.members).toEqual([]);
      expect(asked).toEqual([]);
    } finally {
      await ensured.release();
    }
  });

  it('stops when its signal aborts', async () => {
    const { opts } = options();
    const ac = new AbortController();
    ac.abort(new Error('Ctrl-C'));
    await expect(ensureMesh({ ...opts, signal: ac.signal })).rejects.toThrow('Ctrl-C');
    expect(readMesh(opts.stateDir)).toBeNull();
  });
});
