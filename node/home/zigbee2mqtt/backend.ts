/**
 * zigbee2mqtt as a LightsBackend: subscribes to the bridge topics, rebuilds the Home on every
 * update, and switches lights through `<base>/<friendly_name>/set`.
 */
import { ConfigError, describeError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { Listeners, type LightsBackend } from '../backend.js';
import { BackendStoppedError, HomeConnectionError, UnknownLightError } from '../errors.js';
import { sameHome, type Home, type LightCommand } from '../model.js';
import {
  applyBridgeUpdate,
  bridgeTopics,
  emptyBridgeState,
  foundFromBridge,
  homeFromBridge,
  parseBridgeMessage,
  setMessage,
  type BridgeHome,
  type BridgeState,
} from './parse.js';
import { connectMqtt, type MqttTransport, type MqttTransportOptions } from './mqtt-transport.js';

export interface Zigbee2mqttOptions {
  /** zigbee2mqtt's base_topic (its configuration.yaml `mqtt.base_topic`), default "zigbee2mqtt". */
  baseTopic?: string;
  /** The broker; ignored when `transport` is given. */
  mqtt?: MqttTransportOptions;
  /** For tests with plain objects; default: connectMqtt(mqtt). */
  transport?: MqttTransport;
  connectTimeoutMs?: number;
  log?: Logger;
}

export function createZigbee2mqttBackend(opts: Zigbee2mqttOptions): LightsBackend {
  const base = opts.baseTopic ?? 'zigbee2mqtt';
  const log = opts.log ?? silentLogger;
  const listeners = new Listeners<Home>((err) =>
    log.warn({ err: describeError(err) }, 'home: a change listener threw'),
  );
  let transport: MqttTransport | null = null;
  let state: BridgeState = emptyBridgeState;
  let built: BridgeHome = homeFromBridge(state);

  const onMessage = (topic: string, payload: string): void => {
    if (topic.startsWith(`${base}/bridge/`) && payload === '') return; // a cleared retained topic
    const parsed = parseBridgeMessage(base, topic, payload);
    if (!parsed.ok) {
      log.warn(
        { topic, why: parsed.why },
        'home: ignored a malformed zigbee2mqtt message; keeping the last good state',
      );
      return;
    }
    if (!parsed.update) return;
    log.debug({ topic, kind: parsed.update.kind }, 'home: zigbee2mqtt update');
    const wasComplete = state.devices !== null && state.groups !== null;
    state = applyBridgeUpdate(state, parsed.update);
    const next = homeFromBridge(state);
    const complete = state.devices !== null && state.groups !== null;
    const changed = !sameHome(built.home, next.home) || complete !== wasComplete;
    built = next;
    if (changed) {
      log.info(
        { rooms: next.home.rooms.length, lights: next.home.lights.length },
        'home: zigbee2mqtt rooms and lights changed',
      );
      listeners.emit(next.home);
    }
  };

  return {
    name: 'zigbee2mqtt',
    async start(signal) {
      if (transport) return;
      if (!opts.transport && !opts.mqtt?.url) {
        throw new ConfigError(
          'mqtt.url',
          opts.mqtt?.url,
          'the zigbee2mqtt backend needs the MQTT broker address, e.g. "mqtt://127.0.0.1:1883"',
        );
      }
      const t = opts.transport ?? connectMqtt({ url: '', ...opts.mqtt });
      transport = t;
      t.onMessage(onMessage);
      t.onConnect(() => {
        // Each connect subscribes again, so a restarted broker sends its retained topics again.
        t.subscribe(bridgeTopics(base)).catch((err: unknown) =>
          log.warn(
            { err: describeError(err) },
            'home: subscribing to zigbee2mqtt bridge topics failed',
          ),
        );
      });
      await waitConnected(t, opts.connectTimeoutMs ?? 10_000, signal).catch(async (err) => {
        transport = null;
        await t.close();
        throw err;
      });
    },
    async stop() {
      const t = transport;
      transport = null;
      await t?.close();
    },
    home: () => built.home,
    found: () => foundFromBridge(state, built),
    onChange: (listener) => listeners.add(listener),
    async set(lightId: string, command: LightCommand) {
      if (!transport) throw new BackendStoppedError('the zigbee2mqtt backend is not started');
      const target = built.lights.get(lightId);
      if (!target) throw new UnknownLightError(lightId, [...built.lights.keys()]);
      const { topic, payload } = setMessage(base, target, command);
      await transport.publish(topic, JSON.stringify(payload));
      log.debug({ topic, payload }, 'home: zigbee2mqtt set');
    },
  };
}

function waitConnected(t: MqttTransport, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  if (t.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (t.connected) finish();
      else if (Date.now() > deadline) fail(`no connection in ${timeoutMs} ms`);
    }, 20);
    const deadline = Date.now() + timeoutMs;
    const onAbort = (): void => fail('cancelled');
    const finish = (): void => {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const fail = (why: string): void => {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(
        new HomeConnectionError(
          `the MQTT broker for zigbee2mqtt is not reachable (${why}); check the broker address and credentials`,
        ),
      );
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
