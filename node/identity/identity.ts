/**
 * The node's persistent identity (Ed25519 key in libp2p's form, node-key.ts; its PeerId is the node id),
 * its name, and the mesh it belongs to (id + secret). All under the state dir, mode 0600.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { StateError } from '../errors.js';
import { readFileOrNull, writeFileAtomic } from './files.js';
import { generateNodeKey, nodeKeyFromProtobuf, type NodeKey } from './node-key.js';
import { lazySchema } from '../types.js';

export interface NodeIdentity {
  /** libp2p PeerId string (base58btc "12D3KooW…") */
  id: string;
  /** the id's last 8 characters, for people */
  shortId: string;
  name: string;
  privateKey: NodeKey;
}

export interface MeshMembership {
  meshId: string;
  secret: Buffer;
  joinedAt: string;
  /** "created" on the first node, else the member that admitted us */
  via: string;
}

const MeshFileSchema = lazySchema(() =>
  z.object({
    meshId: z.string().min(1),
    secret: z.string().min(1),
    joinedAt: z.string(),
    via: z.string(),
  }),
);

const NodeFileSchema = lazySchema(() => z.object({ name: z.string().min(1) }));

export const files = (stateDir: string) => ({
  key: path.join(stateDir, 'node.key'),
  node: path.join(stateDir, 'node.json'),
  mesh: path.join(stateDir, 'mesh.json'),
});

export function shortId(id: string): string {
  return id.slice(-8);
}

/** Load the node key and name, creating them on first use. A name from config wins and is stored. */
export async function loadOrCreateIdentity(
  stateDir: string,
  configuredName?: string,
): Promise<NodeIdentity> {
  const f = files(stateDir);
  let privateKey: NodeKey;
  const keyBytes = readFileOrNull(f.key);
  if (keyBytes) {
    try {
      privateKey = nodeKeyFromProtobuf(keyBytes);
    } catch (err) {
      throw new StateError(
        `node key ${f.key} is corrupt; move it away to make a new identity (the node will rejoin as a new node)`,
        { cause: err },
      );
    }
  } else {
    privateKey = generateNodeKey();
    writeFileAtomic(f.key, privateKey.protobuf);
  }
  let name = configuredName;
  const nodeBytes = readFileOrNull(f.node);
  const stored = nodeBytes ? NodeFileSchema.safeParse(safeJson(nodeBytes)) : null;
  if (!name) name = stored?.success ? stored.data.name : defaultName();
  if (!stored?.success || stored.data.name !== name)
    writeFileAtomic(f.node, JSON.stringify({ name }, null, 2) + '\n');
  const id = privateKey.peerId;
  return { id, shortId: shortId(id), name, privateKey };
}

/** Read-only: the node id and name if this state dir has them (for CLI commands that must not create state). */
export function readIdentity(stateDir: string): { id: string; name: string } | null {
  const keyBytes = readFileOrNull(files(stateDir).key);
  if (!keyBytes) return null;
  const id = nodeKeyFromProtobuf(keyBytes).peerId;
  const nodeBytes = readFileOrNull(files(stateDir).node);
  const parsed = nodeBytes ? NodeFileSchema.safeParse(safeJson(nodeBytes)) : null;
  return { id, name: parsed?.success ? parsed.data.name : defaultName() };
}

export function readMesh(stateDir: string): MeshMembership | null {
  const bytes = readFileOrNull(files(stateDir).mesh);
  if (!bytes) return null;
  const parsed = MeshFileSchema.safeParse(safeJson(bytes));
  if (!parsed.success) {
    throw new StateError(
      `${files(stateDir).mesh} is corrupt; remove it and join the mesh again with \`helix-node join\``,
    );
  }
  const secret = Buffer.from(parsed.data.secret, 'base64');
  if (secret.length !== 32)
    throw new StateError(
      `${files(stateDir).mesh} holds a secret of the wrong size; remove it and join again`,
    );
  return { ...parsed.data, secret };
}

export function writeMesh(stateDir: string, mesh: MeshMembership): void {
  writeFileAtomic(
    files(stateDir).mesh,
    JSON.stringify(
      {
        meshId: mesh.meshId,
        secret: mesh.secret.toString('base64'),
        joinedAt: mesh.joinedAt,
        via: mesh.via,
      },
      null,
      2,
    ) + '\n',
  );
}

/** A new mesh: random id (for people and for scoping adverts) and a 256-bit secret. */
export function createMesh(): MeshMembership {
  return {
    meshId: `mesh-${randomBytes(6).toString('hex')}`,
    secret: randomBytes(32),
    joinedAt: new Date().toISOString(),
    via: 'created',
  };
}

/**
 * The name node.json holds: the last name helix.toml's node.name gave (or the host name), so the
 * daemon can tell that helix.toml now wishes another name. Null on a fresh state dir.
 */
export function readStoredName(stateDir: string): string | null {
  const bytes = readFileOrNull(files(stateDir).node);
  const parsed = bytes ? NodeFileSchema.safeParse(safeJson(bytes)) : null;
  return parsed?.success ? parsed.data.name : null;
}

/** The host name as a node name (its first label, cleaned to what node names allow). */
export function hostNodeName(): string {
  return defaultName();
}

function defaultName(): string {
  const host = os.hostname().split('.')[0] ?? 'node';
  const clean = host.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return clean.slice(0, 63) || 'node';
}

function safeJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
}
