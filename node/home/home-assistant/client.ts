/**
 * One client for Home Assistant's websocket API (https://developers.home-assistant.io/docs/api/websocket/):
 * auth_required -> auth -> auth_ok | auth_invalid, then commands with increasing ids answered by
 * `result`, and `subscribe_events` subscriptions answered by `event` messages with the same id.
 * After a dropped connection it reconnects with backoff and subscribes again; calls in flight
 * reject with a HomeConnectionError.
 */
import type WebSocket from 'ws';
import { describeError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import {
  BackendStoppedError,
  HomeAssistantAuthError,
  HomeAssistantCommandError,
  HomeConnectionError,
} from '../errors.js';
import { ServerMessageSchema, type HaEvent } from './protocol.js';

/** What the backend needs of a Home Assistant connection (plain objects stand in for it in tests). */
export interface HomeAssistantConnection {
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  /** Send `{id, ...message}`; resolves with `result.result`, rejects with a typed error. */
  command(
    message: { type: string } & Record<string, unknown>,
    opts?: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<unknown>;
  /** Kept across reconnects: subscribed again on every new connection. */
  subscribeEvents(eventType: string, handler: (event: HaEvent) => void): void;
  /** Called after every successful auth (first connect and each reconnect), subscriptions made. */
  onConnected(handler: () => void): void;
}

export interface HomeAssistantClientOptions {
  /** http(s)://host:8123 or ws(s)://host:8123/api/websocket */
  url: string;
  /** A long-lived access token (Profile > Security). */
  token: string;
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Reconnect backoff: first delay, doubled per failed attempt up to the max. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  log?: Logger;
}

type AuthPhaseMessage = { type?: unknown; message?: unknown };

interface Pending {
  type: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** ws(s)://host/api/websocket from whatever form of Home Assistant's address the user gave. */
export function websocketUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith('/api/websocket'))
    u.pathname = `${u.pathname.replace(/\/$/, '')}/api/websocket`;
  return u.toString();
}

export function createHomeAssistantClient(
  opts: HomeAssistantClientOptions,
): HomeAssistantConnection {
  const log = opts.log ?? silentLogger;
  const url = websocketUrl(opts.url);
  const callTimeoutMs = opts.callTimeoutMs ?? 10_000;
  const minDelay = opts.reconnectMinMs ?? 500;
  const maxDelay = opts.reconnectMaxMs ?? 30_000;

  let socket: WebSocket | null = null;
  let ready = false;
  let stopped = true;
  let nextId = 1;
  let attempts = 0;
  let reconnectTimer: NodeJS.Timeout | null = null;
  /** start()'s signal while it runs: an abort while ws loads gives the attempt up */
  let startSignal: AbortSignal | undefined;
  const pending = new Map<number, Pending>();
  /** event type -> handlers; subscription id (per connection) -> event type */
  const subscriptions = new Map<string, Array<(event: HaEvent) => void>>();
  let subscriptionIds = new Map<number, string>();
  const connectedHandlers: Array<() => void> = [];

  const send = (socketNow: WebSocket, message: Record<string, unknown>): void => {
    socketNow.send(JSON.stringify(message));
  };

  const rawCommand = (
    message: { type: string } & Record<string, unknown>,
    timeoutMs = callTimeoutMs,
    signal?: AbortSignal,
  ): Promise<unknown> => {
    const s = socket;
    if (!s || !ready) {
      return Promise.reject(
        stopped
          ? new BackendStoppedError('the Home Assistant client is not started')
          : new HomeConnectionError(
              `not connected to Home Assistant at ${url} (reconnecting); try again in a moment`,
            ),
      );
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(
          new HomeConnectionError(
            `Home Assistant at ${url} did not answer ${message.type} in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onAbort = (): void => {
        pending.delete(id);
        clearTimeout(timer);
        reject(new HomeConnectionError(`${message.type} to Home Assistant was cancelled`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      pending.set(id, {
        type: message.type,
        resolve: (v) => (done(), resolve(v)),
        reject: (e) => (done(), reject(e)),
      });
      send(s, { id, ...message });
    });
  };

  const subscribeAll = async (): Promise<void> => {
    subscriptionIds = new Map();
    for (const eventType of subscriptions.keys()) {
      // Known before the answer, so no event can arrive for an id we cannot place.
      subscriptionIds.set(nextId, eventType);
      await rawCommand({ type: 'subscribe_events', event_type: eventType });
    }
  };

  const failPending = (why: string): void => {
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(
        new HomeConnectionError(
          `the connection to Home Assistant at ${url} dropped while waiting for the answer to ${p.type} (${why}); it reconnects by itself, try again`,
        ),
      );
    }
  };

  const onMessage = (data: WebSocket.RawData): void => {
    const text = data.toString();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      log.warn(
        { source: url, bytes: text.length },
        'home: ignored a Home Assistant message that is not JSON',
      );
      return;
    }
    // With coalesce_messages a server may send arrays; handle them although we do not ask for it.
    for (const item of Array.isArray(json) ? json : [json]) {
      const parsed = ServerMessageSchema.safeParse(item);
      if (!parsed.success) {
        log.warn(
          { source: url, why: parsed.error.issues[0]?.message ?? 'unknown shape' },
          'home: ignored a Home Assistant message of unknown shape',
        );
        continue;
      }
      dispatch(parsed.data);
    }
  };

  const dispatch = (msg: ReturnType<typeof ServerMessageSchema.parse>): void => {
    if (msg.type === 'result') {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.success) p.resolve(msg.result ?? null);
      else p.reject(new HomeAssistantCommandError(p.type, msg.error.code, msg.error.message));
    } else if (msg.type === 'event') {
      const eventType = subscriptionIds.get(msg.id);
      for (const handler of (eventType && subscriptions.get(eventType)) || []) {
        try {
          handler(msg.event);
        } catch (err) {
          log.warn({ err: describeError(err), eventType }, 'home: an event handler threw');
        }
      }
    }
  };

  /** One connection attempt: resolves after auth_ok and subscriptions, rejects with why not. */
  const connect = async (connectTimeoutMs = opts.connectTimeoutMs ?? 10_000): Promise<void> => {
    // ws is loaded by the first connection, not at import: a node without Home Assistant never
    // loads it (issue 12: start-up and idle memory on a Pi).
    const { default: WebSocketClient } = await import('ws');
    if (stopped || startSignal?.aborted)
      throw new HomeConnectionError(`the connection to ${url} was given up while it started`);
    return new Promise((resolve, reject) => {
      const ws = new WebSocketClient(url, { handshakeTimeout: connectTimeoutMs });
      socket = ws;
      let authed = false;
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(
          new HomeConnectionError(
            `Home Assistant at ${url} did not complete auth in ${connectTimeoutMs} ms`,
          ),
        );
        ws.terminate();
      }, connectTimeoutMs);
      ws.on('message', (data) => {
        if (authed) return onMessage(data);
        let msg: AuthPhaseMessage | null;
        try {
          msg = JSON.parse(data.toString()) as AuthPhaseMessage | null;
        } catch {
          log.warn({ source: url }, 'home: ignored a Home Assistant message that is not JSON');
          return;
        }
        if (msg?.type === 'auth_required') {
          send(ws, { type: 'auth', access_token: opts.token });
        } else if (msg?.type === 'auth_ok') {
          authed = true;
          ready = true;
          attempts = 0;
          subscribeAll()
            .then(() => {
              log.info({ url }, 'home: connected to Home Assistant');
              settle();
              for (const h of connectedHandlers) h();
            })
            .catch((err: unknown) => {
              settle(err instanceof Error ? err : new Error(String(err)));
              ws.terminate();
            });
        } else if (msg?.type === 'auth_invalid') {
          settle(
            new HomeAssistantAuthError(
              url,
              typeof msg.message === 'string' ? msg.message : 'auth_invalid',
            ),
          );
          ws.close();
        } else {
          log.warn(
            { source: url, type: String(msg?.type) },
            'home: ignored an unexpected message before auth',
          );
        }
      });
      ws.on('error', (err) => {
        log.debug({ url, err: err.message }, 'home: Home Assistant socket error');
        settle(
          new HomeConnectionError(
            `Home Assistant at ${url} is not reachable: ${err.message}; check the address`,
            { cause: err },
          ),
        );
      });
      ws.on('close', (code) => {
        if (socket === ws) {
          socket = null;
          ready = false;
        }
        failPending(`socket closed, code ${code}`);
        settle(
          new HomeConnectionError(
            `Home Assistant at ${url} closed the connection (code ${code}) before auth completed`,
          ),
        );
        if (authed && !stopped) {
          log.info({ url, code }, 'home: connection to Home Assistant dropped; reconnecting');
          scheduleReconnect();
        }
      });
    });
  };

  const scheduleReconnect = (): void => {
    if (stopped || reconnectTimer) return;
    const delay = Math.min(maxDelay, minDelay * 2 ** attempts) * (0.8 + Math.random() * 0.4);
    attempts++;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      connect().catch((err: unknown) => {
        if (err instanceof HomeAssistantAuthError) {
          // A token revoked while we were away: stop retrying, say so.
          log.error(
            { url, err: err.message },
            'home: Home Assistant refused the token; not reconnecting',
          );
          stopped = true;
          return;
        }
        log.debug({ url, err: describeError(err), attempt: attempts }, 'home: reconnect failed');
        scheduleReconnect();
      });
    }, delay);
  };

  return {
    async start(signal) {
      if (!stopped) return;
      stopped = false;
      const onAbort = (): void => socket?.terminate();
      signal?.addEventListener('abort', onAbort, { once: true });
      startSignal = signal;
      try {
        await connect();
      } catch (err) {
        stopped = true;
        socket?.terminate();
        throw err;
      } finally {
        startSignal = undefined;
        signal?.removeEventListener('abort', onAbort);
      }
    },
    async stop() {
      stopped = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = null;
      const s = socket;
      socket = null;
      ready = false;
      failPending('client stopped');
      if (s && s.readyState !== s.CLOSED) {
        await new Promise<void>((resolve) => {
          s.once('close', () => resolve());
          s.close();
          setTimeout(() => (s.terminate(), resolve()), 1000).unref();
        });
      }
    },
    command: (message, o) => rawCommand(message, o?.timeoutMs, o?.signal),
    subscribeEvents(eventType, handler) {
      const handlers = subscriptions.get(eventType) ?? [];
      handlers.push(handler);
      subscriptions.set(eventType, handlers);
      // Already connected: subscribe now on this connection too.
      if (ready && handlers.length === 1) {
        subscriptionIds.set(nextId, eventType);
        rawCommand({ type: 'subscribe_events', event_type: eventType }).catch((err: unknown) =>
          log.warn({ eventType, err: describeError(err) }, 'home: subscribe_events failed'),
        );
      }
    },
    onConnected: (handler) => void connectedHandlers.push(handler),
  };
}
