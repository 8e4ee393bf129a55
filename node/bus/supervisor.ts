/**
 * Runs and supervises this node's nats-server: writes its config, spawns it, restarts it with
 * backoff when it dies, reloads routes with SIGHUP (same pid), stops it with the node.
 *
 * Limit: Linux kills no child when its parent dies. The child is in our process group (a
 * terminal's Ctrl-C or `kill -- -PGID` reaches both), it is SIGKILLed from process 'exit' (a
 * normal exit or an uncaught exception), and the daemon stops it on SIGTERM/SIGINT. After a
 * `kill -9` of the node the child is orphaned; the next start() finds it through the pid file
 * (its command line names our config) and ends it before starting a new one.
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { DependencyMissingError, StateError, fileProblemHint } from '../errors.js';
import type { Logger } from '../log.js';
import { describeExit, NatsChild, waitReady, type ChildExit } from './child.js';
import { NatsServerError } from './errors.js';
import type { NatsCredentials } from './types.js';
import {
  fetchMonitor,
  NatsRoutezSchema,
  NatsVarzSchema,
  type NatsRoutez,
  type NatsVarz,
} from './monitor.js';
import {
  normalizeRoutes,
  renderNatsConfig,
  type NatsConfigOptions,
  type RouteTarget,
} from './natsConfig.js';

export interface NatsSupervisorOptions extends Omit<
  NatsConfigOptions,
  'routes' | 'pidFile' | 'serverVersion'
> {
  /** a path, or a name looked up on PATH (config bus.nats_server) */
  natsServerPath: string;
  /** holds nats.conf (mode 0600) and, by default, the pid file */
  confDir: string;
  logger: Logger;
  /** first restart delay; doubles per consecutive crash up to maxBackoffMs */
  backoffMs: number;
  /** default: <confDir>/nats-server.pid */
  pidFile?: string;
  maxBackoffMs?: number;
  /** a child that ran this long before dying restarts after backoffMs again */
  stableAfterMs?: number;
  readyTimeoutMs?: number;
  /** SIGTERM, then SIGKILL after this long */
  stopTimeoutMs?: number;
  reloadTimeoutMs?: number;
}

export type NatsSupervisorState =
  'idle' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';

export type NatsSupervisorEvent =
  | { type: 'started'; pid: number }
  | {
      type: 'exited';
      pid: number | undefined;
      code: number | null;
      signal: NodeJS.Signals | null;
      uptimeMs: number;
    }
  | { type: 'restart-scheduled'; attempt: number; delayMs: number }
  | { type: 'restarted'; attempt: number; pid: number }
  | { type: 'restart-failed'; attempt: number; error: Error }
  | { type: 'reloaded'; pid: number; routes: RouteTarget[] }
  /** the server logged a new route connection (either side dialled); `remote` is host:port */
  | { type: 'route-connected'; remote: string }
  | { type: 'stopped' };

// "100.64.0.2:6222 - rid:7 - Route connection created" (2.9 and 2.10; a duplicate is closed later)
const ROUTE_CREATED = /^\[INF\] (\S+) - rid:\d+ - Route connection created/;

const INSTALL_FIX =
  'install it with `apt-get install nats-server` or set bus.nats_server in helix.toml';

export class NatsSupervisor {
  readonly confPath: string;
  readonly pidFile: string;
  private readonly o: Required<Omit<NatsSupervisorOptions, 'logger' | 'clusterTls'>> &
    Pick<NatsSupervisorOptions, 'clusterTls'>;
  private readonly logger: Logger;
  private readonly listeners = new Set<(event: NatsSupervisorEvent) => void>();
  private current: RouteTarget[] = [];
  private child: NatsChild | undefined;
  private binary: string | undefined;
  private serverVersion: [number, number, number] | null = null;
  private phase: NatsSupervisorState = 'idle';
  private launching: Promise<unknown> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private nextDelayMs: number;
  private restartAttempt = 0;
  private routeChain: Promise<unknown> = Promise.resolve();
  /** the routes in the config the running server has loaded */
  private loadedRoutes = '';
  private writeSeq = 0;
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  constructor(opts: NatsSupervisorOptions) {
    const { logger, ...rest } = opts;
    this.o = {
      ...rest,
      pidFile: rest.pidFile ?? join(opts.confDir, 'nats-server.pid'),
      maxBackoffMs: rest.maxBackoffMs ?? 30_000,
      stableAfterMs: rest.stableAfterMs ?? 60_000,
      readyTimeoutMs: rest.readyTimeoutMs ?? 10_000,
      stopTimeoutMs: rest.stopTimeoutMs ?? 5_000,
      reloadTimeoutMs: rest.reloadTimeoutMs ?? 5_000,
    };
    this.logger = logger.child({ component: 'bus', nats: opts.serverName });
    this.confPath = join(opts.confDir, 'nats.conf');
    this.pidFile = this.o.pidFile;
    this.nextDelayMs = opts.backoffMs;
    // fail on bad options now, not on the first restart
    this.render([]);
  }

  get state(): NatsSupervisorState {
    return this.phase;
  }

  /** pid of the running nats-server, if one is running */
  get pid(): number | undefined {
    return this.child && !this.child.exit ? this.child.pid : undefined;
  }

  /** the version `nats-server --version` printed at start ("2.10.27"), or null */
  get version(): string | null {
    return this.serverVersion ? this.serverVersion.join('.') : null;
  }

  /** the routes in the config (normalized: sorted, deduplicated, without our own address) */
  get routes(): RouteTarget[] {
    return this.current.map((r) => ({ ...r }));
  }

  /** The child's last log lines (prefix stripped), for status and doctor. */
  recentLog(): string[] {
    return this.child?.recentLines() ?? [];
  }

  /** Subscribes to lifecycle events; returns the unsubscribe function. */
  on(listener: (event: NatsSupervisorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Writes the config, spawns nats-server and resolves once its client port accepts connections. */
  async start(): Promise<void> {
    if (this.phase !== 'idle' && this.phase !== 'stopped') {
      throw new NatsServerError(`nats-server supervisor is already ${this.phase}`);
    }
    this.binary = await findExecutable(this.o.natsServerPath);
    // the config differs by version (route pooling in 2.10); a binary that does not say is 2.9
    this.serverVersion = await readServerVersion(this.binary);
    this.phase = 'starting';
    this.nextDelayMs = this.o.backoffMs;
    this.restartAttempt = 0;
    process.on('exit', this.killOnExit);
    try {
      await this.reapOrphan();
      const launch = this.launch();
      this.launching = launch;
      const child = await launch;
      if (this.phase === 'starting') {
        this.phase = 'running';
        this.resyncRoutesAfterLaunch();
      }
      this.logger.info(
        { pid: child.pid, port: this.o.clientPort, routes: this.current.length },
        'nats-server running',
      );
    } catch (err) {
      if (this.phase === 'starting') {
        this.phase = 'stopped';
        process.off('exit', this.killOnExit);
      }
      throw err;
    } finally {
      this.launching = undefined;
    }
  }

  /** SIGTERM, SIGKILL after stopTimeoutMs; cancels a pending restart. Resolves once it is gone. */
  async stop(): Promise<void> {
    if (this.phase === 'idle' || this.phase === 'stopped' || this.phase === 'stopping') return;
    this.phase = 'stopping';
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.launching?.catch(() => undefined);
    const child = this.child;
    if (child) await this.terminate(child);
    this.child = undefined;
    process.off('exit', this.killOnExit);
    this.phase = 'stopped';
    this.logger.info('nats-server stopped');
    this.emit({ type: 'stopped' });
  }

  /**
   * Points the cluster at these peers: rewrites the config and reloads it (SIGHUP; the pid stays).
   * Resolves false when nothing changed, true once the server confirmed the reload (or, when it is
   * not running, once the config is written for its next start).
   */
  setRoutes(routes: RouteTarget[]): Promise<boolean> {
    const next = normalizeRoutes(routes, { host: this.o.clusterHost, port: this.o.clusterPort });
    const op = this.routeChain.then(() => this.applyRoutes(next));
    this.routeChain = op.catch(() => undefined);
    return op;
  }

  /**
   * Dials these configured routes again: one reload without them, one with them back. A route
   * added by a reload is dialled until it connects; one that dropped may never be (RouteRepair).
   */
  redial(hosts: string[]): Promise<void> {
    const drop = new Set(hosts.map((h) => h.toLowerCase()));
    const op = this.routeChain.then(async () => {
      const all = this.current;
      if (!all.some((r) => drop.has(r.host))) return;
      try {
        this.current = all.filter((r) => !drop.has(r.host));
        await this.syncRoutes();
      } finally {
        // back in, also when taking them out failed
        this.current = all;
        await this.syncRoutes();
      }
    });
    this.routeChain = op.catch(() => undefined);
    return op;
  }

  /**
   * New route credentials after a key rotation (node/removal): rewrites the config and reloads
   * it (SIGHUP; the pid stays) whether or not the routes changed. nats-server reads the cluster
   * TLS files again on the reload (a new certificate and CA at the same paths) and closes every
   * route that authenticated with the old password: a removed node's route ends, and it cannot
   * come back without the new password and a certificate from the new CA.
   */
  setRouteCredentials(routeCreds: NatsCredentials): Promise<void> {
    const op = this.routeChain.then(async () => {
      this.o.routeCreds = routeCreds;
      this.loadedRoutes = '\0reload';
      await this.syncRoutes();
    });
    this.routeChain = op.catch(() => undefined);
    return op;
  }

  /**
   * Restart the server now (a new nats-server pid; the node keeps running and its bus client
   * reconnects), for what a reload cannot do: close a route this server dialled itself.
   * nats-server closes, on a reload of the cluster authorization, only the routes it accepted.
   */
  restartNow(reason: string): Promise<void> {
    const op = this.routeChain.then(async () => {
      if (this.phase !== 'running') return;
      this.logger.warn({ reason }, 'restarting nats-server');
      await this.stop();
      await this.start();
    });
    this.routeChain = op.catch(() => undefined);
    return op;
  }

  routez(opts: { signal?: AbortSignal } = {}): Promise<NatsRoutez> {
    return fetchMonitor(this.o.monitorPort, '/routez', NatsRoutezSchema, opts);
  }

  varz(opts: { signal?: AbortSignal } = {}): Promise<NatsVarz> {
    return fetchMonitor(this.o.monitorPort, '/varz', NatsVarzSchema, opts);
  }

  private async applyRoutes(next: RouteTarget[]): Promise<boolean> {
    if (routesKey(next) === routesKey(this.current)) return false;
    const previous = this.current;
    this.current = next;
    try {
      await this.syncRoutes();
    } catch (err) {
      // a later setRoutes with the same peers tries again
      this.current = previous;
      throw err;
    }
    return true;
  }

  /** Brings the config file and the running server in line with `current`. */
  private async syncRoutes(): Promise<void> {
    if (this.phase === 'idle' || this.phase === 'stopped' || this.phase === 'stopping') return;
    const routes = this.current;
    await this.writeConfig(routes);
    const child = this.child;
    const pid = child?.pid;
    // starting/restarting: start() and restart() call us again once it runs
    if (this.phase !== 'running' || !child || child.exit || pid === undefined) return;
    if (routesKey(routes) === this.loadedRoutes) return;
    const outcome = child.waitForLine(
      /Reloaded server configuration|Failed to reload/,
      this.o.reloadTimeoutMs,
    );
    child.kill('SIGHUP');
    let line: string;
    try {
      line = await outcome;
    } catch (err) {
      if (child.exit) return; // it died; the restart loads the new file
      throw err;
    }
    if (/Failed to reload/.test(line)) {
      throw new NatsServerError('nats-server rejected the new routes and kept the old ones', [
        line,
      ]);
    }
    this.loadedRoutes = routesKey(routes);
    this.logger.info(
      { pid, routes: routes.map((r) => `${r.host}:${r.port}`) },
      'nats-server routes reloaded',
    );
    this.emit({ type: 'reloaded', pid, routes: routes.map((r) => ({ ...r })) });
  }

  /** After a (re)start: routes set while it was starting reached the file, not the server. */
  private resyncRoutesAfterLaunch(): void {
    if (routesKey(this.current) === this.loadedRoutes) return;
    const op = this.routeChain.then(() => this.syncRoutes());
    this.routeChain = op.catch((err: unknown) =>
      this.logger.warn({ err: String(err) }, 'nats-server routes not reloaded'),
    );
  }

  private async launch(): Promise<NatsChild> {
    const routes = this.current;
    await this.writeConfig(routes);
    const child = NatsChild.spawn(
      this.binary ?? this.o.natsServerPath,
      ['-c', this.confPath],
      this.logger,
    );
    this.child = child;
    void child.exited.then((exit) => this.onExit(child, exit));
    child.onLines((line) => {
      const m = ROUTE_CREATED.exec(line);
      if (m) this.emit({ type: 'route-connected', remote: m[1]! });
    });
    try {
      await waitReady(
        child,
        { host: this.o.clientHost, port: this.o.clientPort },
        this.o.readyTimeoutMs,
      );
      if (child.exit)
        throw new NatsServerError(`nats-server ${describeExit(child.exit)}`, child.recentLines());
    } catch (err) {
      await this.terminate(child);
      if (this.child === child) this.child = undefined;
      const ports = `client ${this.o.clientHost}:${this.o.clientPort}, monitor 127.0.0.1:${this.o.monitorPort}, cluster ${this.o.clusterHost}:${this.o.clusterPort}`;
      throw new NatsServerError(
        `nats-server did not start (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); check that its ports are free (${ports}; bus.client_port, bus.monitor_port, mesh.cluster_port in helix.toml)`,
        child.recentLines(),
        { cause: err },
      );
    }
    const pid = child.pid as number;
    this.loadedRoutes = routesKey(routes);
    this.emit({ type: 'started', pid });
    return child;
  }

  private onExit(child: NatsChild, exit: ChildExit): void {
    if (child !== this.child) return;
    this.child = undefined;
    // starting/restarting: the launch reports it; stopping: expected
    if (this.phase !== 'running') return;
    const uptimeMs = Date.now() - child.startedAt;
    this.logger.warn(
      { pid: child.pid, uptimeMs, tail: child.recentLines().slice(-5) },
      `nats-server ${describeExit(exit)}; restarting`,
    );
    this.emit({ type: 'exited', pid: child.pid, code: exit.code, signal: exit.signal, uptimeMs });
    if (uptimeMs >= this.o.stableAfterMs) {
      this.nextDelayMs = this.o.backoffMs;
      this.restartAttempt = 0;
    }
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    this.phase = 'restarting';
    const delayMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(delayMs * 2, this.o.maxBackoffMs);
    const attempt = ++this.restartAttempt;
    this.emit({ type: 'restart-scheduled', attempt, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart(attempt);
    }, delayMs);
  }

  private async restart(attempt: number): Promise<void> {
    if (this.phase !== 'restarting') return;
    const launch = this.launch();
    this.launching = launch;
    try {
      const child = await launch;
      if (this.phase !== 'restarting') return; // stop() won the race and ends it
      this.phase = 'running';
      this.resyncRoutesAfterLaunch();
      this.logger.info({ pid: child.pid, attempt }, 'nats-server restarted');
      this.emit({ type: 'restarted', attempt, pid: child.pid as number });
    } catch (err) {
      if (this.phase !== 'restarting') return;
      const error = err instanceof Error ? err : new Error(String(err));
      this.logger.warn({ attempt, err: error.message }, 'nats-server restart failed');
      this.emit({ type: 'restart-failed', attempt, error });
      this.scheduleRestart();
    } finally {
      if (this.launching === launch) this.launching = undefined;
    }
  }

  private async terminate(child: NatsChild): Promise<void> {
    if (child.exit) return;
    child.kill('SIGTERM');
    if (await settlesWithin(child.exited, this.o.stopTimeoutMs)) return;
    this.logger.warn(
      { pid: child.pid },
      `nats-server ignored SIGTERM for ${this.o.stopTimeoutMs} ms; killing it`,
    );
    child.kill('SIGKILL');
    await settlesWithin(child.exited, 5_000);
  }

  /** A nats-server left running by a node that was kill -9'd: its command line names our config. */
  private async reapOrphan(): Promise<void> {
    const pid = Number.parseInt(await readFile(this.pidFile, 'utf8').catch(() => ''), 10);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.split('\0').includes(this.confPath)) return;
    this.logger.warn({ pid }, 'ending a nats-server left over from an earlier run');
    const gone = async (): Promise<boolean> => !(await processAlive(pid));
    signalPid(pid, 'SIGTERM');
    if (!(await pollUntil(gone, this.o.stopTimeoutMs))) {
      signalPid(pid, 'SIGKILL');
      await pollUntil(gone, 5_000);
    }
  }

  private render(routes: RouteTarget[]): string {
    return renderNatsConfig({ ...this.o, routes, serverVersion: this.serverVersion });
  }

  /** Atomic: a reload or a start never reads a half-written file. Mode 0600: it holds secrets. */
  private async writeConfig(routes: RouteTarget[]): Promise<void> {
    const text = this.render(routes);
    const tmp = `${this.confPath}.${process.pid}.${++this.writeSeq}.tmp`;
    try {
      await mkdir(this.o.confDir, { recursive: true, mode: 0o700 });
      await writeFile(tmp, text, { mode: 0o600 });
      await chmod(tmp, 0o600);
      await rename(tmp, this.confPath);
    } catch (err) {
      await rm(tmp, { force: true });
      const hint = fileProblemHint(err);
      if (hint === null) throw err;
      throw new StateError(`cannot write the nats-server config ${this.confPath}: ${hint}`, {
        cause: err,
      });
    }
  }

  private emit(event: NatsSupervisorEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn({ err, event: event.type }, 'nats supervisor listener threw');
      }
    }
  }
}

/** Resolves a path or a PATH name to an executable file; DependencyMissingError otherwise. */
export async function findExecutable(nameOrPath: string): Promise<string> {
  const candidates = nameOrPath.includes('/')
    ? [isAbsolute(nameOrPath) ? nameOrPath : join(process.cwd(), nameOrPath)]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, nameOrPath));
  for (const candidate of candidates) {
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  const where = nameOrPath.includes('/')
    ? `nats-server (${nameOrPath})`
    : `nats-server ("${nameOrPath}" on PATH)`;
  throw new DependencyMissingError(where, INSTALL_FIX);
}

/** `nats-server --version` ("nats-server: v2.10.27") -> [2, 10, 27]; null when it does not say. */
function readServerVersion(binary: string): Promise<[number, number, number] | null> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { timeout: 5000 }, (err, stdout) => {
      const m = err ? null : /v?(\d+)\.(\d+)\.(\d+)/.exec(stdout);
      resolve(m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null);
    });
  });
}

function routesKey(routes: RouteTarget[]): string {
  return routes.map((r) => `${r.host}:${r.port}`).join(',');
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function pollUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // a zombie waits for its new parent (init) to reap it; it runs nothing and holds no port
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return !/^State:\s+Z/m.test(status);
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
