/** The MQTT broker behind the small interface the zigbee2mqtt backend needs (the `mqtt` package). */
import type { MqttClient } from 'mqtt';
import { silentLogger, type Logger } from '../../log.js';

export interface MqttTransport {
  /** Called on every (re)connect; subscribing there makes the broker send retained topics again. */
  onConnect(handler: () => void): void;
  onMessage(handler: (topic: string, payload: string) => void): void;
  subscribe(topics: string[]): Promise<void>;
  publish(topic: string, payload: string): Promise<void>;
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface MqttTransportOptions {
  /** e.g. "mqtt://127.0.0.1:1883" */
  url: string;
  username?: string;
  password?: string;
  /** Delay between reconnect attempts after the broker goes away. */
  reconnectMs?: number;
  connectTimeoutMs?: number;
  log?: Logger;
}

/**
 * Connects to the broker; the `mqtt` package is loaded on the first connect, not when this module
 * is imported, so a node that never talks to a broker never loads it.
 */
export function connectMqtt(opts: MqttTransportOptions): MqttTransport {
  const log = opts.log ?? silentLogger;
  const broker = opts.url.replace(/\/\/[^@/]*@/, '//');
  let client: MqttClient | null = null;
  let closed = false;
  const pending: Array<(c: MqttClient) => void> = [];
  const ready: Promise<MqttClient> = import('mqtt').then(({ default: mqtt }) => {
    const c = mqtt.connect(opts.url, {
      username: opts.username,
      password: opts.password,
      clientId: `helix-home-${Math.random().toString(16).slice(2, 10)}`,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      reconnectPeriod: opts.reconnectMs ?? 1000,
      // The backend subscribes on every connect itself, so retained topics are read again.
      resubscribe: false,
    });
    let connected = false;
    c.on('connect', () => {
      connected = true;
      log.info({ broker }, 'home: mqtt connected');
    });
    // Said once per outage: a broker that stays down goes offline again after every retry.
    c.on('offline', () => {
      (connected ? log.info : log.debug).call(
        log,
        { broker },
        'home: mqtt broker went away; reconnecting',
      );
      connected = false;
    });
    c.on('error', (err) => log.debug({ broker, err: err.message }, 'home: mqtt error'));
    client = c;
    for (const attach of pending.splice(0)) attach(c);
    if (closed) void c.endAsync(true);
    return c;
  });
  ready.catch((err: unknown) =>
    log.warn({ broker, err: String(err) }, 'home: the mqtt client could not be loaded'),
  );
  /** Run `attach` on the client now, or as soon as it exists. */
  const withClient = (attach: (c: MqttClient) => void): void => {
    if (client) attach(client);
    else pending.push(attach);
  };
  return {
    onConnect: (handler) => withClient((c) => void c.on('connect', () => handler())),
    onMessage: (handler) =>
      withClient(
        (c) => void c.on('message', (topic, payload) => handler(topic, payload.toString('utf8'))),
      ),
    async subscribe(topics) {
      await (await ready).subscribeAsync(topics, { qos: 1 });
    },
    async publish(topic, payload) {
      await (await ready).publishAsync(topic, payload, { qos: 1 });
    },
    get connected() {
      return client?.connected ?? false;
    },
    async close() {
      closed = true;
      if (client) await client.endAsync(true);
    },
  };
}
