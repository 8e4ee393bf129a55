/**
 * Pure: zigbee2mqtt bridge topics -> the bridge's known state -> a Home. No I/O; the live part
 * (backend.ts) feeds it MQTT messages.
 */
import type { z } from 'zod';
import {
  brightnessValue,
  nameKey,
  roomFrom,
  spokenName,
  type FoundHome,
  type Home,
  type Light,
  type Zigbee2mqttAddress,
  type Room,
} from '../model.js';
import {
  BridgeEventSchema,
  DEFAULT_BIND_GROUP_ID,
  DevicesSchema,
  GroupsSchema,
  RenameResponseSchema,
  type BridgeEvent,
  type Device,
  type Expose,
  type Group,
} from './schema.js';

export const BACKEND = 'zigbee2mqtt' as const;

/** What the bridge has told us so far; null until its retained topic arrived. */
export interface BridgeState {
  devices: Device[] | null;
  groups: Group[] | null;
}

export const emptyBridgeState: BridgeState = { devices: null, groups: null };

export type BridgeUpdate =
  | { kind: 'devices'; devices: Device[] }
  | { kind: 'groups'; groups: Group[] }
  | { kind: 'event'; event: BridgeEvent }
  | { kind: 'rename'; from: string; to: string };

export type ParseResult =
  | { ok: true; update: BridgeUpdate }
  | { ok: false; why: string }
  /** A topic we subscribe to but do not act on (a failed rename, other responses). */
  | { ok: true; update: null };

/** The bridge topics the live part subscribes to, under base topic `base`. */
export function bridgeTopics(base: string): string[] {
  return [
    `${base}/bridge/devices`,
    `${base}/bridge/groups`,
    `${base}/bridge/event`,
    `${base}/bridge/response/device/rename`,
  ];
}

/** Parse one message of a bridge topic; a failure says why, for the log line. */
export function parseBridgeMessage(base: string, topic: string, payload: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return { ok: false, why: `not JSON (${payload.length} bytes)` };
  }
  const check = <S extends z.ZodType>(schema: S): z.infer<S> | string => {
    const parsed = schema.safeParse(json);
    return parsed.success ? parsed.data : describeIssues(parsed.error);
  };
  switch (topic) {
    case `${base}/bridge/devices`: {
      const devices = check(DevicesSchema);
      return typeof devices === 'string'
        ? { ok: false, why: devices }
        : { ok: true, update: { kind: 'devices', devices } };
    }
    case `${base}/bridge/groups`: {
      const groups = check(GroupsSchema);
      return typeof groups === 'string'
        ? { ok: false, why: groups }
        : { ok: true, update: { kind: 'groups', groups } };
    }
    case `${base}/bridge/event`: {
      // Event types HelixOS does not act on are not errors; zigbee2mqtt may add more.
      if (isObject(json) && typeof json.type === 'string' && !KNOWN_EVENTS.has(json.type)) {
        return { ok: true, update: null };
      }
      const event = check(BridgeEventSchema);
      return typeof event === 'string'
        ? { ok: false, why: event }
        : { ok: true, update: { kind: 'event', event } };
    }
    case `${base}/bridge/response/device/rename`: {
      const response = check(RenameResponseSchema);
      if (typeof response === 'string') return { ok: false, why: response };
      const { from, to } = response.data ?? {};
      if (response.status !== 'ok' || !from || !to) return { ok: true, update: null };
      return { ok: true, update: { kind: 'rename', from, to } };
    }
    default:
      return { ok: false, why: 'not a bridge topic HelixOS reads' };
  }
}

const KNOWN_EVENTS = new Set([
  'device_joined',
  'device_announce',
  'device_leave',
  'device_interview',
]);

/** The next bridge state after one update. Retained topics replace; events patch. */
export function applyBridgeUpdate(state: BridgeState, update: BridgeUpdate): BridgeState {
  switch (update.kind) {
    case 'devices':
      return { ...state, devices: update.devices };
    case 'groups':
      return { ...state, groups: update.groups };
    case 'rename':
      return {
        ...state,
        devices:
          state.devices?.map((d) =>
            d.friendly_name === update.from ? { ...d, friendly_name: update.to } : d,
          ) ?? null,
      };
    case 'event':
      return applyEvent(state, update.event);
  }
}

function applyEvent(state: BridgeState, event: BridgeEvent): BridgeState {
  const devices = state.devices ?? [];
  const { ieee_address: ieee } = event.data;
  switch (event.type) {
    case 'device_leave':
      // zigbee2mqtt re-publishes bridge/devices too; dropping it now keeps the gap short.
      return { ...state, devices: devices.filter((d) => d.ieee_address !== ieee) };
    case 'device_interview': {
      if (event.data.status !== 'successful') return state;
      const known = devices.find((d) => d.ieee_address === ieee);
      const interviewed: Device = {
        type: 'Unknown',
        ...known,
        ieee_address: ieee,
        friendly_name: event.data.friendly_name,
        supported: event.data.supported ?? known?.supported,
        definition: event.data.definition ?? known?.definition ?? null,
        interviewing: false,
        interview_completed: true,
        interview_state: 'SUCCESSFUL',
      };
      return {
        ...state,
        devices: known
          ? devices.map((d) => (d.ieee_address === ieee ? interviewed : d))
          : [...devices, interviewed],
      };
    }
    default:
      // joined / announce: nothing to control until the interview completes.
      return state;
  }
}

/** A light and where its commands go. */
export interface BridgeLight {
  light: Light;
  /** `<base>/<friendlyName>/set` */
  friendlyName: string;
  /** Keys and values of the `/set` payload ("state" or "state_l1", "ON"/"OFF"). */
  stateProperty: string;
  valueOn: unknown;
  valueOff: unknown;
  brightnessProperty: string | null;
}

export interface BridgeHome {
  home: Home;
  lights: Map<string, BridgeLight>;
}

/**
 * Rooms are groups (their friendly names, spoken), lights are the `light` exposes of interviewed,
 * enabled devices. A light in several groups belongs to the one with the lowest group ID.
 */
export function homeFromBridge(state: BridgeState): BridgeHome {
  const groups = (state.groups ?? [])
    .filter((g) => g.id !== DEFAULT_BIND_GROUP_ID)
    .sort((a, b) => a.id - b.id);
  const rooms: Room[] = groups.map((g) => roomFrom(g.friendly_name));
  const lights = new Map<string, BridgeLight>();
  for (const device of state.devices ?? []) {
    if (!controllable(device)) continue;
    for (const expose of device.definition?.exposes ?? []) {
      if (expose.type !== 'light') continue;
      const bridgeLight = lightOf(device, expose, groups);
      if (bridgeLight) lights.set(bridgeLight.light.id, bridgeLight);
    }
  }
  return { home: { rooms, lights: [...lights.values()].map((l) => l.light) }, lights };
}

/** The Coordinator, devices still being interviewed and disabled devices have no lights to use. */
function controllable(device: Device): boolean {
  if (device.type === 'Coordinator' || device.disabled || !device.definition) return false;
  const interviewed =
    device.interview_state !== undefined
      ? device.interview_state === 'SUCCESSFUL'
      : device.interview_completed === true && device.interviewing !== true;
  return interviewed;
}

function lightOf(device: Device, expose: Expose, groups: Group[]): BridgeLight | null {
  const features = expose.features ?? [];
  const state = features.find((f) => f.name === 'state' && f.type === 'binary');
  if (!state?.property) return null;
  const brightness = features.find((f) => f.name === 'brightness' && f.type === 'numeric');
  const colorTemp = features.find((f) => f.name === 'color_temp' && f.type === 'numeric');
  const endpoint = expose.endpoint;
  const id = `${BACKEND}:${device.ieee_address}${endpoint ? `/${endpoint}` : ''}`;
  const group = groups.find((g) =>
    g.members.some(
      (m) =>
        m.ieee_address === device.ieee_address &&
        (!endpoint ||
          endpointName(device, m.endpoint) === undefined ||
          endpointName(device, m.endpoint) === endpoint),
    ),
  );
  return {
    light: {
      id,
      name: spokenName(endpoint ? `${device.friendly_name} ${endpoint}` : device.friendly_name),
      room: group ? nameKey(group.friendly_name) : null,
      backend: BACKEND,
      features: {
        onOff: true,
        brightness: brightness?.property
          ? { min: brightness.value_min ?? 0, max: brightness.value_max ?? 254, unit: 'raw' }
          : null,
        colorTemp: Boolean(colorTemp),
      },
    },
    friendlyName: device.friendly_name,
    stateProperty: state.property,
    valueOn: state.value_on ?? 'ON',
    valueOff: state.value_off ?? 'OFF',
    brightnessProperty: brightness?.property ?? null,
  };
}

function endpointName(device: Device, endpointId: number): string | undefined {
  return device.endpoints?.[String(endpointId)]?.name;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(payload)'}: ${i.message}`)
    .join('; ');
}

/** The found home (with addresses) once both retained bridge topics are in; null before. */
export function foundFromBridge(state: BridgeState, built: BridgeHome): FoundHome | null {
  if (state.devices === null || state.groups === null) return null;
  return {
    rooms: built.home.rooms,
    lights: [...built.lights.values()].map((b) => ({
      ...b.light,
      address: {
        kind: 'zigbee2mqtt',
        friendlyName: b.friendlyName,
        stateProperty: b.stateProperty,
        valueOn: scalar(b.valueOn, 'ON'),
        valueOff: scalar(b.valueOff, 'OFF'),
        brightnessProperty: b.brightnessProperty,
      },
    })),
  };
}

function scalar(v: unknown, fallback: string): string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : fallback;
}

/** A typed or found zigbee2mqtt light's address as the BridgeLight setMessage takes. */
export function bridgeLightOf(light: Light, address: Zigbee2mqttAddress): BridgeLight {
  return {
    light,
    friendlyName: address.friendlyName,
    stateProperty: address.stateProperty,
    valueOn: address.valueOn,
    valueOff: address.valueOff,
    brightnessProperty: address.brightnessProperty,
  };
}

/**
 * The `<base>/<friendly_name>/set` message for a command. Brightness goes only to a light with the
 * feature, and only when switching on (zigbee2mqtt turns a light on when it gets a brightness).
 */
export function setMessage(
  base: string,
  target: BridgeLight,
  command: { on: boolean; brightnessPct?: number },
): { topic: string; payload: Record<string, unknown> } {
  const payload: Record<string, unknown> = {
    [target.stateProperty]: command.on ? target.valueOn : target.valueOff,
  };
  const brightness =
    command.on && command.brightnessPct !== undefined && target.brightnessProperty
      ? brightnessValue(target.light.features, command.brightnessPct)
      : null;
  if (brightness !== null && target.brightnessProperty) {
    payload[target.brightnessProperty] = brightness;
  }
  return { topic: `${base}/${target.friendlyName}/set`, payload };
}
