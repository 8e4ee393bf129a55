import { describe, expect, it } from 'vitest';
import { homeFromRegistries } from '../../node/home/home-assistant/model.js';
import {
  AreasSchema,
  DevicesSchema,
  EntitiesSchema,
  StatesSchema,
} from '../../node/home/home-assistant/protocol.js';
import { household } from './fixtures/home-assistant.js';

function home() {
  const h = household();
  const states = StatesSchema.parse(h.states);
  return homeFromRegistries({
    areas: AreasSchema.parse(h.areas),
    devices: DevicesSchema.parse(h.devices),
    entities: EntitiesSchema.parse(h.entities),
    states: new Map(states.map((s) => [s.entity_id, s])),
  });
}

describe('Home Assistant registries -> home', () => {
  it('makes every area a room, keyed by its spoken name', () => {
    expect(home().rooms).toEqual([
      { key: 'living room', name: 'Living Room' },
      { key: 'kitchen', name: 'Kitchen' },
      { key: 'study', name: 'Study' },
    ]);
  });

  it.each([
    ['light.floor_lamp', 'Floor lamp', 'living room', { min: 0, max: 100, unit: 'percent' }, true],
    ['light.kitchen_ceiling', 'Kitchen ceiling', 'kitchen', null, false],
    ['light.led_strip', 'LED strip', 'study', { min: 0, max: 100, unit: 'percent' }, false],
    ['light.porch', 'Porch', null, null, false],
  ])('%s: name %s, room %s', (entityId, name, room, brightness, colorTemp) => {
    expect(home().lights.find((l) => l.id === `home-assistant:${entityId}`)).toEqual({
      id: `home-assistant:${entityId}`,
      name,
      room,
      backend: 'home-assistant',
      features: { onOff: true, brightness, colorTemp },
    });
  });

  it('leaves out disabled light entities and other domains', () => {
    const ids = home().lights.map((l) => l.id);
    expect(ids).not.toContain('home-assistant:light.old_bulb');
    expect(ids).not.toContain('home-assistant:switch.kettle');
    expect(ids).toHaveLength(4);
  });

  it("prefers the registry's user-given name over the state's friendly_name", () => {
    const h = household();
    h.entities[0] = { ...h.entities[0]!, name: 'reading_lamp' };
    const states = StatesSchema.parse(h.states);
    const light = homeFromRegistries({
      areas: AreasSchema.parse(h.areas),
      devices: DevicesSchema.parse(h.devices),
      entities: EntitiesSchema.parse(h.entities),
      states: new Map(states.map((s) => [s.entity_id, s])),
    }).lights.find((l) => l.id === 'home-assistant:light.floor_lamp');
    expect(light?.name).toBe('reading lamp');
  });
});
