/**
 * The node's NATS client: one connection to its own nats-server on loopback that reconnects
 * forever (the supervisor restarts the server; the client picks it up again).
 */
import {
  connect,
  errors as natsErrors,
  type Msg,
  type NatsConnection,
  type Status,
} from '@nats-io/transport-node';
import { UnreachableError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Bus, BusMessage, NatsCredentials, Subscription } from './types.js';
import { untilAborted } from '../async.js';

export interface ConnectBusOptions {
  /** the local nats-server's client port (on 127.0.0.1) */
  port: number;
  creds: NatsCredentials;
  /** client name shown in the server's connz */
  name: string;
  logger: Logger;
  /** gives up waiting for the first connection (the server may not be up yet) */
  signal?: AbortSignal;
  /** between reconnect attempts; default 250 ms */
  reconnectTimeWaitMs?: number;
  /** how long one connection attempt may take before it is abandoned; default 3 s */
  attemptTimeoutMs?: number;
}

const CLOSE_TIMEOUT_MS = 2_000;
/**
 * One attempt on loopback takes milliseconds. nats.js waits 20 s by default, and an attempt can
 * stall: a server reload (every route change) closes each client that has not sent CONNECT yet
 * with "Authorization Violation", and nats.js, in the middle of its first dial, never notices the
 * close. A node starting while its routes were reloaded sat 20 s before its bus came up.
 */
const ATTEMPT_TIMEOUT_MS = 3_000;
const NO_RESPONDERS_GRACE_MS = 1_000;
const NO_RESPONDERS_RETRY_MS = 50;

/**
 * Connects to the local nats-server, waiting for it if it is not listening yet. Resolves once
 * connected; rejects only if `signal` aborts first.
 */
export async function connectBus(opts: ConnectBusOptions): Promise<Bus> {
  const logger = opts.logger.child({ component: 'bus', client: opts.name });
  const signal = opts.signal;
  signal?.throwIfAborted();
  let connected = false;
  const pending = connect({
    servers: `127.0.0.1:${opts.port}`,
    user: opts.creds.user,
    pass: opts.creds.pass,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 250,
    reconnectJitter: 50,
    timeout: opts.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS,
    waitOnFirstConnect: true,
    // the server sets no_advertise; this keeps the client on its own node's server regardless
    ignoreClusterUpdates: true,
    // a stopped (not dead) server is noticed within ~10 s; a dead one at once (socket closes)
    pingInterval: 5_000,
    maxPingOut: 2,
    // the documented way to end a dial loop: a throwing handler rejects the initial connect
    reconnectToServer: () => {
      if (!connected && signal?.aborted) throw signal.reason;
      return null;
    },
  });
  let nc: NatsConnection;
  try {
    nc = await untilAborted(pending, signal);
  } catch (err) {
    // if the dial loop still succeeds later, hang up at once
    void pending.then((late) => late.close()).catch(() => undefined);
    throw new UnreachableError(
      `could not connect to the local nats-server on 127.0.0.1:${opts.port} (${err instanceof Error ? err.message : String(err)}); is it running?`,
      { cause: err },
    );
  }
  connected = true;
  logger.info({ server: nc.getServer() }, 'bus connected');
  void logStatus(nc, logger);
  void nc.closed().then((err) => {
    if (err)
      logger.error(
        { err: err.message },
        'bus connection closed with an error; it will not reconnect',
      );
    else logger.debug('bus connection closed');
  });
  return new NatsBus(nc, logger);
}

class NatsBus implements Bus {
  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {}

  publish(subject: string, data: Uint8Array): void {
    this.nc.publish(subject, data);
  }

  subscribe(subject: string, onMessage: (msg: BusMessage) => void): Subscription {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.logger.warn({ subject, err: err.message }, 'subscription ended with an error');
          return;
        }
        try {
          onMessage(toBusMessage(msg));
        } catch (cause) {
          // one bad handler must not take the connection's dispatch down
          this.logger.warn(
            { subject: msg.subject, err: String(cause) },
            'bus message handler threw',
          );
        }
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  async request(
    subject: string,
    data: Uint8Array,
    opts: { timeoutMs: number },
  ): Promise<Uint8Array> {
    const deadline = Date.now() + opts.timeoutMs;
    // Interest crosses routes asynchronously: just after a peer subscribes (or restarts), this
    // server may not know yet. "No responders" is retried briefly before it counts, within half
    // the call's time, so the last answer still arrives before the deadline on a loaded machine.
    const noRespondersUntil = Date.now() + Math.min(NO_RESPONDERS_GRACE_MS, opts.timeoutMs / 2);
    let sawNoResponders = false;
    const nobodyAnswers = (cause: unknown) =>
      new UnreachableError(
        `nothing on the bus answers ${subject}; is the service running on some node?`,
        { cause },
      );
    for (;;) {
      try {
        const timeout = Math.max(1, deadline - Date.now());
        const reply = await this.nc.request(subject, data, { timeout });
        return reply.data;
      } catch (err) {
        if (err instanceof natsErrors.RequestError && err.isNoResponders()) {
          sawNoResponders = true;
          if (Date.now() + NO_RESPONDERS_RETRY_MS < noRespondersUntil) {
            await new Promise((r) => setTimeout(r, NO_RESPONDERS_RETRY_MS));
            continue;
          }
          throw nobodyAnswers(err);
        }
        // A retry that ran out of time says no more than the "no responders" before it.
        if (err instanceof natsErrors.TimeoutError && sawNoResponders) throw nobodyAnswers(err);
        if (err instanceof natsErrors.TimeoutError) {
          throw new UnreachableError(`no reply on ${subject} within ${opts.timeoutMs} ms`, {
            cause: err,
          });
        }
        throw err;
      }
    }
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  /** Delivers what is pending (drain), bounded; then the connection is closed for good. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    const drained = this.nc.drain().catch(() => undefined);
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), CLOSE_TIMEOUT_MS).unref()),
    ]);
    if (timedOut || !this.nc.isClosed()) await this.nc.close();
  }
}

function toBusMessage(msg: Msg): BusMessage {
  return {
    subject: msg.subject,
    data: msg.data,
    respond: (data) => {
      if (msg.reply) msg.respond(data);
    },
  };
}

async function logStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const s of nc.status() as AsyncIterable<Status>) {
    switch (s.type) {
      case 'disconnect':
        logger.info({ server: s.server }, 'bus disconnected; reconnecting');
        break;
      case 'reconnect':
        logger.info({ server: s.server }, 'bus reconnected');
        break;
      case 'error':
        logger.warn({ err: s.error.message }, 'bus error');
        break;
      case 'staleConnection':
        logger.info('bus connection stale; reconnecting');
        break;
      case 'slowConsumer':
        logger.warn(
          { subject: s.sub.getSubject(), pending: s.pending },
          'bus subscriber falling behind',
        );
        break;
      default:
        logger.trace({ status: s.type }, 'bus status');
    }
  }
}
