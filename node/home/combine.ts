/**
 * Both backends with one preferred. The rule, pure and in one place:
 * - rooms: the union by key; a room both know takes the preferred backend's display name;
 * - lights: every light of the preferred backend; a light of the other backend is dropped when the
 *   preferred one has a light of the same spoken name (case-insensitive) in the same room (or both in
 *   no room) — the same bulb seen twice, e.g. a zigbee2mqtt light that Home Assistant also shows
 *   through its MQTT integration. Other lights of the other backend are kept.
 * Commands go to the backend named by the light id's prefix.
 */
import { Listeners, type LightsBackend } from './backend.js';
import { UnknownLightError } from './errors.js';

import { nameKey, type FoundHome, type Home } from './model.js';

export function combineHomes<H extends Home>(preferred: H, other: H): H {
  const rooms = new Map(preferred.rooms.map((r) => [r.key, r]));
  for (const room of other.rooms) if (!rooms.has(room.key)) rooms.set(room.key, room);
  const taken = new Set(preferred.lights.map((l) => `${l.room ?? ''}\u0000${nameKey(l.name)}`));
  const extra = other.lights.filter((l) => !taken.has(`${l.room ?? ''}\u0000${nameKey(l.name)}`));
  return { ...preferred, rooms: [...rooms.values()], lights: [...preferred.lights, ...extra] };
}

/** A LightsBackend over two, started together, the preferred one's lights winning by combineHomes. */
export function combineBackends(preferred: LightsBackend, other: LightsBackend): LightsBackend {
  const listeners = new Listeners<Home>(() => {});
  const home = (): Home => combineHomes(preferred.home(), other.home());
  const unsubscribe: Array<() => void> = [];
  return {
    name: 'combined',
    async start(signal) {
      await preferred.start(signal);
      try {
        await other.start(signal);
      } catch (err) {
        await preferred.stop();
        throw err;
      }
      for (const b of [preferred, other])
        unsubscribe.push(b.onChange(() => listeners.emit(home())));
    },
    async stop() {
      for (const u of unsubscribe.splice(0)) u();
      await other.stop();
      await preferred.stop();
    },
    home,
    found() {
      const a = preferred.found();
      const b = other.found();
      if (!a || !b) return null;
      return combineHomes<FoundHome>(a, b);
    },
    onChange: (listener) => listeners.add(listener),
    async set(lightId, command, opts) {
      const owner = home().lights.find((l) => l.id === lightId);
      if (!owner)
        throw new UnknownLightError(
          lightId,
          home().lights.map((l) => l.id),
        );
      const backend = preferred.home().lights.some((l) => l.id === lightId) ? preferred : other;
      await backend.set(lightId, command, opts);
    },
  };
}
