/** The MQTT broker behind the small interface the zigbee2mqtt backend needs (the `mqtt` package). */
import mqtt, { type MqttClient } from 'mqtt';
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

export function connectMqtt(opts: MqttTransportOptions): MqttTransport {
  const log = opts.log ?? silentLogger;
  const broker = opts.url.replace(/\/\/[^@/]*@/, '//');
  const client: MqttClient = mqtt.connect(opts.url, {
    username: opts.username,
    password: opts.password,
    clientId: `helix-home-${Math.random().toString(16).slice(2, 10)}`,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    reconnectPeriod: opts.reconnectMs ?? 1000,
    // The backend subscribes on every connect itself, so retained topics are read again.
    resubscribe: false,
  });
  client.on('connect', () => log.info({ broker }, 'home: mqtt connected'));
  client.on('offline', () => log.info({ broker }, 'home: mqtt broker went away; reconnecting'));
  client.on('error', (err) => log.debug({ broker, err: err.message }, 'home: mqtt error'));
  return {
    onConnect: (handler) => void client.on('connect', () => handler()),
    onMessage: (handler) =>
      void client.on('message', (topic, payload) => handler(topic, payload.toString('utf8'))),
    async subscribe(topics) {
      await client.subscribeAsync(topics, { qos: 1 });
    },
    async publish(topic, payload) {
      await client.publishAsync(topic, payload, { qos: 1 });
    },
    get connected() {
      return client.connected;
    },
    async close() {
      await client.endAsync(true);
    },
  };
}
