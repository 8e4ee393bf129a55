import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createZigbee2mqttBackend,
  UnknownLightError,
  type Home,
  type LightsBackend,
} from '../../node/home/index.js';
import { FakeZigbee2mqtt } from '../support/fake-zigbee2mqtt.js';
import { Mosquitto } from '../support/mosquitto.js';
import { waitFor } from '../support/wait.js';
import * as fx from './fixtures/zigbee2mqtt.js';
import { capturingLogger } from '../support/log.js';

const lamp = 'zigbee2mqtt:0x0017880104e45517';
const counter = 'zigbee2mqtt:0x00158d0001e1a2b3';

describe('zigbee2mqtt backend on a real mosquitto', () => {
  let broker: Mosquitto;
  let z2m: FakeZigbee2mqtt;
  let backend: LightsBackend;
  let lines: Array<Record<string, unknown>>;

  beforeEach(async () => {
    broker = await Mosquitto.start();
    // Published before HelixOS connects: it must come from the broker's retained copies.
    z2m = await FakeZigbee2mqtt.start(broker.url, fx.devices, fx.groups);
    const logger = capturingLogger();
    lines = logger.lines;
    backend = createZigbee2mqttBackend({
      mqtt: { url: broker.url, reconnectMs: 100 },
      log: logger.log,
    });
    await backend.start(AbortSignal.timeout(10_000));
    await waitFor(() => backend.home().lights.length === 4, {
      timeoutMs: 5000,
      what: 'lights from retained topics',
    });
  });

  afterEach(async () => {
    await backend?.stop();
    await z2m?.stop();
    await broker?.stop();
  });

  it('finds rooms and lights from the retained bridge topics', () => {
    const home = backend.home();
    expect(home.rooms.map((r) => r.key)).toEqual(['living room', 'kitchen', 'garage']);
    expect(home.lights.map((l) => `${l.name}@${l.room}`).sort()).toEqual([
      'dimmer 2ch l1@living room',
      'dimmer 2ch l2@kitchen',
      'kitchen counter@kitchen',
      'living room lamp@living room',
    ]);
  });

  it('publishes to <base>/<friendly_name>/set, with brightness only for lights that dim', async () => {
    await backend.set(lamp, { on: true, brightnessPct: 100 });
    await backend.set(counter, { on: true, brightnessPct: 50 });
    await backend.set('zigbee2mqtt:0xa4c138f06eb0e7a1/l1', { on: false });
    await waitFor(() => z2m.sets.length === 3, { timeoutMs: 3000, what: 'three /set messages' });
    expect(z2m.sets).toEqual([
      { topic: 'zigbee2mqtt/living_room_lamp/set', payload: { state: 'ON', brightness: 254 } },
      { topic: 'zigbee2mqtt/kitchen_counter/set', payload: { state: 'ON' } },
      { topic: 'zigbee2mqtt/dimmer_2ch/set', payload: { state_l1: 'OFF' } },
    ]);
    await expect(backend.set('zigbee2mqtt:0xdead', { on: true })).rejects.toThrow(
      UnknownLightError,
    );
  });

  it('follows joins, renames and group changes, emitting a change each time', async () => {
    const changes: Home[] = [];
    backend.onChange((h) => changes.push(h));
    const ieee = fx.interviewing.ieee_address;
    await z2m.join({
      ...fx.interviewing,
      supported: true,
      definition: fx.hueBulb.definition,
      interviewing: false,
      interview_completed: true,
      interview_state: 'SUCCESSFUL',
      endpoints: fx.hueBulb.endpoints,
    });
    await waitFor(() => backend.home().lights.length === 5, {
      timeoutMs: 3000,
      what: 'interviewed light',
    });

    await z2m.rename('living_room_lamp', 'reading_lamp');
    await waitFor(() => backend.home().lights.find((l) => l.id === lamp)?.name === 'reading lamp', {
      timeoutMs: 3000,
      what: 'rename',
    });
    await backend.set(lamp, { on: true });
    await waitFor(() => z2m.sets.some((s) => s.topic === 'zigbee2mqtt/reading_lamp/set'), {
      timeoutMs: 3000,
      what: 'set after rename',
    });

    await z2m.publishGroups([
      ...fx.groups,
      {
        id: 4,
        friendly_name: 'study',
        description: null,
        scenes: [],
        members: [{ ieee_address: ieee, endpoint: 11 }],
      },
    ]);
    await waitFor(
      () => backend.home().lights.find((l) => l.id === `zigbee2mqtt:${ieee}`)?.room === 'study',
      { timeoutMs: 3000, what: 'new room' },
    );

    await z2m.event('device_leave', {
      ieee_address: fx.onOffLight.ieee_address,
      friendly_name: 'kitchen_counter',
    });
    await waitFor(() => !backend.home().lights.some((l) => l.id === counter), {
      timeoutMs: 3000,
      what: 'device left',
    });
    expect(changes.length).toBeGreaterThanOrEqual(4);
    expect(changes.at(-1)).toEqual(backend.home());
  });

  it('logs a malformed payload naming the topic and why, and keeps the last good state', async () => {
    const before = backend.home();
    await z2m.publishRaw('bridge/devices', '{"truncated": ', true);
    await z2m.publishRaw(
      'bridge/groups',
      JSON.stringify([{ id: 'one', friendly_name: 'x', members: [] }]),
      true,
    );
    await waitFor(
      () => lines.filter((l) => /malformed zigbee2mqtt/.test(String(l.msg))).length === 2,
      { timeoutMs: 3000, what: 'two log lines' },
    );
    const logged = lines.filter((l) => /malformed zigbee2mqtt/.test(String(l.msg)));
    expect(logged.map((l) => l.topic)).toEqual([
      'zigbee2mqtt/bridge/devices',
      'zigbee2mqtt/bridge/groups',
    ]);
    expect(String(logged[0]?.why)).toMatch(/not JSON/);
    expect(String(logged[1]?.why)).toMatch(/0\.id/);
    expect(backend.home()).toEqual(before);
  });

  it('reconnects after a broker restart and reads the retained topics again', async () => {
    const devicesReads = () =>
      lines.filter(
        (l) => l.msg === 'home: zigbee2mqtt update' && l.topic === 'zigbee2mqtt/bridge/devices',
      ).length;
    const readsBefore = devicesReads();
    await broker.restart();
    await waitFor(() => devicesReads() > readsBefore, {
      timeoutMs: 10_000,
      what: 'bridge/devices read again after the restart',
    });
    expect(backend.home().lights).toHaveLength(4);
    // And it keeps following: the stand-in reconnected too and renames a group.
    await waitFor(() => z2m.connected, { timeoutMs: 10_000, what: 'stand-in reconnected' });
    await z2m.publishGroups(
      fx.groups.map((g) => (g.id === 2 ? { ...g, friendly_name: 'galley_kitchen' } : g)),
    );
    await waitFor(
      () => backend.home().lights.find((l) => l.id === counter)?.room === 'galley kitchen',
      { timeoutMs: 5000, what: 'room renamed after restart' },
    );
    await backend.set(counter, { on: false });
    await waitFor(() => z2m.sets.some((s) => s.topic === 'zigbee2mqtt/kitchen_counter/set'), {
      timeoutMs: 3000,
      what: 'set after restart',
    });
  });
});
