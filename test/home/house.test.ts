/** resolveHouse: the one rule every node applies to the same settings (pure). */
import { describe, expect, it } from 'vitest';
import {
  agentView,
  resolveHouse,
  typedLightId,
  type FoundHome,
  type FoundLight,
} from '../../node/home/index.js';

const z2mLight = (id: string, name: string, room: string | null, dims = true): FoundLight => ({
  id: `zigbee2mqtt:${id}`,
  name,
  room,
  backend: 'zigbee2mqtt',
  features: {
    onOff: true,
    brightness: dims ? { min: 0, max: 254, unit: 'raw' } : null,
    colorTemp: false,
  },
  address: {
    kind: 'zigbee2mqtt',
    friendlyName: name.replace(/ /g, '_'),
    stateProperty: 'state',
    valueOn: 'ON',
    valueOff: 'OFF',
    brightnessProperty: dims ? 'brightness' : null,
  },
});
const haLight = (entity: string, name: string, room: string | null): FoundLight => ({
  id: `home-assistant:${entity}`,
  name,
  room,
  backend: 'home-assistant',
  features: { onOff: true, brightness: { min: 0, max: 100, unit: 'percent' }, colorTemp: false },
  address: { kind: 'home-assistant', entityId: entity },
});

const Z2M: FoundHome = {
  rooms: [
    { key: 'living room', name: 'Living Room' },
    { key: 'kitchen', name: 'Kitchen' },
  ],
  lights: [
    z2mLight('0x1', 'sofa lamp', 'living room'),
    z2mLight('0x2', 'kitchen counter', 'kitchen', false),
  ],
};
const HA: FoundHome = {
  rooms: [
    { key: 'kitchen', name: 'Kitchen' },
    { key: 'study', name: 'Study' },
  ],
  lights: [
    // the same bulb as zigbee2mqtt's, seen through Home Assistant's MQTT integration
    haLight('light.kitchen_counter', 'Kitchen Counter', 'kitchen'),
    haLight('light.desk', 'Desk', 'study'),
  ],
};

const house = (over: Partial<Parameters<typeof resolveHouse>[0]> = {}) =>
  resolveHouse({
    userRooms: {},
    found: { zigbee2mqtt: Z2M, 'home-assistant': HA },
    backend: 'zigbee2mqtt',
    preferred: 'zigbee2mqtt',
    ...over,
  });

describe('resolveHouse', () => {
  it('takes the chosen backend only, rooms named as said', () => {
    const h = house();
    expect(h.rooms.map((r) => [r.name, r.source, r.lights])).toEqual([
      ['kitchen', 'zigbee2mqtt', ['zigbee2mqtt:0x2']],
      ['living room', 'zigbee2mqtt', ['zigbee2mqtt:0x1']],
    ]);
    expect(house({ backend: 'home_assistant' }).rooms.map((r) => r.name)).toEqual([
      'kitchen',
      'study',
    ]);
  });

  it('with both, keeps the preferred copy of a light both know, and every room', () => {
    const z = house({ backend: 'both', preferred: 'zigbee2mqtt' });
    expect(z.rooms.map((r) => r.name)).toEqual(['kitchen', 'living room', 'study']);
    expect(z.lights.map((l) => l.id)).toEqual([
      'home-assistant:light.desk',
      'zigbee2mqtt:0x1',
      'zigbee2mqtt:0x2',
    ]);
    const h = house({ backend: 'both', preferred: 'home_assistant' });
    expect(h.lights.map((l) => l.id)).toEqual([
      'home-assistant:light.desk',
      'home-assistant:light.kitchen_counter',
      'zigbee2mqtt:0x1',
    ]);
    // names are lower case words whatever the backend wrote
    expect(h.lights.map((l) => l.name)).toEqual(['desk', 'kitchen counter', 'sofa lamp']);
  });

  it('a room a person set replaces the found one; its names match found lights or are typed friendly names', () => {
    const h = house({
      userRooms: { Living_Room: { lights: ['sofa_lamp', 'floor_lamp'] }, porch: { lights: [] } },
    });
    const living = h.rooms.find((r) => r.key === 'living room')!;
    expect(living).toMatchObject({ name: 'living room', source: 'settings' });
    expect(living.lights).toEqual(['zigbee2mqtt:0x1', typedLightId('floor_lamp')]);
    const typed = h.lights.find((l) => l.id === typedLightId('floor_lamp'))!;
    expect(typed).toMatchObject({
      name: 'floor lamp',
      room: 'living room',
      address: { kind: 'zigbee2mqtt', friendlyName: 'floor_lamp', stateProperty: 'state' },
    });
    expect(h.rooms.find((r) => r.key === 'porch')?.lights).toEqual([]);
  });

  it('a light the person’s room does not name leaves the found room; hidden rooms are not rooms', () => {
    const h = house({
      userRooms: { kitchen: { lights: [] }, 'living room': { lights: [], hidden: true } },
    });
    expect(h.rooms.map((r) => r.name)).toEqual(['kitchen']);
    expect(h.lights.find((l) => l.id === 'zigbee2mqtt:0x2')?.room).toBeNull();
  });

  it('gives agents room -> lights with ids and whether they dim', () => {
    expect(agentView(house())).toEqual({
      kitchen: [{ id: 'zigbee2mqtt:0x2', name: 'kitchen counter', dims: false }],
      'living room': [{ id: 'zigbee2mqtt:0x1', name: 'sofa lamp', dims: true }],
    });
  });
});
