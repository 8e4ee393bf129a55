/**
 * The house the whole mesh acts on: the rooms and lights the backends found (replicated as mesh
 * settings by whichever node reads them), with the rooms people set themselves laid over them.
 * One function, resolveHouse, gives every node the same answer from the same settings. Pure.
 *
 * Rules, in order:
 * 1. The found homes of the chosen backend(s) (lights.backend); with "both", combineHomes keeps
 *    the preferred backend's copy of a light both know.
 * 2. Every found room (a zigbee2mqtt group, a Home Assistant area) is a room, with the found
 *    lights placed in it.
 * 3. A room set by a person (`rooms.<room>`) replaces the found room of the same name (compared
 *    as spoken words: "living_room" is "living room"): its lights are the ones it names, each
 *    matched against the found lights by zigbee2mqtt friendly name, Home Assistant entity id or
 *    spoken name. A name that matches none is taken as a zigbee2mqtt friendly name typed by
 *    hand (what helix.toml's [lights.rooms] always meant), switched with "state" and, not
 *    knowing better, dimmed on zigbee2mqtt's usual 0-254 "brightness".
 * 4. A room set with `hidden: true` is not a room (a zigbee2mqtt group that is not one).
 */
import { z } from 'zod';
import { combineHomes } from './combine.js';
import {
  nameKey,
  spokenName,
  type BackendName,
  type FoundHome,
  type FoundLight,
  type Room,
} from './model.js';

export type {
  FoundHome,
  FoundLight,
  HomeAssistantAddress,
  LightAddress,
  Zigbee2mqttAddress,
} from './model.js';
import { compareText } from '../order.js';
import { lazySchema } from '../types.js';

/** A room as a person set it (`helix-node rooms set`). */
export interface UserRoom {
  lights: readonly string[];
  hidden?: boolean;
}

export type BackendChoice = 'zigbee2mqtt' | 'home_assistant' | 'both';

export interface HouseInput {
  /** `rooms.<room>` settings by the room name as set */
  userRooms: Readonly<Record<string, UserRoom>>;
  found: Partial<Record<BackendName, FoundHome>>;
  backend: BackendChoice;
  preferred: 'zigbee2mqtt' | 'home_assistant';
}

export interface HouseRoom extends Room {
  /** ids of its lights, in the order set or found */
  lights: string[];
  /** who made it a room */
  source: 'settings' | BackendName;
}

export interface House {
  rooms: HouseRoom[];
  /** every light of the chosen backends and every light a room names, by id */
  lights: FoundLight[];
}

export const emptyHouse: House = Object.freeze({ rooms: [], lights: [] }) as House;

const scalar = lazySchema(() => z.union([z.string(), z.boolean(), z.number()]));
const RoomSchema = lazySchema(() =>
  z.strictObject({ key: z.string().min(1).max(128), name: z.string().max(128) }),
);
/** The shape of `home.found.<backend>`: checked when read from a peer's setting. */
export const FoundHomeSchema = lazySchema(() =>
  z.strictObject({
    rooms: z.array(RoomSchema).max(512),
    lights: z
      .array(
        z.strictObject({
          id: z.string().min(1).max(300),
          name: z.string().max(256),
          room: z.string().max(128).nullable(),
          backend: z.enum(['zigbee2mqtt', 'home-assistant']),
          features: z.strictObject({
            onOff: z.boolean(),
            brightness: z
              .strictObject({
                min: z.number(),
                max: z.number(),
                unit: z.enum(['raw', 'percent']),
              })
              .nullable(),
            colorTemp: z.boolean(),
          }),
          address: z.discriminatedUnion('kind', [
            z.strictObject({
              kind: z.literal('zigbee2mqtt'),
              friendlyName: z.string().min(1).max(256),
              stateProperty: z.string().min(1).max(64),
              valueOn: scalar,
              valueOff: scalar,
              brightnessProperty: z.string().max(64).nullable(),
            }),
            z.strictObject({
              kind: z.literal('home-assistant'),
              entityId: z.string().min(1).max(256),
            }),
          ]),
        }),
      )
      // ~375 bytes a light: 2000 fit the store's 800 KiB a value
      .max(2000),
  }),
);

/** The id of a light typed by hand that no backend found (rule 3). */
export function typedLightId(friendlyName: string): string {
  return `zigbee2mqtt:name/${friendlyName}`;
}

function typedLight(friendlyName: string, room: string): FoundLight {
  return {
    id: typedLightId(friendlyName),
    name: spokenName(friendlyName),
    room,
    backend: 'zigbee2mqtt',
    features: { onOff: true, brightness: { min: 0, max: 254, unit: 'raw' }, colorTemp: false },
    address: {
      kind: 'zigbee2mqtt',
      friendlyName,
      stateProperty: 'state',
      valueOn: 'ON',
      valueOff: 'OFF',
      brightnessProperty: 'brightness',
    },
  };
}

function chosenFound(input: HouseInput): FoundHome {
  const z2m = input.found.zigbee2mqtt ?? { rooms: [], lights: [] };
  const ha = input.found['home-assistant'] ?? { rooms: [], lights: [] };
  if (input.backend === 'zigbee2mqtt') return z2m;
  if (input.backend === 'home_assistant') return ha;
  const [first, second] = input.preferred === 'zigbee2mqtt' ? [z2m, ha] : [ha, z2m];
  return combineHomes<FoundHome>(first, second);
}

/** Whether a name a person typed means this found light. */
function names(light: FoundLight, typed: string): boolean {
  const a = light.address;
  if (a.kind === 'zigbee2mqtt' ? a.friendlyName === typed : a.entityId === typed) return true;
  return nameKey(light.name) === nameKey(typed);
}

export function resolveHouse(input: HouseInput): House {
  const found = chosenFound(input);
  const lights = new Map<string, FoundLight>(found.lights.map((l) => [l.id, l]));
  const rooms = new Map<string, HouseRoom>();
  for (const room of found.rooms) {
    if (rooms.has(room.key)) continue;
    rooms.set(room.key, {
      key: room.key,
      // as people say it: "Living Room" and "living_room" are "living room"
      name: room.key,
      lights: found.lights.filter((l) => l.room === room.key).map((l) => l.id),
      source: sourceOf(input, room.key),
    });
  }
  for (const setName of Object.keys(input.userRooms).sort()) {
    const set = input.userRooms[setName]!;
    const key = nameKey(setName);
    if (!key) continue;
    if (set.hidden) {
      rooms.delete(key);
      continue;
    }
    const ids: string[] = [];
    for (const typed of set.lights) {
      const light = found.lights.find((l) => names(l, typed)) ?? typedLight(typed, key);
      lights.set(light.id, { ...light, room: key });
      if (!ids.includes(light.id)) ids.push(light.id);
    }
    // Lights the found room had and the person's room does not name leave the room.
    for (const id of rooms.get(key)?.lights ?? []) {
      const l = lights.get(id);
      if (l && !ids.includes(id)) lights.set(id, { ...l, room: null });
    }
    rooms.set(key, {
      key,
      name: spokenName(setName).toLowerCase(),
      lights: ids,
      source: 'settings',
    });
  }
  return {
    rooms: [...rooms.values()].sort((a, b) => compareText(a.key, b.key)),
    // names as said and as replied: "Kitchen ceiling" is "kitchen ceiling"
    lights: [...lights.values()]
      .map((l) => ({ ...l, name: nameKey(l.name) }))
      .sort((a, b) => compareText(a.id, b.id)),
  };
}

/** The backend a found room came from (zigbee2mqtt when both have it). */
function sourceOf(input: HouseInput, key: string): BackendName {
  return input.found.zigbee2mqtt?.rooms.some((r) => r.key === key) === true
    ? 'zigbee2mqtt'
    : 'home-assistant';
}

/** The lights of a room, by name as spoken or set; undefined when there is no such room. */
export function roomLights(house: House, room: string): FoundLight[] | undefined {
  const r = house.rooms.find((x) => x.key === nameKey(room));
  if (!r) return undefined;
  const byId = new Map(house.lights.map((l) => [l.id, l]));
  return r.lights.map((id) => byId.get(id)).filter((l): l is FoundLight => l !== undefined);
}

/**
 * The house as agents read it in their context (`home.rooms`): room name (spoken) -> its lights,
 * each with its id (for the host's home.call_service), spoken name and whether it dims.
 */
export function agentView(
  house: House,
): Record<string, Array<{ id: string; name: string; dims: boolean }>> {
  const out: Record<string, Array<{ id: string; name: string; dims: boolean }>> = {};
  const byId = new Map(house.lights.map((l) => [l.id, l]));
  for (const room of house.rooms) {
    out[room.name.toLowerCase()] = room.lights
      .map((id) => byId.get(id))
      .filter((l): l is FoundLight => l !== undefined)
      .map((l) => ({ id: l.id, name: l.name, dims: l.features.brightness !== null }));
  }
  return out;
}
