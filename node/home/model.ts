/**
 * The household as HelixOS sees it: rooms and the lights in them, whichever backend found them.
 * Pure: no I/O. Names are kept as words a person says ("living room", never "living_room").
 */
import { compareText } from '../order.js';

export type BackendName = 'zigbee2mqtt' | 'home-assistant';

export interface Room {
  /** Normalised for matching: lower case, words separated by one space ("living room"). */
  key: string;
  /** As the backend names it, separators turned into spaces ("Living Room", "living room"). */
  name: string;
}

/** What a light can be asked to do. */
export interface LightFeatures {
  onOff: boolean;
  /**
   * Null when the light cannot dim. zigbee2mqtt: the device's raw scale (0-254 as a rule, from the
   * expose's value_min/value_max); Home Assistant: brightness_pct 0-100.
   */
  brightness: { min: number; max: number; unit: 'raw' | 'percent' } | null;
  colorTemp: boolean;
}

export interface Light {
  /** Backend-qualified and stable across renames: "zigbee2mqtt:0x0017880104e45517/l1", "home-assistant:light.kitchen". */
  id: string;
  /** Spoken form of the light's name ("kitchen ceiling"). */
  name: string;
  /** The key of the room it is in, or null when the backend places it in none. */
  room: string | null;
  backend: BackendName;
  features: LightFeatures;
}

export interface Home {
  rooms: Room[];
  lights: Light[];
}

/** Where a zigbee2mqtt light's commands go: `<base>/<friendlyName>/set` with these keys. */
export interface Zigbee2mqttAddress {
  kind: 'zigbee2mqtt';
  friendlyName: string;
  stateProperty: string;
  valueOn: string | boolean | number;
  valueOff: string | boolean | number;
  brightnessProperty: string | null;
}

export interface HomeAssistantAddress {
  kind: 'home-assistant';
  entityId: string;
}

export type LightAddress = Zigbee2mqttAddress | HomeAssistantAddress;

/** A light with what it takes to switch it, as a backend found it. */
export interface FoundLight extends Light {
  address: LightAddress;
}

/** What one backend found: replicated as the mesh setting `home.found.<backend>`. */
export interface FoundHome {
  rooms: Room[];
  lights: FoundLight[];
}

/** What `set` asks of a light; brightness is a percentage whatever the backend's scale. */
export interface LightCommand {
  on: boolean;
  /** 0-100; ignored (never sent) for a light without brightness. */
  brightnessPct?: number;
}

export const emptyHome: Home = Object.freeze({ rooms: [], lights: [] }) as Home;

/** "living_room", "Living-Room", "living  room" -> "Living Room" / "living room" with single spaces. */
export function spokenName(raw: string): string {
  return raw
    .replace(/[_\-./]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The matching key of a room or light name: spoken form in lower case. */
export function nameKey(raw: string): string {
  return spokenName(raw).toLowerCase();
}

export function roomFrom(raw: string): Room {
  return { key: nameKey(raw), name: spokenName(raw) };
}

/** Rooms and lights sorted by key/id, so two homes built from the same facts compare equal. */
export function normaliseHome(home: Home): Home {
  const rooms = new Map<string, Room>();
  for (const room of home.rooms) if (!rooms.has(room.key)) rooms.set(room.key, room);
  return {
    rooms: [...rooms.values()].sort((a, b) => compareText(a.key, b.key)),
    lights: [...home.lights].sort((a, b) => compareText(a.id, b.id)),
  };
}

export function sameHome(a: Home, b: Home): boolean {
  return JSON.stringify(normaliseHome(a)) === JSON.stringify(normaliseHome(b));
}

/** The lights of a room, by key or spoken name. */
export function lightsIn(home: Home, room: string): Light[] {
  const key = nameKey(room);
  return home.lights.filter((l) => l.room === key);
}

/** Scale a percentage to a light's brightness range (rounded, clamped). */
export function brightnessValue(features: LightFeatures, pct: number): number | null {
  const b = features.brightness;
  if (!b) return null;
  const clamped = Math.min(100, Math.max(0, pct));
  return Math.round(b.min + ((b.max - b.min) * clamped) / 100);
}
