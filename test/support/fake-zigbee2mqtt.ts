/**
 * A stand-in for zigbee2mqtt 2.x on a real broker: publishes the retained bridge/devices and
 * bridge/groups in the real schema, bridge/event and bridge/response/device/rename as zigbee2mqtt
 * does (a rename also re-publishes bridge/devices), and answers `<base>/<friendly_name>/set` by
 * publishing the device's new state on `<base>/<friendly_name>`.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { waitFor } from './wait.js';

type Json = Record<string, unknown>;

export class FakeZigbee2mqtt {
  readonly sets: Array<{ topic: string; payload: Json }> = [];
  private devices: Json[];
  private groups: Json[];

  private constructor(
    private readonly client: MqttClient,
    readonly base: string,
    devices: Json[],
    groups: Json[],
  ) {
    this.devices = structuredClone(devices);
    this.groups = structuredClone(groups);
  }

  static async start(
    url: string,
    devices: Json[],
    groups: Json[],
    base = 'zigbee2mqtt',
  ): Promise<FakeZigbee2mqtt> {
    const client = mqtt.connect(url, {
      clientId: 'fake-zigbee2mqtt',
      reconnectPeriod: 100,
      connectTimeout: 5000,
    });
    const z2m = new FakeZigbee2mqtt(client, base, devices, groups);
    await waitFor(() => client.connected, {
      timeoutMs: 10_000,
      what: 'fake zigbee2mqtt connected',
    });
    client.on('message', (topic, payload) => z2m.onSet(topic, payload.toString()));
    await client.subscribeAsync(`${base}/+/set`, { qos: 1 });
    await z2m.publishDevices();
    await z2m.publishGroups();
    return z2m;
  }

  async publishDevices(devices?: Json[]): Promise<void> {
    if (devices) this.devices = structuredClone(devices);
    await this.client.publishAsync(`${this.base}/bridge/devices`, JSON.stringify(this.devices), {
      retain: true,
      qos: 1,
    });
  }

  async publishGroups(groups?: Json[]): Promise<void> {
    if (groups) this.groups = structuredClone(groups);
    await this.client.publishAsync(`${this.base}/bridge/groups`, JSON.stringify(this.groups), {
      retain: true,
      qos: 1,
    });
  }

  /** A raw payload on a bridge topic (malformed-input tests). */
  async publishRaw(topic: string, payload: string, retain = false): Promise<void> {
    await this.client.publishAsync(`${this.base}/${topic}`, payload, { retain, qos: 1 });
  }

  async event(type: string, data: Json): Promise<void> {
    await this.client.publishAsync(`${this.base}/bridge/event`, JSON.stringify({ type, data }), {
      qos: 1,
    });
  }

  /**
   * A device pairing as zigbee2mqtt reports it: device_joined, device_interview started, then
   * successful (with its definition), then bridge/devices re-published with the device in it.
   */
  async join(device: Json): Promise<void> {
    const data = { friendly_name: device.friendly_name, ieee_address: device.ieee_address };
    await this.event('device_joined', data);
    await this.event('device_interview', { ...data, status: 'started' });
    await this.event('device_interview', {
      ...data,
      status: 'successful',
      supported: device.supported,
      definition: device.definition,
    });
    this.devices = [...this.devices.filter((d) => d.ieee_address !== device.ieee_address), device];
    await this.publishDevices();
  }

  /** What bridge/request/device/rename does: answer, then re-publish bridge/devices. */
  async rename(from: string, to: string): Promise<void> {
    const device = this.devices.find((d) => d.friendly_name === from);
    if (!device) throw new Error(`no device ${from}`);
    device.friendly_name = to;
    await this.client.publishAsync(
      `${this.base}/bridge/response/device/rename`,
      JSON.stringify({
        data: { from, to, homeassistant_rename: false },
        status: 'ok',
        transaction: 'fake-1',
      }),
      { qos: 1 },
    );
    await this.publishDevices();
  }

  get connected(): boolean {
    return this.client.connected;
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }

  private onSet(topic: string, text: string): void {
    const name = topic.slice(this.base.length + 1, -'/set'.length);
    let payload: Json;
    try {
      payload = JSON.parse(text) as Json;
    } catch {
      return; // zigbee2mqtt logs "Invalid JSON" and ignores it
    }
    this.sets.push({ topic, payload });
    void this.client.publishAsync(
      `${this.base}/${name}`,
      JSON.stringify({ linkquality: 120, ...payload }),
      { qos: 1 },
    );
  }
}
