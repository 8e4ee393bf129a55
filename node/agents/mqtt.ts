/**
 * The `mqtt.publish` host call over a real broker (the `mqtt` package). One connection per
 * node, opened on first use and kept (reconnecting) until close().
 */
import type { MqttClient } from 'mqtt';
import { UnreachableError, describeError } from '../errors.js';
import { redactCredentials, silentLogger, type Logger } from '../log.js';
import type { CallContext } from './calls.js';
import type { MqttPublishParams } from '../agentspec/index.js';

export interface MqttPublisherOptions {
  /** config mqtt.url, e.g. "mqtt://127.0.0.1:1883" */
  url: string;
  username?: string;
  password?: string;
  /** agents may publish only under "<topicPrefix>/" (config mqtt.base_topic); unset: anywhere */
  topicPrefix?: string;
  connectTimeoutMs?: number;
  clientId?: string;
  log?: Logger;
}

export interface MqttPublisher {
  publish(
    params: MqttPublishParams,
    ctx?: Pick<CallContext, 'signal'>,
  ): Promise<{ topic: string; bytes: number }>;
  close(): Promise<void>;
}

export function createMqttPublisher(opts: MqttPublisherOptions): MqttPublisher {
  const log = opts.log ?? silentLogger;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
  let client: MqttClient | null = null;
  let closed = false;
  let lastError: Error | null = null;

  // The `mqtt` package loads with the first publish, not with this module.
  const connection = async (): Promise<MqttClient> => {
    if (client) return client;
    const { default: mqtt } = await import('mqtt');
    if (client) return client;
    if (closed) throw new UnreachableError('the MQTT publisher is closed');
    client = mqtt.connect(opts.url, {
      username: opts.username,
      password: opts.password,
      clientId: opts.clientId ?? `helix-${Math.random().toString(16).slice(2, 10)}`,
      connectTimeout: connectTimeoutMs,
      reconnectPeriod: 1000,
    });
    client.on('connect', () => {
      lastError = null;
      log.info({ broker: redactCredentials(opts.url) }, 'mqtt connected');
    });
    client.on('error', (err) => {
      lastError = err;
      log.debug({ broker: redactCredentials(opts.url), err: err.message }, 'mqtt error');
    });
    return client;
  };

  const connected = (c: MqttClient, signal?: AbortSignal): Promise<void> => {
    if (c.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        cleanup();
        reject(
          new UnreachableError(
            `the MQTT broker at ${redactCredentials(opts.url)} is not reachable (${why}); check [mqtt] url and credentials in helix.toml`,
          ),
        );
      };
      const onConnect = (): void => {
        cleanup();
        resolve();
      };
      const onAbort = (): void => fail('cancelled');
      const timer = setTimeout(
        () => fail(lastError ? describeError(lastError) : `no answer in ${connectTimeoutMs} ms`),
        connectTimeoutMs,
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        c.off('connect', onConnect);
        signal?.removeEventListener('abort', onAbort);
      };
      c.on('connect', onConnect);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };

  return {
    async publish(params, ctx) {
      const refused = publishTopicProblem(params.topic, opts.topicPrefix);
      if (refused) throw new Error(refused);
      const c = await connection();
      await connected(c, ctx?.signal);
      const payload =
        typeof params.payload === 'string' ? params.payload : JSON.stringify(params.payload);
      await c.publishAsync(params.topic, payload, { qos: params.qos, retain: params.retain });
      log.debug({ topic: params.topic, bytes: Buffer.byteLength(payload) }, 'mqtt published');
      return { topic: params.topic, bytes: Buffer.byteLength(payload) };
    },
    async close() {
      closed = true;
      const c = client;
      client = null;
      if (c) await c.endAsync(true);
    },
  };
}

/**
 * Why an agent may not publish to `topic`, or null when it may. Agents publish to devices under
 * "<base>/" (config mqtt.base_topic, e.g. zigbee2mqtt/kitchen-1/set), never:
 * - outside "<base>/" (another bridge's or service's topics; "$SYS" and the like),
 * - to the bridge itself, "<base>/bridge" and everything under it: zigbee2mqtt's
 *   "<base>/bridge/request/..." topics permit joining devices, remove them, rename them, change
 *   the bridge's options and restart it;
 * - with a wildcard (+, #), which a broker may reject or mishandle in a publish, or a NUL.
 */
export function publishTopicProblem(topic: string, base?: string): string | null {
  if (/[+#\0]/.test(topic))
    return `agents may not publish to "${topic}": a publish topic has no wildcards (+, #)`;
  if (!base) return null;
  if (!topic.startsWith(`${base}/`) || topic.length === base.length + 1)
    return `agents may publish only under "${base}/" (mqtt.base_topic), not to "${topic}"; publish to a device, e.g. "${base}/DEVICE/set"`;
  const first = topic.slice(base.length + 1).split('/')[0];
  if (first === 'bridge')
    return `agents may not publish to "${topic}": "${base}/bridge/..." are the Zigbee bridge's own control topics (pairing, removing and renaming devices, restarting the bridge); publish to a device, e.g. "${base}/DEVICE/set"`;
  return null;
}
