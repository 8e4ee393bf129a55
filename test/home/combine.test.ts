import { describe, expect, it } from 'vitest';
import { combineHomes, type Home, type Light } from '../../node/home/index.js';

const light = (
  backend: Light['backend'],
  id: string,
  name: string,
  room: string | null,
): Light => ({
  id: `${backend}:${id}`,
  name,
  room,
  backend,
  features: { onOff: true, brightness: null, colorTemp: false },
});

const z2m: Home = {
  rooms: [
    { key: 'living room', name: 'living room' },
    { key: 'kitchen', name: 'kitchen' },
  ],
  lights: [
    light('zigbee2mqtt', '0x1', 'floor lamp', 'living room'),
    light('zigbee2mqtt', '0x2', 'ceiling', 'kitchen'),
  ],
};
const ha: Home = {
  rooms: [
    { key: 'living room', name: 'Living Room' },
    { key: 'study', name: 'Study' },
  ],
  lights: [
    light('home-assistant', 'light.floor_lamp', 'Floor Lamp', 'living room'),
    light('home-assistant', 'light.desk', 'desk lamp', 'study'),
    light('home-assistant', 'light.ceiling', 'ceiling', 'living room'),
  ],
};

describe('both backends with one preferred', () => {
  it('keeps the preferred light when both name the same light in the same room', () => {
    const home = combineHomes(z2m, ha);
    expect(home.lights.map((l) => l.id)).toEqual([
      'zigbee2mqtt:0x1',
      'zigbee2mqtt:0x2',
      'home-assistant:light.desk',
      'home-assistant:light.ceiling',
    ]);
  });

  it('unions rooms, the preferred backend naming the shared ones', () => {
    expect(combineHomes(ha, z2m).rooms).toEqual([
      { key: 'living room', name: 'Living Room' },
      { key: 'study', name: 'Study' },
      { key: 'kitchen', name: 'kitchen' },
    ]);
  });

  it('turns around when the other backend is preferred', () => {
    expect(combineHomes(ha, z2m).lights.map((l) => l.id)).toEqual([
      'home-assistant:light.floor_lamp',
      'home-assistant:light.desk',
      'home-assistant:light.ceiling',
      'zigbee2mqtt:0x2',
    ]);
  });
});
