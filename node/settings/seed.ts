/**
 * helix.toml's `[lights.rooms]` as the initial value of the mesh-wide rooms (issue 9): written
 * once, when the store holds no room at all (a deleted room counts: its tombstone says someone
 * decided), so later edits go through `helix-node rooms` and reach every node.
 */
import type { Logger } from '../log.js';
import { describeError } from '../errors.js';
import type { SettingsStore } from './store.js';

export const ROOM_PREFIX = 'rooms.';

/** Writes the rooms of helix.toml into an empty store; returns the room names written. */
export function seedRoomsFromConfig(
  store: SettingsStore,
  rooms: Readonly<Record<string, readonly string[]>>,
  logger: Logger,
): string[] {
  const names = Object.keys(rooms);
  if (names.length === 0) return [];
  if (store.entries().some((e) => e.key.startsWith(ROOM_PREFIX))) return [];
  const written: string[] = [];
  for (const name of names) {
    try {
      store.set(`${ROOM_PREFIX}${name}`, { lights: [...rooms[name]!] });
      written.push(name);
    } catch (err) {
      logger.warn(
        { room: name, err: describeError(err) },
        'helix.toml [lights.rooms]: room left out of the mesh settings',
      );
    }
  }
  if (written.length > 0)
    logger.info(
      { rooms: written },
      'rooms taken from helix.toml [lights.rooms]; they are now mesh settings: `helix-node rooms`',
    );
  return written;
}
