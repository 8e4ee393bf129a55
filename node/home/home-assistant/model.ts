/** Pure: Home Assistant's areas, devices, entities and states -> a Home. */
import { nameKey, roomFrom, spokenName, type Home, type Light } from '../model.js';
import type { Area, DeviceEntry, EntityEntry, HaState } from './protocol.js';

export const BACKEND = 'home-assistant' as const;

export interface Registries {
  areas: Area[];
  devices: DeviceEntry[];
  entities: EntityEntry[];
  /** Light states by entity_id. */
  states: Map<string, HaState>;
}

export function lightIdOf(entityId: string): string {
  return `${BACKEND}:${entityId}`;
}

export function entityIdOf(lightId: string): string | null {
  return lightId.startsWith(`${BACKEND}:`) ? lightId.slice(BACKEND.length + 1) : null;
}

export const isLightEntity = (entityId: string): boolean => entityId.startsWith('light.');

/**
 * Rooms are areas; lights are `light.*` entities that have a state and are not disabled. An
 * entity's own area overrides its device's (as in Home Assistant's UI). Brightness when any
 * supported colour mode is other than "onoff" (homeassistant/components/light: every mode but
 * onoff implies brightness), sent as brightness_pct.
 */
export function homeFromRegistries(r: Registries): Home {
  const areaName = new Map(r.areas.map((a) => [a.area_id, a.name]));
  const deviceArea = new Map(r.devices.map((d) => [d.id, d.area_id]));
  const entries = new Map(r.entities.map((e) => [e.entity_id, e]));
  const lights: Light[] = [];
  for (const [entityId, state] of r.states) {
    if (!isLightEntity(entityId)) continue;
    const entry = entries.get(entityId);
    if (entry?.disabled_by) continue;
    const areaId = entry?.area_id ?? (entry?.device_id ? deviceArea.get(entry.device_id) : null);
    const area = areaId ? areaName.get(areaId) : undefined;
    const modes = colorModes(state);
    const friendly = state.attributes.friendly_name;
    lights.push({
      id: lightIdOf(entityId),
      name: spokenName(
        entry?.name ??
          (typeof friendly === 'string' ? friendly : null) ??
          entry?.original_name ??
          entityId.slice('light.'.length),
      ),
      room: area ? nameKey(area) : null,
      backend: BACKEND,
      features: {
        onOff: true,
        brightness: modes.some((m) => m !== 'onoff' && m !== 'unknown')
          ? { min: 0, max: 100, unit: 'percent' }
          : null,
        colorTemp: modes.includes('color_temp'),
      },
    });
  }
  return { rooms: r.areas.map((a) => roomFrom(a.name)), lights };
}

function colorModes(state: HaState): string[] {
  const modes = state.attributes.supported_color_modes;
  return Array.isArray(modes) ? modes.filter((m): m is string => typeof m === 'string') : [];
}
