/**
 * The mesh settings laid over a helix.toml-shaped config tree, so the one slot resolver
 * (agentspec's resolveSlotValues) and agents' context read the house every node resolves the
 * same way (home's resolveHouse: found rooms and lights, with the rooms people set over them):
 *
 * - `lights.rooms`: room name (spoken: "living room") -> its lights' names. What
 *   `enum_from = "lights.rooms"` reads: the fast matcher, the phrase grammar and the LLM schema
 *   name the rooms of the house, not those of one device's helix.toml.
 * - `home.rooms`: room name -> its lights with id and whether they dim (agents' context; the ids
 *   go back to the host's home.call_service).
 * - `home.lights`: every light by spoken name -> its id, whether it dims and its room (null: none);
 *   its keys are what `enum_from = "home.lights"` reads. Two lights of one name: the first by id.
 * - `mqtt.base_topic`: the mesh setting when set, else helix.toml's.
 * - `mqtt.password` is removed and `mqtt.url` loses any user and password inside it: agents list
 *   keys of this tree in their context, and a credential must never reach one.
 * Pure.
 */
import { agentView, resolveHouse, type House } from '../home/index.js';
import type { MeshSettings } from './schema.js';

/** Keys whose change alters what the overlay yields (the voice vocabulary rebuilds on them). */
export const VOCABULARY_KEY_PREFIXES = ['rooms.', 'home.found.', 'lights.'] as const;

/** True when a change to these keys can change the slot values (rooms and their lights). */
export function affectsVocabulary(keys: readonly string[]): boolean {
  return keys.some((k) => VOCABULARY_KEY_PREFIXES.some((p) => k.startsWith(p)));
}

/** The house the settings describe: the one answer every node gets from the same settings. */
export function houseOf(settings: Pick<MeshSettings, 'rooms' | 'found' | 'lights'>): House {
  return resolveHouse({
    userRooms: settings.rooms,
    found: settings.found,
    backend: settings.lights.backend,
    preferred: settings.lights.preferred,
  });
}

type Tree = Record<string, unknown>;

function lightTable(
  house: House,
): Record<string, { id: string; dims: boolean; room: string | null }> {
  const out: Record<string, { id: string; dims: boolean; room: string | null }> = {};
  for (const l of house.lights)
    out[l.name] ??= { id: l.id, dims: l.features.brightness !== null, room: l.room };
  return out;
}
const table = (v: unknown): Tree =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Tree) : {};

/** A copy of `config` with the house laid over it; the rest of the tree is shared, not copied. */
export function overlayMeshSettings<T extends object>(
  config: T,
  settings: Pick<MeshSettings, 'rooms' | 'found' | 'lights'> & Partial<Pick<MeshSettings, 'mqtt'>>,
  house: House = houseOf(settings),
): T & { lights: { rooms: Record<string, string[]> } } {
  const tree = config as Tree;
  const names = new Map(house.lights.map((l) => [l.id, l.name]));
  const rooms: Record<string, string[]> = {};
  for (const room of house.rooms) rooms[room.name] = room.lights.map((id) => names.get(id) ?? id);
  // Agents read their context from this tree: no broker password, in its key or inside the URL.
  const { password: _password, ...mqtt } = table(tree.mqtt);
  if (typeof mqtt.url === 'string') mqtt.url = withoutCredentials(mqtt.url);
  const baseTopic = settings.mqtt?.baseTopic;
  return {
    ...config,
    lights: { ...table(tree.lights), rooms },
    home: {
      ...table(tree.home),
      rooms: agentView(house),
      lights: lightTable(house),
    },
    mqtt: baseTopic ? { ...mqtt, base_topic: baseTopic } : mqtt,
  } as T & { lights: { rooms: Record<string, string[]> } };
}

/** "mqtt://user:pw@host:1883" -> "mqtt://host:1883"; anything unparsable is left out entirely. */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '';
  }
}
