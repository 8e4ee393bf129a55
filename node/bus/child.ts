/**
 * One nats-server child process: its log lines (to the logger at debug, and a tail kept for
 * error messages), its exit, and waits on what it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from '../log.js';
import { NatsServerError } from './errors.js';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** set when the process could not be spawned at all */
  error?: Error;
}

const TAIL_LINES = 30;
// "[1234] 2026/11/25 16:37:40.841572 [INF] Server is ready" -> "[INF] Server is ready"
const LOG_PREFIX = /^\[\d+\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d+ /;

export class NatsChild {
  readonly startedAt = Date.now();
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
  private readonly tail: string[] = [];
  private readonly lineListeners = new Set<(line: string) => void>();

  private constructor(
    private readonly proc: ChildProcess,
    private readonly logger: Logger,
  ) {
    this.exited = new Promise<ChildExit>((resolve) => {
      const done = (exit: ChildExit): void => {
        if (this.exit) return;
        this.exit = exit;
        resolve(exit);
      };
      // 'close' (not 'exit'): stdout/stderr are drained by then, so the tail holds its last words
      proc.once('close', (code, signal) => done({ code, signal }));
      proc.once('error', (error) => {
        // 'error' also fires for a failed kill(); only a spawn failure leaves no pid
        if (proc.pid === undefined) done({ code: null, signal: null, error });
      });
    });
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (raw) => this.onLine(raw));
    }
  }

  /**
   * Spawns `binary args` in its own process group: a terminal's Ctrl-C (or `timeout`) signals the
   * whole foreground group, and the server must outlive the node's first moments of shutdown so
   * the node's bye still reaches its peers. The node stops it itself (and on process exit).
   */
  static spawn(binary: string, args: string[], logger: Logger): NatsChild {
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    return new NatsChild(proc, logger.child({ pid: proc.pid }));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Calls `listener` with each line printed from now on (prefix stripped); returns the undo. */
  onLines(listener: (line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  /** The last lines it printed (prefix stripped), oldest first. */
  recentLines(): string[] {
    return [...this.tail];
  }

  kill(signal: NodeJS.Signals): boolean {
    if (this.exit) return false;
    return this.proc.kill(signal);
  }

  /**
   * Resolves with the first line matching `pattern` printed from now on; rejects when the process
   * exits first or after `timeoutMs`.
   */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        this.lineListeners.delete(onLine);
        fn();
      };
      const onLine = (line: string): void => {
        if (pattern.test(line)) finish(() => resolve(line));
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new NatsServerError(
                `nats-server printed no ${pattern} within ${timeoutMs} ms`,
                this.recentLines(),
              ),
            ),
          ),
        timeoutMs,
      );
      this.lineListeners.add(onLine);
      void this.exited.then((exit) =>
        finish(() =>
          reject(
            new NatsServerError(`nats-server ${describeExit(exit)}`, this.recentLines(), {
              cause: exit.error,
            }),
          ),
        ),
      );
    });
  }

  private onLine(raw: string): void {
    const line = raw.replace(LOG_PREFIX, '');
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.logger.debug(line);
    for (const listener of [...this.lineListeners]) listener(line);
  }
}

export function describeExit(exit: ChildExit): string {
  if (exit.error) return `could not be started: ${exit.error.message}`;
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

/** True once something accepts TCP connections on host:port. */
export function canConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/**
 * Ready = it said "Server is ready" (printed once the client listener is bound: proof the port
 * is ours, not a stale server's) and the client port accepts connections.
 */
export async function waitReady(
  child: NatsChild,
  client: { host: string; port: number },
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await child.waitForLine(/\bServer is ready\b/, timeoutMs);
  while (!(await canConnect(client.host, client.port, Math.max(1, deadline - Date.now())))) {
    if (child.exit)
      throw new NatsServerError(`nats-server ${describeExit(child.exit)}`, child.recentLines());
    if (Date.now() >= deadline) {
      throw new NatsServerError(
        `nats-server said it was ready but ${client.host}:${client.port} refused connections for ${timeoutMs} ms`,
        child.recentLines(),
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
