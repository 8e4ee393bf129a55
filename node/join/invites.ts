/**
 * One-time invites, kept in <stateDir>/invites.json (mode 0600, written atomically).
 *
 * The file holds only each invite's verifier (the public half of the key the token derives, see
 * crypto.ts), never the token: reading the file does not let anyone join. `helix-node invite`
 * writes it from its own process while the daemon consumes from it, so every read-modify-write
 * holds <stateDir>/invites.json.lock (O_EXCL; a lock older than 10 s is stale and broken).
 * Used and expired invites stay a day so a second attempt gets "already used" / "expired" rather
 * than "unknown code".
 */
import { randomBytes, createHash } from 'node:crypto';
import { closeSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { MeshAccessError, StateError, UsageError } from '../errors.js';
import { ensureDir, readFileOrNull, writeFileAtomic } from '../identity/index.js';
import { formatInviteCode, TOKEN_BYTES } from './code.js';
import { inviteKeyPair, verifyInviteProof } from './crypto.js';
import { lazySchema } from '../types.js';

const KEEP_AFTER_MS = 24 * 3600_000;
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 5_000;
const MAX_OPEN_INVITES = 100;

const InviteRecordSchema = lazySchema(() =>
  z.object({
    id: z.string(),
    verifier: z.string(),
    createdAt: z.number(),
    expiresAt: z.number(),
    memberAddress: z.string(),
    rpcPort: z.number().int(),
    usedAt: z.number().optional(),
    usedBy: z.string().optional(),
  }),
);
export type InviteRecord = z.infer<typeof InviteRecordSchema>;

const InvitesFileSchema = lazySchema(() =>
  z.object({ v: z.literal(1), invites: z.array(InviteRecordSchema) }),
);

export interface CreateInviteOptions {
  ttlS: number;
  /** the address the joiner dials (this member's mesh address) */
  memberAddress: string;
  rpcPort: number;
  now?: number;
}

export interface CreatedInvite {
  code: string;
  /** short id for logs (not secret) */
  id: string;
  expiresAt: string;
}

export function invitesFile(stateDir: string): string {
  return path.join(stateDir, 'invites.json');
}

/** Make a one-time invite; the code is returned once and never stored. */
export async function createInvite(
  stateDir: string,
  opts: CreateInviteOptions,
): Promise<CreatedInvite> {
  if (!(opts.ttlS > 0))
    throw new UsageError(`invite lifetime must be positive, got ${opts.ttlS} s`);
  const now = opts.now ?? Date.now();
  const token = randomBytes(TOKEN_BYTES);
  const verifier = inviteKeyPair(token).verifier;
  const code = formatInviteCode({ address: opts.memberAddress, port: opts.rpcPort, token });
  const record: InviteRecord = {
    id: createHash('sha256').update(verifier).digest('hex').slice(0, 8),
    verifier: verifier.toString('base64url'),
    createdAt: now,
    expiresAt: now + Math.round(opts.ttlS * 1000),
    memberAddress: opts.memberAddress,
    rpcPort: opts.rpcPort,
  };
  await withInvites(stateDir, now, (invites) => {
    const open = invites.filter((i) => i.usedAt === undefined && i.expiresAt > now);
    if (open.length >= MAX_OPEN_INVITES) {
      throw new UsageError(
        `${open.length} invites are still open; use or let some expire (they last ${Math.round(opts.ttlS / 60)} min) before making more`,
      );
    }
    invites.push(record);
  });
  return { code, id: record.id, expiresAt: new Date(record.expiresAt).toISOString() };
}

export interface InviteClaim {
  /** the Ed25519 signature from the JoinRequest */
  proof: Uint8Array;
  nonce: Uint8Array;
  publicKey: Uint8Array;
  nodeId: string;
}

/**
 * Find the invite the claim proves, refuse it if expired or used, else mark it used.
 * Returns the invite's verifier (it keys the reply). Throws MeshAccessError saying why not.
 */
export async function consumeInvite(
  stateDir: string,
  claim: InviteClaim,
  now: number = Date.now(),
): Promise<{ id: string; verifier: Buffer }> {
  let result: { id: string; verifier: Buffer } | undefined;
  await withInvites(stateDir, now, (invites) => {
    const match = invites.find((i) =>
      verifyInviteProof(
        Buffer.from(i.verifier, 'base64url'),
        claim.proof,
        claim.nonce,
        claim.publicKey,
        claim.nodeId,
      ),
    );
    if (!match) {
      throw new MeshAccessError(
        'the invite code is not one this member issued, or it was mistyped; run `helix-node invite` on this member and use the new code',
      );
    }
    if (match.usedAt !== undefined) {
      throw new MeshAccessError(
        `invite ${match.id} was already used at ${new Date(match.usedAt).toISOString()}${match.usedBy ? ` by node ${match.usedBy}` : ''}; each code admits one node — run \`helix-node invite\` on a member for a new one`,
      );
    }
    if (match.expiresAt <= now) {
      throw new MeshAccessError(
        `invite ${match.id} expired at ${new Date(match.expiresAt).toISOString()}; run \`helix-node invite\` on a member for a new code`,
      );
    }
    match.usedAt = now;
    match.usedBy = claim.nodeId;
    result = { id: match.id, verifier: Buffer.from(match.verifier, 'base64url') };
  });
  if (!result) throw new StateError('invite bookkeeping failed');
  return result;
}

/**
 * Voids every open invite (a node was removed: it, or whoever holds its state, may hold a code
 * made before). Returns how many were open. Invites made afterwards are deliberate.
 */
export async function voidOpenInvites(stateDir: string, now: number = Date.now()): Promise<number> {
  let voided = 0;
  await withInvites(stateDir, now, (invites) => {
    for (const i of invites)
      if (i.usedAt === undefined && i.expiresAt > now) {
        i.expiresAt = now;
        voided++;
      }
  });
  return voided;
}

/** Invites still usable (for `helix-node invite --list` and status). */
export function listOpenInvites(
  stateDir: string,
  now: number = Date.now(),
): Array<Pick<InviteRecord, 'id' | 'expiresAt' | 'memberAddress' | 'rpcPort'>> {
  return readInvites(stateDir)
    .filter((i) => i.usedAt === undefined && i.expiresAt > now)
    .map(({ id, expiresAt, memberAddress, rpcPort }) => ({
      id,
      expiresAt,
      memberAddress,
      rpcPort,
    }));
}

function readInvites(stateDir: string): InviteRecord[] {
  const file = invitesFile(stateDir);
  const bytes = readFileOrNull(file);
  if (!bytes) return [];
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = null;
  }
  const parsed = InvitesFileSchema.safeParse(json);
  if (!parsed.success)
    throw new StateError(
      `${file} is corrupt; remove it (open invites are lost; make new ones with \`helix-node invite\`)`,
    );
  return parsed.data.invites;
}

/** Read-modify-write under the lock; `change` mutates the list or throws (then nothing is written). */
async function withInvites(
  stateDir: string,
  now: number,
  change: (invites: InviteRecord[]) => void,
): Promise<void> {
  ensureDir(stateDir);
  const release = await lock(`${invitesFile(stateDir)}.lock`);
  try {
    const invites = readInvites(stateDir).filter(
      (i) => Math.max(i.expiresAt, i.usedAt ?? 0) + KEEP_AFTER_MS > now,
    );
    change(invites);
    writeFileAtomic(
      invitesFile(stateDir),
      JSON.stringify({ v: 1, invites }, null, 2) + '\n',
      0o600,
    );
  } finally {
    release();
  }
}

async function lock(file: string): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {
          // already broken as stale by another process; nothing to release
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StateError(
          `cannot create ${file}: ${(err as Error).message}; check the permissions of the state dir`,
          { cause: err },
        );
      }
    }
    try {
      if (Date.now() - statSync(file).mtimeMs > LOCK_STALE_MS) unlinkSync(file);
    } catch {
      // the holder released it between our open and stat
    }
    if (Date.now() > deadline) {
      throw new StateError(
        `${file} has been held for over ${LOCK_WAIT_MS / 1000} s; if no helix-node is running, remove it`,
      );
    }
    await sleep(20);
  }
}
