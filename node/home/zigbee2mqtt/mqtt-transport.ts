/** The MQTT broker behind the small interface the zigbee2mqtt backend needs (the `mqtt` package). */
import { connect as tcpConnect } from 'node:net';
import type { MqttClient } from 'mqtt';
import { delay } from '../../async.js';
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
 * Connects to the broker; the `mqtt` package is loaded once something listens at the broker's
 * address (a plain TCP connect, retried every reconnectMs), not when this module is imported or
 * the transport made: a node with no broker (the default mqtt.url on a node without one) never
 * loads it and its dependencies (ws among them; issue 12: idle memory and start-up on a Pi).
 */
export function connectMqtt(opts: MqttTransportOptions): MqttTransport {
  const log = opts.log ?? silentLogger;
  const broker = opts.url.replace(/\/\/[^@/]*@/, '//');
  let client: MqttClient | null = null;
  let closed = false;
  const pending: Array<(c: MqttClient) => void> = [];
  const reconnectMs = opts.reconnectMs ?? 1000;
  const ready: Promise<MqttClient> = brokerListens(
    opts.url,
    { timeoutMs: opts.connectTimeoutMs ?? 5000, retryMs: reconnectMs },
    () => closed,
    (err) => log.debug({ broker, err }, 'home: mqtt error'),
  )
    .then(() => import('mqtt'))
    .then(({ default: mqtt }) => {
      const c = mqtt.connect(opts.url, {
        username: opts.username,
        password: opts.password,
        clientId: `helix-home-${Math.random().toString(16).slice(2, 10)}`,
        connectTimeout: opts.connectTimeoutMs ?? 5000,
        reconnectPeriod: reconnectMs,
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
  ready.catch((err: unknown) => {
    if (!(err instanceof TransportClosed))
      log.warn({ broker, err: String(err) }, 'home: the mqtt client could not be loaded');
  });
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

/** The transport was closed before the broker listened. */
class TransportClosed extends Error {
  constructor(broker: string) {
    super(`the connection to the MQTT broker ${broker} was closed before it connected`);
  }
}

/** Resolves once a TCP connection to the broker's host and port succeeds; retries until closed. */
async function brokerListens(
  url: string,
  o: { timeoutMs: number; retryMs: number },
  closed: () => boolean,
  onError: (err: string) => void,
): Promise<void> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port || (u.protocol === 'mqtts:' ? 8883 : 1883));
  for (;;) {
    if (closed()) throw new TransportClosed(url.replace(/\/\/[^@/]*@/, '//'));
    const err = await new Promise<string | null>((resolve) => {
      const socket = tcpConnect({ host, port, timeout: o.timeoutMs });
      socket.once('connect', () => (socket.destroy(), resolve(null)));
      socket.once(
        'timeout',
        () => (socket.destroy(), resolve(`connect ETIMEDOUT ${host}:${port}`)),
      );
      socket.once('error', (e) => (socket.destroy(), resolve(e.message)));
    });
    if (err === null) return;
    onError(err);
    if (!closed()) await delay(o.retryMs);
  }
}
