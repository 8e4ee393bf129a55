import { describe, expect, it } from 'vitest';
import {
  combineBackends,
  combineHomes,
  UnknownLightError,
  type Home,
  type Light,
  type LightsBackend,
} from '../../node/home/index.js';

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

describe('combineBackends', () => {
  const plain = (
    name: 'zigbee2mqtt' | 'home-assistant',
    home: Home,
    log: string[],
  ): LightsBackend => {
    const listeners: Array<(h: Home) => void> = [];
    return {
      name,
      start: async () => void log.push(`start ${name}`),
      stop: async () => void log.push(`stop ${name}`),
      found: () => null,
      home: () => home,
      onChange: (l) => (listeners.push(l), () => listeners.splice(listeners.indexOf(l), 1)),
      set: async (id, command) => void log.push(`set ${name} ${id} ${command.on}`),
    };
  };

  it('starts in order, stops in reverse, and sends each command to the light’s own backend', async () => {
    const log: string[] = [];
    const both = combineBackends(plain('zigbee2mqtt', z2m, log), plain('home-assistant', ha, log));
    await both.start();
    await both.set('zigbee2mqtt:0x1', { on: true });
    await both.set('home-assistant:light.desk', { on: false });
    await expect(both.set('home-assistant:light.floor_lamp', { on: true })).rejects.toThrow(
      UnknownLightError,
    );
    await both.stop();
    expect(log).toEqual([
      'start zigbee2mqtt',
      'start home-assistant',
      'set zigbee2mqtt zigbee2mqtt:0x1 true',
      'set home-assistant home-assistant:light.desk false',
      'stop home-assistant',
      'stop zigbee2mqtt',
    ]);
  });
});
