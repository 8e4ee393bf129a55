/**
 * The daemon's local control endpoint: HTTP/JSON over a unix socket in the state dir
 * (mode 0600), so only the node's own user can ask it for status or give it work.
 * It never listens on the network itself; the dashboard (node/dashboard) mounts the routes it
 * allows through dispatch(), behind its own sign-in.
 *
 * A streamed answer is NDJSON (envelope.ts), or server-sent events when the client asks for
 * `text/event-stream` (a browser's EventSource): the same lines, each one `data: LINE` event.
 */
import { chmodSync, existsSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { redactCredentials, type Logger } from '../log.js';
import { HelixError, StateError, describeError } from '../errors.js';
import { clientGone, type ErrorLine, type StreamLine } from './envelope.js';

export type ControlHandler = (
  body: unknown,
  req: http.IncomingMessage,
  res: ControlResponse,
) => Promise<unknown>;

/**
 * A handler may stream the NDJSON envelope (envelope.ts) instead of returning one value. `signal`
 * aborts when the client goes away before the answer is complete, or stops reading for too long.
 */
export interface ControlResponse {
  readonly signal: AbortSignal;
  /**
   * one `{"type":"event","event":…}` line; while the client is not reading, progress-like events
   * (type "progress", "pull" or "partial") are coalesced: the latest of each type goes out
   */
  event(event: unknown): void;
  /** the closing `{"type":"result",…}` line */
  result(result: object): void;
  /**
   * Resolves once the client has read enough of what was sent (at once when it keeps up): a
   * producer that can wait awaits it between events. Rejects when the stream was ended because
   * the client stopped reading.
   */
  drained(): Promise<void>;
}

/** How much a stream may hold for a client that does not read (issue 11). */
export interface StreamLimits {
  /** bytes waiting for the client past which progress is coalesced and drained() waits */
  highWaterBytes: number;
  /** bytes waiting for the client past which the stream is ended at once */
  maxBufferedBytes: number;
  /** how long the client may leave the stream undrained before it is ended */
  stallMs: number;
}

/**
 * 256 KiB: far more than a reading CLI ever has waiting. 16 MiB: a large run result (agents' lines
 * are at most 1 MiB) plus its events. 30 s: a terminal paused with Ctrl-S, briefly.
 */
export const STREAM_LIMITS: StreamLimits = {
  highWaterBytes: 256 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  stallMs: 30_000,
};

/** Events a stalled client may miss (only the latest of each type is worth sending). */
const COALESCED_EVENTS = new Set(['progress', 'pull', 'partial', 'status']);

export function controlSocketPath(stateDir: string): string {
  return path.join(stateDir, 'control.sock');
}

const MAX_BODY = 1 << 20;

export class ControlServer {
  private server: http.Server | null = null;
  private readonly routes = new Map<string, ControlHandler>();
  private readonly limits: StreamLimits;
  private fallback: ControlHandler | null = null;
  /** requests in progress, from any transport: stop() ends their streams */
  private readonly open = new Set<AbortController>();

  constructor(
    private readonly socketPath: string,
    private readonly logger: Logger,
    limits: Partial<StreamLimits> = {},
  ) {
    this.limits = { ...STREAM_LIMITS, ...limits };
  }

  /** Register `GET /v1/status`-style routes, before start or while running. */
  route(method: 'GET' | 'POST', pathname: string, handler: ControlHandler): void {
    this.routes.set(`${method} ${pathname}`, handler);
  }

  /**
   * What answers a route that is not registered (yet): a node still starting says so rather than
   * "no such route" (null: the 404 again).
   */
  setFallback(handler: ControlHandler | null): void {
    this.fallback = handler;
  }

  async start(): Promise<void> {
    // A socket that answers belongs to a node that runs: taking it over would cut that node off.
    if (existsSync(this.socketPath) && (await socketAnswers(this.socketPath)))
      throw new StateError(
        `a helix-node is already running with this state dir (its control socket ${this.socketPath} answers); stop it first (Ctrl-C, or \`systemctl stop helix-node\`) or pass another --state-dir`,
      );
    rmSync(this.socketPath, { force: true });
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    for (const ac of this.open) ac.abort(new Error('the node is stopping'));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    return this.dispatch(req, res, new URL(req.url ?? '/', 'http://local'));
  }

  /**
   * Answers `req` as the route `url` names (its pathname and query): what the socket does, and
   * what the dashboard calls for the routes it mounts (it has checked who asks).
   */
  async dispatch(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const handler = this.routes.get(`${req.method} ${url.pathname}`) ?? this.fallback;
    if (!handler) {
      sendJson(res, 404, {
        error: { name: 'NotFound', message: `no such control route ${req.method} ${url.pathname}` },
      });
      return;
    }
    const gone = clientGone(req);
    const stopping = new AbortController();
    this.open.add(stopping);
    const signal = AbortSignal.any([gone.signal, stopping.signal]);
    const sse = (req.headers.accept ?? '').includes('text/event-stream');
    const stream = new Stream(res, this.limits, sse, (message) => {
      this.logger.warn({ route: url.pathname }, message);
      // The client stops reading: the work stops too (the signal), and its socket goes.
      req.socket.destroy();
    });
    const streaming = (): boolean => stream.started;
    try {
      const body =
        req.method === 'POST' ? await readBody(req) : Object.fromEntries(url.searchParams);
      const response: ControlResponse = {
        signal,
        event: (event) => stream.event(event),
        result: (result) => stream.write({ type: 'result', ...result }),
        drained: () => stream.drained(),
      };
      const result = await handler(body, req, response);
      if (stream.failed) return;
      if (streaming()) stream.end();
      else sendJson(res, 200, result ?? {});
    } catch (err) {
      this.logger.debug({ err: describeError(err), route: url.pathname }, 'control request failed');
      if (stream.failed) return;
      const payload: ErrorLine = {
        error: {
          name: err instanceof Error ? err.name : 'Error',
          message: describeError(err),
          exitCode: err instanceof HelixError ? err.exitCode : 1,
        },
      };
      if (streaming()) stream.end(payload);
      else sendJson(res, 500, payload);
    } finally {
      stream.close();
      gone.done();
      this.open.delete(stopping);
    }
  }
}

/**
 * One NDJSON answer that honours backpressure: what waits for the client is bounded; while it
 * waits, progress-like events are coalesced (the latest of each type kept) and drained() holds
 * the producer; a client that reads nothing for stallMs, or lets maxBufferedBytes pile up, has
 * the stream ended: an error line is written last and its socket is closed at once, so what
 * waited for it is freed and the work is cancelled (the request's signal).
 */
class Stream {
  started = false;
  failed = false;
  private readonly held = new Map<string, string>();
  private stall: NodeJS.Timeout | null = null;
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private failure: Error | null = null;
  private readonly onDrain = (): void => this.drain();

  constructor(
    private readonly res: http.ServerResponse,
    private readonly limits: StreamLimits,
    /** server-sent events: each line goes out as one `data:` event */
    private readonly sse: boolean,
    private readonly onFail: (message: string) => void,
  ) {}

  event(event: unknown): void {
    const type = (event as { type?: unknown } | null)?.type;
    if (typeof type === 'string' && COALESCED_EVENTS.has(type) && this.congested()) {
      if (this.failed) return;
      this.held.set(type, JSON.stringify({ type: 'event', event }) + '\n');
      this.watch();
      return;
    }
    this.write({ type: 'event', event });
  }

  write(line: StreamLine<unknown> | ErrorLine): void {
    if (this.failed) return;
    this.flushHeld();
    this.put(JSON.stringify(line) + '\n');
  }

  drained(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.congested()) return Promise.resolve();
    this.watch();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  end(last?: ErrorLine): void {
    if (this.failed) return;
    this.flushHeld();
    this.res.end(last ? this.frame(JSON.stringify(last) + '\n') : undefined);
  }

  /** One line as it goes on the wire: NDJSON as it is, or a server-sent event. */
  private frame(line: string): string {
    return this.sse ? `data: ${line.trimEnd()}\n\n` : line;
  }

  close(): void {
    if (this.stall) clearTimeout(this.stall);
    this.stall = null;
    this.res.off('drain', this.onDrain);
  }

  private put(text: string): void {
    if (!this.started) {
      this.started = true;
      this.res.writeHead(
        200,
        this.sse
          ? { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }
          : { 'content-type': 'application/x-ndjson' },
      );
    }
    this.res.write(redactCredentials(this.frame(text)));
    if (this.res.writableLength > this.limits.maxBufferedBytes)
      this.fail(
        `the client stopped reading: ${this.res.writableLength} bytes waited for it, more than the ${this.limits.maxBufferedBytes} a stream keeps`,
      );
    else if (this.congested()) this.watch();
  }

  private flushHeld(): void {
    if (this.held.size === 0) return;
    const lines = [...this.held.values()];
    this.held.clear();
    for (const line of lines) this.put(line);
  }

  private congested(): boolean {
    return this.res.writableLength >= this.limits.highWaterBytes;
  }

  /** Waits for the client to drain; ends the stream if it has not within stallMs. */
  private watch(): void {
    if (this.stall || this.failed) return;
    this.stall = setTimeout(
      () =>
        this.fail(
          `the client stopped reading: nothing it was sent was read for ${this.limits.stallMs} ms`,
        ),
      this.limits.stallMs,
    );
    this.stall.unref();
    this.res.on('drain', this.onDrain);
  }

  private drain(): void {
    if (this.failed) return;
    if (this.stall) clearTimeout(this.stall);
    this.stall = null;
    this.res.off('drain', this.onDrain);
    this.flushHeld();
    if (this.congested()) return this.watch();
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private fail(message: string): void {
    if (this.failed) return;
    this.close();
    this.held.clear();
    const line: ErrorLine = {
      error: { name: 'ClientStalled', message: `stream ended: ${message}`, exitCode: 1 },
    };
    this.res.end(this.frame(JSON.stringify(line) + '\n'));
    this.failed = true;
    this.failure = new Error(`stream ended: ${message}`);
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
    this.onFail(message);
  }
}

/** Whether something accepts connections on the unix socket (a stale file refuses at once). */
function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    const done = (answers: boolean): void => {
      socket.destroy();
      resolve(answers);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/** Every answer leaves with URL credentials redacted (status, traces, results: log.ts). */
function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = redactCredentials(JSON.stringify(value));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HelixError('control request too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}
