import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../node/errors.js';
import { createZigbee2mqttBackend, type MqttTransport } from '../../node/home/index.js';
import * as fx from './fixtures/zigbee2mqtt.js';

/** A transport made of plain objects: the test plays the broker. */
function fakeTransport() {
  const connectHandlers: Array<() => void> = [];
  const messageHandlers: Array<(topic: string, payload: string) => void> = [];
  const subscribed: string[][] = [];
  const published: Array<[string, string]> = [];
  const transport: MqttTransport = {
    onConnect: (h) => void connectHandlers.push(h),
    onMessage: (h) => void messageHandlers.push(h),
    subscribe: async (topics) => void subscribed.push(topics),
    publish: async (topic, payload) => void published.push([topic, payload]),
    connected: true,
    close: async () => {},
  };
  return {
    transport,
    subscribed,
    published,
    connect: () => connectHandlers.forEach((h) => h()),
    deliver: (topic: string, payload: unknown) =>
      messageHandlers.forEach((h) =>
        h(topic, typeof payload === 'string' ? payload : JSON.stringify(payload)),
      ),
  };
}

describe('zigbee2mqtt backend logic with a plain-object transport', () => {
  it('subscribes to the bridge topics on every connect, so retained topics are read again', async () => {
    const t = fakeTransport();
    const backend = createZigbee2mqttBackend({ transport: t.transport, baseTopic: 'z2m' });
    await backend.start();
    t.connect();
    t.connect();
    expect(t.subscribed).toEqual([
      [
        'z2m/bridge/devices',
        'z2m/bridge/groups',
        'z2m/bridge/event',
        'z2m/bridge/response/device/rename',
      ],
      [
        'z2m/bridge/devices',
        'z2m/bridge/groups',
        'z2m/bridge/event',
        'z2m/bridge/response/device/rename',
      ],
    ]);
    await backend.stop();
  });

  it('emits a change only when rooms or lights change, and ignores a cleared retained topic', async () => {
    const t = fakeTransport();
    const backend = createZigbee2mqttBackend({ transport: t.transport });
    const changes: number[] = [];
    backend.onChange((h) => changes.push(h.lights.length));
    await backend.start();
    t.deliver('zigbee2mqtt/bridge/devices', fx.devices);
    t.deliver('zigbee2mqtt/bridge/devices', fx.devices);
    t.deliver('zigbee2mqtt/bridge/devices', '');
    t.deliver('zigbee2mqtt/bridge/groups', fx.groups);
    expect(changes).toEqual([4, 4]);
    await backend.set('zigbee2mqtt:0x0017880104e45517', { on: true, brightnessPct: 0 });
    expect(t.published).toEqual([
      ['zigbee2mqtt/living_room_lamp/set', '{"state":"ON","brightness":0}'],
    ]);
    await backend.stop();
  });

  it('refuses to start without a broker address, saying which setting', async () => {
    const backend = createZigbee2mqttBackend({});
    await expect(backend.start()).rejects.toThrow(ConfigError);
    await expect(backend.start()).rejects.toThrow(/mqtt\.url/);
  });
});
