import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentRunner,
  DockerRuntime,
  createMqttPublisher,
  type HostCalls,
  type MqttPublisher,
} from '../../node/agents/index.js';
import { overlayMeshSettings } from '../../node/settings/index.js';
import {
  createLightSwitch,
  resolveHouse,
  type FoundHome,
  type House,
  type UserRoom,
} from '../../node/home/index.js';
import { ensureDockerEngine, removeContainers, removeImages } from '../support/docker.js';
import { buildAgents, collect, CONTAINER_PREFIX, IMAGE_PREFIX, outcome } from './helpers.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const USER = 'helix';
const PASSWORD = 'lights-test-password';

/** A switch-only zigbee2mqtt light the backend found in the hall (no brightness feature). */
const FOUND: FoundHome = {
  rooms: [{ key: 'hall', name: 'Hall' }],
  lights: [
    {
      id: 'zigbee2mqtt:0x00124b0001/l1',
      name: 'hall relay l1',
      room: 'hall',
      backend: 'zigbee2mqtt',
      features: { onOff: true, brightness: null, colorTemp: false },
      address: {
        kind: 'zigbee2mqtt',
        friendlyName: 'hall_relay',
        stateProperty: 'state_l1',
        valueOn: 'ON',
        valueOff: 'OFF',
        brightnessProperty: null,
      },
    },
  ],
};

/** The house from rooms as set and FOUND, its agent view as context, and a switch over `publish`. */
function homeFor(
  rooms: Record<string, UserRoom>,
  publish: (topic: string, payload: Record<string, unknown>, signal?: AbortSignal) => Promise<void>,
): { config: Record<string, unknown>; handlers: Partial<HostCalls> } {
  const house: House = resolveHouse({
    userRooms: rooms,
    found: { zigbee2mqtt: FOUND },
    backend: 'zigbee2mqtt',
    preferred: 'zigbee2mqtt',
  });
  const lights = createLightSwitch({
    house: () => house,
    baseTopic: () => 'zigbee2mqtt',
    publish,
    homeAssistant: () => null,
  });
  return {
    // the tree the daemon gives agents: the house laid over a (here empty) helix.toml
    config: overlayMeshSettings(
      {},
      {
        rooms: rooms as Record<string, { lights: string[] }>,
        found: { zigbee2mqtt: FOUND },
        lights: { backend: 'zigbee2mqtt', preferred: 'zigbee2mqtt' },
      },
      house,
    ),
    handlers: {
      'home.call_service': (p, ctx) =>
        lights({
          lights: p.lights,
          command: {
            on: p.service === 'turn_on',
            ...(p.brightness_pct !== undefined && { brightnessPct: p.brightness_pct }),
          },
          signal: ctx.signal,
        }),
    },
  };
}

describe('lights agent over a real MQTT broker', () => {
  let docker: Docker;
  let dir: string;
  let broker: ChildProcess;
  let port: number;
  let subscriber: MqttClient;
  let publisher: MqttPublisher;
  let runner: AgentRunner;
  const received: Array<{ topic: string; payload: unknown }> = [];
  const prefix = `${CONTAINER_PREFIX}lights-`;

  beforeAll(async () => {
    docker = await ensureDockerEngine();
    dir = await mkdtemp(path.join(os.tmpdir(), 'helix-test-mqtt-'));
    port = await freePort();
    // mosquitto started as root drops to its own user, which must be able to read its files.
    await chmod(dir, 0o755);
    await writeFile(path.join(dir, 'passwd'), `${USER}:${PASSWORD}\n`);
    await promisify(execFile)('mosquitto_passwd', ['-U', path.join(dir, 'passwd')], {
      timeout: 10_000,
    });
    await chmod(path.join(dir, 'passwd'), 0o644);
    await writeFile(
      path.join(dir, 'mosquitto.conf'),
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${path.join(dir, 'passwd')}`,
        'persistence false',
        '',
      ].join('\n'),
    );
    broker = spawn('mosquitto', ['-c', path.join(dir, 'mosquitto.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let brokerLog = '';
    broker.stderr?.on('data', (d: Buffer) => (brokerLog += d.toString()));
    broker.once('exit', (code) => {
      if (code) console.error(`mosquitto exited with ${code}: ${brokerLog}`);
    });
    const url = `mqtt://127.0.0.1:${port}`;
    subscriber = mqtt.connect(url, {
      username: USER,
      password: PASSWORD,
      reconnectPeriod: 200,
      connectTimeout: 5000,
    });
    await waitFor(() => subscriber.connected, { timeoutMs: 15_000, what: 'mosquitto' });
    await subscriber.subscribeAsync('zigbee2mqtt/#', { qos: 1 });
    subscriber.on('message', (topic, payload) =>
      received.push({ topic, payload: JSON.parse(payload.toString()) }),
    );

    publisher = createMqttPublisher({
      url,
      username: USER,
      password: PASSWORD,
      topicPrefix: 'zigbee2mqtt',
    });
    const agents = await buildAgents(docker, ['lights']);
    const home = homeFor(
      {
        kitchen: { lights: ['kitchen_ceiling', 'kitchen_counter'] },
        living_room: { lights: ['lounge_lamp'] },
      },
      async (topic, payload, signal) =>
        void (await publisher.publish(
          { topic, payload, qos: 1, retain: false },
          signal && { signal },
        )),
    );
    runner = new AgentRunner({
      runtime: new DockerRuntime({ docker }),
      agents,
      host: 'lights-test',
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: prefix,
      config: home.config,
      handlers: home.handlers,
    });
    await runner.start();
  });

  afterAll(async () => {
    await runner?.stop();
    await publisher?.close();
    await subscriber?.endAsync(true);
    broker?.kill('SIGTERM');
    await removeContainers(docker, prefix);
    await removeImages(docker, IMAGE_PREFIX);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const take = async (n: number) => {
    await waitFor(() => received.length >= n, { timeoutMs: 10_000, what: `${n} MQTT messages` });
    return received.splice(0, received.length);
  };

  it('turns a room on and off in zigbee2mqtt convention, for every device in the room', async () => {
    const on = await collect(
      runner.run({ agent: 'lights', intent: 'on', args: { room: 'Kitchen' } }),
    );
    expect(outcome(on)).toMatchObject({ type: 'result', text: 'Turned on the kitchen lights.' });
    expect(await take(2)).toEqual([
      { topic: 'zigbee2mqtt/kitchen_ceiling/set', payload: { state: 'ON' } },
      { topic: 'zigbee2mqtt/kitchen_counter/set', payload: { state: 'ON' } },
    ]);

    const off = await collect(
      runner.run({ agent: 'lights', intent: 'off', args: { room: 'living room' } }),
    );
    expect(outcome(off)).toMatchObject({
      type: 'result',
      text: 'Turned off the living room lights.',
    });
    expect(await take(1)).toEqual([
      { topic: 'zigbee2mqtt/lounge_lamp/set', payload: { state: 'OFF' } },
    ]);
  });

  it.each([
    [100, 254],
    [40, 102],
    [0, 0],
  ])('dims to %i percent as brightness %i of 254', async (level, brightness) => {
    const dim = await collect(
      runner.run({ agent: 'lights', intent: 'dim', args: { room: 'kitchen', level } }),
    );
    expect(outcome(dim)).toMatchObject({
      type: 'result',
      text: `Dimmed the kitchen lights to ${level} percent.`,
    });
    expect((await take(2)).map((m) => m.payload)).toEqual([
      { state: 'ON', brightness },
      { state: 'ON', brightness },
    ]);
  });

  it('switches a light that only turns on and off, and never sends it a brightness', async () => {
    const on = await collect(runner.run({ agent: 'lights', intent: 'on', args: { room: 'hall' } }));
    expect(outcome(on)).toMatchObject({ type: 'result', text: 'Turned on the hall lights.' });
    expect(await take(1)).toEqual([
      { topic: 'zigbee2mqtt/hall_relay/set', payload: { state_l1: 'ON' } },
    ]);
    const dim = await collect(
      runner.run({ agent: 'lights', intent: 'dim', args: { room: 'hall', level: 50 } }),
    );
    expect(outcome(dim)).toMatchObject({
      type: 'error',
      agentCode: 'cannot_dim',
      message: 'The hall lights cannot be dimmed; they only switch on and off.',
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toEqual([]);
  });

  it('says which rooms exist when asked for one that does not, and sends nothing', async () => {
    const r = await collect(
      runner.run({ agent: 'lights', intent: 'on', args: { room: 'garage' } }),
    );
    expect(outcome(r)).toMatchObject({
      type: 'error',
      agentCode: 'unknown_room',
      message: "I don't know a room called garage; the rooms are hall, kitchen and living room.",
    });
    await new Promise((res) => setTimeout(res, 300));
    expect(received).toEqual([]);
  });

  it('turns a light on by its name', async () => {
    const on = await collect(
      runner.run({ agent: 'lights', intent: 'on', args: { device: 'lounge lamp' } }),
    );
    expect(outcome(on)).toMatchObject({ type: 'result', text: 'Turned on the lounge lamp.' });
    expect(await take(1)).toEqual([
      { topic: 'zigbee2mqtt/lounge_lamp/set', payload: { state: 'ON' } },
    ]);
  });

  it("reports an unreachable broker as the agent's clear error", async () => {
    const downPort = await freePort(); // nothing listens here
    const down = createMqttPublisher({
      url: `mqtt://127.0.0.1:${downPort}`,
      connectTimeoutMs: 1000,
    });
    const home = homeFor(
      { kitchen: { lights: ['k1'] } },
      async (topic, payload, signal) =>
        void (await down.publish({ topic, payload, qos: 1, retain: false }, signal && { signal })),
    );
    const r = new AgentRunner({
      runtime: new DockerRuntime({ docker }),
      agents: runner.list(),
      host: 'lights-down',
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: `${prefix}down-`,
      warmPoolSize: 0,
      config: home.config,
      handlers: home.handlers,
    });
    const events = await collect(
      r.run({ agent: 'lights', intent: 'on', args: { room: 'kitchen' } }),
    );
    await r.stop();
    await down.close();
    expect(outcome(events)).toMatchObject({
      type: 'error',
      code: 'agent_error',
      agentCode: 'switch_failed',
    });
    expect((outcome(events) as { message: string }).message).toMatch(
      new RegExp(`MQTT broker at mqtt://127\\.0\\.0\\.1:${downPort} is not reachable`),
    );
  });

  it('keeps agents to the base topic', async () => {
    await expect(
      publisher.publish({
        topic: 'homeassistant/switch/set',
        payload: 'ON',
        qos: 1,
        retain: false,
      }),
    ).rejects.toThrow(/only under "zigbee2mqtt\/"/);
  });
});
