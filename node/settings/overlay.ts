/**
 * The mesh settings laid over a helix.toml-shaped config tree, so the one slot resolver
 * (agentspec's resolveSlotValues) reads the mesh's rooms wherever a manifest says
 * `enum_from = "lights.rooms"`: the fast matcher, the phrase grammar and the LLM schema then
 * name the rooms of the house, not those of one device's helix.toml. Pure.
 */
import type { MeshSettings } from './schema.js';

/** Keys whose change alters what the overlay yields (the voice vocabulary rebuilds on them). */
export const VOCABULARY_KEY_PREFIXES = ['rooms.'] as const;

/** True when a change to these keys can change the slot values (rooms and their lights). */
export function affectsVocabulary(keys: readonly string[]): boolean {
  return keys.some((k) => VOCABULARY_KEY_PREFIXES.some((p) => k.startsWith(p)));
}

/**
 * A copy of `config` whose `lights.rooms` is the mesh's rooms (room name → its lights); the rest
 * of the tree is shared, not copied. Room names stay as people say them ("living room").
 */
export function overlayMeshSettings<T extends object>(
  config: T,
  settings: Pick<MeshSettings, 'rooms'>,
): T & { lights: { rooms: Record<string, string[]> } } {
  const tree = config as Record<string, unknown>;
  const lights = tree.lights;
  const rooms: Record<string, string[]> = {};
  for (const name of Object.keys(settings.rooms).sort())
    rooms[name] = [...(settings.rooms[name]?.lights ?? [])];
  return {
    ...config,
    lights: {
      ...(typeof lights === 'object' && lights !== null && !Array.isArray(lights) ? lights : {}),
      rooms,
    },
  } as T & { lights: { rooms: Record<string, string[]> } };
}
