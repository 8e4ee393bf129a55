/**
 * The house on one node (settings/mesh-home.ts) over real parts: Debian's mosquitto with the
 * zigbee2mqtt stand-in, and the Home Assistant websocket stand-in. What a backend finds becomes
 * the mesh setting home.found.<backend> (once per change, not per message); lights are switched
 * through the backend that holds them, with a brightness only for lights that dim; credentials
 * never reach the tree agents read; bad input is logged with its source and changes nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../node/log.js';
import { MeshHome, SettingsStore, homeSources, meshSettings } from '../../node/settings/index.js';
import { FakeHomeAssistant } from '../support/fake-home-assistant.js';
import { FakeZigbee2mqtt } from '../support/fake-zigbee2mqtt.js';
import { Mosquitto } from '../support/mosquitto.js';
import { waitFor } from '../support/wait.js';
import { household } from '../home/fixtures/home-assistant.js';
import { devices, groups } from '../home/fixtures/zigbee2mqtt.js';
import { capturingLogger } from '../support/log.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function store(): Promise<SettingsStore> {
  const d = await mkdtemp(path.join(tmpdir(), 'helix-mesh-home-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  const s = new SettingsStore({ stateDir: d, selfId: 'node-a', logger: silentLogger });
  await s.start();
  return s;
}

async function meshHome(s: SettingsStore, mqttUrl: string, log = silentLogger) {
  const home = new MeshHome({
    store: s,
    mqtt: { url: mqttUrl, base_topic: 'zigbee2mqtt' },
    log,
    retryMs: 100,
    connectTimeoutMs: 1000,
  });
  home.start();
  cleanups.push(() => home.stop());
  return home;
}

describe('the house from zigbee2mqtt, kept as a mesh setting', () => {
  it('writes what it found once, switches a group, and sends brightness only where it dims', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const z2m = await FakeZigbee2mqtt.start(broker.url, devices, groups);
    cleanups.push(() => z2m.stop());
    const s = await store();
    const writes: string[] = [];
    s.onChange((c) => writes.push(...c.keys));
    const home = await meshHome(s, broker.url);

    await waitFor(() => s.get('home.found.zigbee2mqtt') !== undefined, {
      timeoutMs: 10_000,
      what: 'home.found.zigbee2mqtt',
    });
    const house = home.house();
    expect(house.rooms.map((r) => [r.name, r.source])).toEqual([
      ['garage', 'zigbee2mqtt'],
      ['kitchen', 'zigbee2mqtt'],
      ['living room', 'zigbee2mqtt'],
    ]);
    // the same bridge state again (zigbee2mqtt re-publishes on restart): no new write
    await z2m.publishDevices();
    await z2m.publishGroups();
    await new Promise((r) => setTimeout(r, 500));
    expect(writes.filter((k) => k === 'home.found.zigbee2mqtt')).toHaveLength(1);

    const kitchen = house.rooms.find((r) => r.name === 'kitchen')!;
    const out = await home.switchLights({
      lights: kitchen.lights,
      command: { on: true, brightnessPct: 50 },
    });
    expect(out.switched.sort()).toEqual(['dimmer 2ch l2', 'kitchen counter']);
    expect(out.without_brightness).toEqual(['kitchen counter']);
    await waitFor(() => z2m.sets.length >= 2, { timeoutMs: 5000, what: 'two /set messages' });
    expect(z2m.sets.sort((a, b) => a.topic.localeCompare(b.topic))).toEqual([
      { topic: 'zigbee2mqtt/dimmer_2ch/set', payload: { state_l2: 'ON', brightness_l2: 127 } },
      { topic: 'zigbee2mqtt/kitchen_counter/set', payload: { state: 'ON' } },
    ]);

    // a person's room replaces the group of the same name; `hidden` drops one
    s.set('rooms.kitchen', { lights: ['kitchen_counter', 'pantry_strip'] });
    s.set('rooms.garage', { lights: [], hidden: true });
    const after = home.house();
    expect(after.rooms.map((r) => [r.name, r.source])).toEqual([
      ['kitchen', 'settings'],
      ['living room', 'zigbee2mqtt'],
    ]);
    const byId = new Map(after.lights.map((l) => [l.id, l]));
    expect(after.rooms[0]!.lights.map((id) => byId.get(id)?.name)).toEqual([
      'kitchen counter',
      'pantry strip',
    ]);
  });

  it('waits for a broker that is not there yet, and reads the bridge again after a broker restart', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    await broker.kill();
    const s = await store();
    const { log, lines } = capturingLogger();
    const home = await meshHome(s, broker.url, log);
    await waitFor(() => home.status().zigbee2mqtt.state === 'failed', {
      timeoutMs: 5000,
      what: 'the backend to report the broker unreachable',
    });
    expect(home.status().zigbee2mqtt.error).toMatch(/not reachable/);
    expect(
      lines.filter(
        (l) => l.msg === 'home: lights backend not reachable; retrying in the background',
      ),
    ).toHaveLength(1);

    await broker.restart();
    const z2m = await FakeZigbee2mqtt.start(broker.url, devices, groups);
    cleanups.push(() => z2m.stop());
    await waitFor(() => s.get('home.found.zigbee2mqtt') !== undefined, {
      timeoutMs: 10_000,
      what: 'home.found.zigbee2mqtt after the broker came up',
    });
    expect(home.status().zigbee2mqtt.state).toBe('connected');

    // garbage on a bridge topic: one log line naming the topic, the house unchanged
    const before = JSON.stringify(home.house());
    await z2m.publishRaw('bridge/devices', '{"not": "a list"', false);
    await waitFor(
      () =>
        lines.some(
          (l) => l.topic === 'zigbee2mqtt/bridge/devices' && /malformed/.test(String(l.msg)),
        ),
      { timeoutMs: 5000, what: 'a log line about the malformed payload' },
    );
    expect(JSON.stringify(home.house())).toBe(before);
  });
});

describe('the house from Home Assistant', () => {
  it('uses areas and light entities once url and token are set, and switches through call_service with the token kept on the host', async () => {
    const ha = new FakeHomeAssistant(household());
    await ha.start();
    cleanups.push(() => ha.stop());
    const s = await store();
    const { log, lines } = capturingLogger();
    // no broker: the zigbee2mqtt side fails quietly in the background
    const home = await meshHome(s, 'mqtt://127.0.0.1:9', log);
    s.set('home_assistant.url', ha.url);
    s.set('home_assistant.token', ha.token);
    // no lights.backend set: Home Assistant is used (preferred) beside zigbee2mqtt
    expect(homeSources(meshSettings(s.entries()), { url: '', base_topic: 'z' }).backend).toBe(
      'both',
    );

    await waitFor(() => s.get('home.found.home_assistant') !== undefined, {
      timeoutMs: 10_000,
      what: 'home.found.home_assistant',
    });
    const house = home.house();
    expect(house.rooms.map((r) => [r.name, r.source])).toEqual([
      ['kitchen', 'home-assistant'],
      ['living room', 'home-assistant'],
      ['study', 'home-assistant'],
    ]);
    const ids = house.lights.map((l) => l.id).sort();
    expect(ids).toEqual([
      'home-assistant:light.floor_lamp',
      'home-assistant:light.kitchen_ceiling',
      'home-assistant:light.led_strip',
      'home-assistant:light.porch',
    ]);
    // the token is in no value the mesh or agents read
    expect(JSON.stringify(home.overlay({}))).not.toContain(ha.token);
    expect(JSON.stringify(s.get('home.found.home_assistant'))).not.toContain(ha.token);

    const out = await home.switchLights({
      lights: ['home-assistant:light.led_strip', 'home-assistant:light.kitchen_ceiling'],
      command: { on: true, brightnessPct: 40 },
    });
    expect(out).toMatchObject({ without_brightness: ['kitchen ceiling'], failed: [] });
    expect(ha.calls).toEqual(
      expect.arrayContaining([
        {
          domain: 'light',
          service: 'turn_on',
          service_data: { brightness_pct: 40 },
          target: { entity_id: 'light.led_strip' },
        },
        {
          domain: 'light',
          service: 'turn_on',
          service_data: {},
          target: { entity_id: 'light.kitchen_ceiling' },
        },
      ]),
    );

    // an entity removed in Home Assistant: the house drops it; asking for it says which exist
    ha.removeEntity('light.porch');
    await waitFor(() => !home.house().lights.some((l) => l.id === 'home-assistant:light.porch'), {
      timeoutMs: 5000,
      what: 'the removed entity to leave the house',
    });
    await expect(
      home.switchLights({ lights: ['home-assistant:light.porch'], command: { on: false } }),
    ).rejects.toThrow(/no light home-assistant:light\.porch; the lights are/);

    // garbage from Home Assistant: logged with its source, nothing lost
    ha.sendRaw('{{{ not json');
    await waitFor(() => lines.some((l) => l.source && /not JSON/.test(String(l.msg))), {
      timeoutMs: 5000,
      what: 'a log line about the garbage',
    });
    expect(home.house().lights).toHaveLength(3);
    expect(JSON.stringify(lines)).not.toContain(ha.token);
  });

  it('a wrong token is reported once and not retried until the settings change', async () => {
    const ha = new FakeHomeAssistant(household());
    await ha.start();
    cleanups.push(() => ha.stop());
    const s = await store();
    s.set('lights.backend', 'home_assistant');
    s.set('home_assistant.url', ha.url);
    s.set('home_assistant.token', 'wrong');
    const home = await meshHome(s, 'mqtt://127.0.0.1:9');
    await waitFor(() => home.status().homeAssistant.state === 'failed', {
      timeoutMs: 5000,
      what: 'the auth failure',
    });
    expect(home.status().homeAssistant.error).toMatch(/refused the access token/);
    await new Promise((r) => setTimeout(r, 600));
    expect(ha.auths).toEqual([false]);
    s.set('home_assistant.token', ha.token);
    await waitFor(() => home.status().homeAssistant.state === 'connected', {
      timeoutMs: 5000,
      what: 'the new token to connect',
    });
    expect(ha.auths).toEqual([false, true]);
  });
});
