/**
 * What a node keeps about removals (state dir `rotations.json`, mode 0600): the rotation records
 * it applied (its revocation list) and the secrets it rotated away from, by epoch. The old
 * secrets let it check the proof of a member that was away during a removal and now catches up
 * (Rekey); the removed node knew them too, which is why a catch-up also needs the caller's node
 * signature and a caller that is not revoked.
 */
import path from 'node:path';
import { z } from 'zod';
import { StateError } from '../errors.js';
import { readFileOrNull, writeFileAtomic } from '../identity/index.js';
import { SignedRotationSchema, type SignedRotation } from './record.js';
import { lazySchema } from '../types.js';

export interface RotationState {
  records: SignedRotation[];
  /** secrets this node held before each rotation: epoch -> secret */
  previous: Array<{ epoch: number; secret: Buffer }>;
}

const FileSchema = lazySchema(() =>
  z.object({
    records: z.array(SignedRotationSchema),
    previous: z.array(z.object({ epoch: z.number().int().min(0), secret: z.string() })),
  }),
);

export const rotationsFile = (stateDir: string): string => path.join(stateDir, 'rotations.json');

export function readRotations(stateDir: string): RotationState {
  const file = rotationsFile(stateDir);
  const bytes = readFileOrNull(file);
  if (!bytes) return { records: [], previous: [] };
  let json: unknown = null;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    // reported below
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success)
    throw new StateError(
      `${file} is corrupt; restore it from a backup, or remove it and this node's state and join again with an invite`,
    );
  return {
    records: parsed.data.records,
    previous: parsed.data.previous.map((p) => ({
      epoch: p.epoch,
      secret: Buffer.from(p.secret, 'base64'),
    })),
  };
}

export function writeRotations(stateDir: string, state: RotationState): void {
  writeFileAtomic(
    rotationsFile(stateDir),
    JSON.stringify(
      {
        records: state.records,
        previous: state.previous.map((p) => ({
          epoch: p.epoch,
          secret: p.secret.toString('base64'),
        })),
      },
      null,
      2,
    ) + '\n',
  );
}

/** The epoch of the current secret: that of the last record applied, 0 before any. */
export function currentEpoch(state: RotationState): number {
  return state.records.at(-1)?.body.epoch ?? 0;
}

/** Every node id a rotation removed. */
export function revokedIds(state: RotationState): Set<string> {
  return new Set(state.records.map((r) => r.body.removed.id));
}
