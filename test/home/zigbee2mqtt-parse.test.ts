import { describe, expect, it } from 'vitest';
import {
  applyBridgeUpdate,
  emptyBridgeState,
  homeFromBridge,
  parseBridgeMessage,
  setMessage,
  type BridgeState,
  type BridgeUpdate,
} from '../../node/home/zigbee2mqtt/parse.js';
import * as fx from './fixtures/zigbee2mqtt.js';

const BASE = 'zigbee2mqtt';

function update(topic: string, payload: unknown): BridgeUpdate {
  const parsed = parseBridgeMessage(BASE, `${BASE}/${topic}`, JSON.stringify(payload));
  if (!parsed.ok || !parsed.update) throw new Error(`expected an update from ${topic}`);
  return parsed.update;
}

function stateOf(devices: unknown = fx.devices, groups: unknown = fx.groups): BridgeState {
  let state = emptyBridgeState;
  state = applyBridgeUpdate(state, update('bridge/devices', devices));
  return applyBridgeUpdate(state, update('bridge/groups', groups));
}

describe('zigbee2mqtt bridge/devices and bridge/groups -> home', () => {
  const { home } = homeFromBridge(stateOf());

  it('makes every group but default_bind_group a room, named in spoken words', () => {
    expect(home.rooms).toEqual([
      { key: 'living room', name: 'living room' },
      { key: 'kitchen', name: 'Kitchen' },
      { key: 'garage', name: 'garage' },
    ]);
  });

  it.each([
    {
      id: 'zigbee2mqtt:0x0017880104e45517',
      name: 'living room lamp',
      room: 'living room',
      features: { onOff: true, brightness: { min: 0, max: 254, unit: 'raw' }, colorTemp: true },
    },
    {
      id: 'zigbee2mqtt:0x00158d0001e1a2b3',
      name: 'kitchen counter',
      room: 'kitchen',
      features: { onOff: true, brightness: null, colorTemp: false },
    },
    {
      id: 'zigbee2mqtt:0xa4c138f06eb0e7a1/l1',
      name: 'dimmer 2ch l1',
      room: 'living room',
      features: { onOff: true, brightness: { min: 0, max: 254, unit: 'raw' }, colorTemp: false },
    },
    {
      id: 'zigbee2mqtt:0xa4c138f06eb0e7a1/l2',
      name: 'dimmer 2ch l2',
      room: 'kitchen',
      features: { onOff: true, brightness: { min: 0, max: 254, unit: 'raw' }, colorTemp: false },
    },
  ])('finds light $name in $room', (expected) => {
    expect(home.lights.find((l) => l.id === expected.id)).toEqual({
      ...expected,
      backend: 'zigbee2mqtt',
    });
  });

  it.each([
    ['the Coordinator', fx.coordinator],
    ['a switch (plug)', fx.plug],
    ['a sensor', fx.sensor],
    ['a device being interviewed', fx.interviewing],
    ['an unsupported device', fx.unsupported],
    ['a disabled light', fx.disabledLight],
  ])('does not make %s a light', (_what, device) => {
    expect(home.lights.some((l) => l.id.includes(device.ieee_address))).toBe(false);
  });

  it('has exactly the four lights', () => expect(home.lights).toHaveLength(4));

  it('uses interview_completed/interviewing when interview_state is absent (before 2.1)', () => {
    const old = {
      ...fx.hueBulb,
      interview_state: undefined,
      interviewing: true,
      interview_completed: false,
    };
    expect(homeFromBridge(stateOf([old])).home.lights).toEqual([]);
    const done = { ...old, interviewing: false, interview_completed: true };
    expect(homeFromBridge(stateOf([done])).home.lights).toHaveLength(1);
  });

  it('knows lights before groups arrive (no room yet)', () => {
    const state = applyBridgeUpdate(emptyBridgeState, update('bridge/devices', fx.devices));
    const { home: h } = homeFromBridge(state);
    expect(h.rooms).toEqual([]);
    expect(h.lights.every((l) => l.room === null)).toBe(true);
  });
});

describe('zigbee2mqtt bridge/event and renames', () => {
  it('drops a device on device_leave', () => {
    const state = applyBridgeUpdate(
      stateOf(),
      update('bridge/event', {
        type: 'device_leave',
        data: { ieee_address: fx.hueBulb.ieee_address, friendly_name: fx.hueBulb.friendly_name },
      }),
    );
    expect(homeFromBridge(state).home.lights.map((l) => l.name)).not.toContain('living room lamp');
  });

  it('adds a light when its interview succeeds, not when it starts or on join/announce', () => {
    let state = stateOf();
    const ieee = fx.interviewing.ieee_address;
    const data = { friendly_name: ieee, ieee_address: ieee };
    for (const event of [
      { type: 'device_joined', data },
      { type: 'device_announce', data },
      { type: 'device_interview', data: { ...data, status: 'started' } },
    ]) {
      state = applyBridgeUpdate(state, update('bridge/event', event));
      expect(homeFromBridge(state).home.lights).toHaveLength(4);
    }
    state = applyBridgeUpdate(
      state,
      update('bridge/event', {
        type: 'device_interview',
        data: { ...data, status: 'successful', supported: true, definition: fx.hueBulb.definition },
      }),
    );
    const light = homeFromBridge(state).home.lights.find((l) => l.id === `zigbee2mqtt:${ieee}`);
    expect(light).toMatchObject({ name: ieee, room: null });
  });

  it('renames a light from bridge/response/device/rename, keeping its id', () => {
    const state = applyBridgeUpdate(
      stateOf(),
      update('bridge/response/device/rename', {
        data: { from: 'living_room_lamp', to: 'reading_lamp', homeassistant_rename: false },
        status: 'ok',
        transaction: 'abc-1',
      }),
    );
    const light = homeFromBridge(state).home.lights.find(
      (l) => l.id === 'zigbee2mqtt:0x0017880104e45517',
    );
    expect(light?.name).toBe('reading lamp');
  });

  it('ignores a failed rename and event types it does not act on', () => {
    expect(
      parseBridgeMessage(
        BASE,
        `${BASE}/bridge/response/device/rename`,
        JSON.stringify({ data: {}, status: 'error', error: "Device 'x' does not exist" }),
      ),
    ).toEqual({ ok: true, update: null });
    expect(
      parseBridgeMessage(
        BASE,
        `${BASE}/bridge/event`,
        JSON.stringify({ type: 'device_network_address_changed', data: {} }),
      ),
    ).toEqual({ ok: true, update: null });
  });
});

describe('malformed bridge payloads', () => {
  it.each([
    ['bridge/devices', 'not json{', /not JSON/],
    ['bridge/devices', JSON.stringify({ devices: [] }), /array/i],
    [
      'bridge/devices',
      JSON.stringify([{ ieee_address: '0x1', type: 'Router' }]),
      /0\.friendly_name/,
    ],
    ['bridge/groups', JSON.stringify([{ id: 1, friendly_name: 'x' }]), /0\.members/],
    ['bridge/event', JSON.stringify({ type: 'device_leave', data: {} }), /data\.ieee_address/],
  ])('%s %s -> says why', (topic, payload, why) => {
    const parsed = parseBridgeMessage(BASE, `${BASE}/${topic}`, payload);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.why).toMatch(why);
  });
});

describe('<base>/<friendly_name>/set messages', () => {
  const { lights } = homeFromBridge(stateOf());
  const get = (id: string) => {
    const l = lights.get(id);
    if (!l) throw new Error(id);
    return l;
  };

  it('scales brightness percent to the 0-254 range', () => {
    expect(
      setMessage(BASE, get('zigbee2mqtt:0x0017880104e45517'), { on: true, brightnessPct: 50 }),
    ).toEqual({
      topic: 'zigbee2mqtt/living_room_lamp/set',
      payload: { state: 'ON', brightness: 127 },
    });
  });

  it('never sends brightness to a light without it', () => {
    expect(
      setMessage(BASE, get('zigbee2mqtt:0x00158d0001e1a2b3'), { on: true, brightnessPct: 80 }),
    ).toEqual({
      topic: 'zigbee2mqtt/kitchen_counter/set',
      payload: { state: 'ON' },
    });
  });

  it('uses the endpoint properties of a multi-endpoint device', () => {
    expect(
      setMessage(BASE, get('zigbee2mqtt:0xa4c138f06eb0e7a1/l2'), { on: true, brightnessPct: 100 }),
    ).toEqual({
      topic: 'zigbee2mqtt/dimmer_2ch/set',
      payload: { state_l2: 'ON', brightness_l2: 254 },
    });
  });

  it('sends only the state when switching off', () => {
    expect(
      setMessage(BASE, get('zigbee2mqtt:0x0017880104e45517'), { on: false, brightnessPct: 30 })
        .payload,
    ).toEqual({
      state: 'OFF',
    });
  });
});
