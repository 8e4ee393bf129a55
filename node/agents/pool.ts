/**
 * The warm pool: N ready containers per warm agent. A task takes an idle container (or waits
 * for one); a container that crashes, hangs past its timeout, breaks the protocol or is
 * cancelled is replaced, and so is one whose task hit a limit (pids, open files, memory; see
 * recheck), so the next task never inherits a fork bomb's children or a leak. Failing starts
 * back off (1 s doubling to 30 s) so a broken agent does not spin. `state()` is what the heartbeat advert carries.
 */
import { randomBytes } from 'node:crypto';
import { silentLogger, type Logger } from '../log.js';
import type { WarmPoolEntry } from '../types.js';
import { AgentContainer, describeExit, type ContainerDeps, type ExitInfo } from './container.js';
import type { LoadedAgent } from '../agentspec/index.js';

export interface WarmPoolOptions {
  deps: ContainerDeps;
  /** ready containers per warm agent (config agents.warm_pool_size) */
  size: number;
  /** container names start with this ("helix-"; tests "helix-test-") */
  containerPrefix: string;
  labels?: Record<string, string>;
  /** how long a new container has to say "ready" (default 15 s) */
  readyTimeoutMs?: number;
  /** marks an image in use for as long as a container of it lives (the registry never evicts it) */
  useImage?: (tag: string) => () => void;
  /** called whenever state() may have changed */
  onChange?: () => void;
  log?: Logger;
}

/** A container taken from the pool for one task; release() hands it back (or lets it be replaced). */
export interface WarmLease {
  container: AgentContainer;
  image: string;
  release(): void;
}

interface Slot {
  agent: LoadedAgent;
  image: string;
  /** containers created and not yet exited (starting, idle or busy) */
  containers: Set<AgentContainer>;
  idle: AgentContainer[];
  busy: Set<AgentContainer>;
  /** spawns in progress that have no container yet */
  pending: number;
  waiters: Array<{ give: (c: AgentContainer) => void; fail: (err: Error) => void }>;
  failures: number;
  retry: NodeJS.Timeout | null;
}

export class PoolUnavailableError extends Error {
  override name = 'PoolUnavailableError';
}

export class WarmPool {
  private readonly slots = new Map<string, Slot>();
  private stopping = false;
  private readonly log: Logger;

  constructor(private readonly opts: WarmPoolOptions) {
    this.log = opts.log ?? opts.deps.log ?? silentLogger;
  }

  /** Starts `size` containers for each agent and waits until each is ready or has failed once. */
  async start(entries: Array<{ agent: LoadedAgent; image: string }>): Promise<void> {
    await Promise.all(entries.map((e) => this.add(e.agent, e.image)));
  }

  /** Adds (or re-images) a warm agent and fills its slot. */
  async add(agent: LoadedAgent, image: string): Promise<void> {
    const name = agent.manifest.name;
    let slot = this.slots.get(name);
    if (slot && slot.image !== image) {
      this.slots.delete(name);
      await this.drain(slot);
      slot = undefined;
    }
    if (!slot) {
      slot = {
        agent,
        image,
        containers: new Set(),
        idle: [],
        busy: new Set(),
        pending: 0,
        waiters: [],
        failures: 0,
        retry: null,
      };
      this.slots.set(name, slot);
    }
    await this.fill(slot);
  }

  serves(agent: string): boolean {
    return this.slots.has(agent) && this.opts.size > 0;
  }

  /**
   * An idle container of `agent`, waiting for one until `deadlineMs`. Rejects with
   * PoolUnavailableError on timeout or shutdown, and with the signal's reason on abort.
   */
  async acquire(
    agent: string,
    opts: { signal?: AbortSignal; deadlineMs: number },
  ): Promise<WarmLease> {
    const slot = this.slots.get(agent);
    if (!slot || this.stopping) throw new PoolUnavailableError(`no warm pool for ${agent}`);
    opts.signal?.throwIfAborted();
    let container = slot.idle.shift();
    if (!container) {
      container = await new Promise<AgentContainer>((resolve, reject) => {
        const fail = (err: unknown): void => {
          cleanup();
          const at = slot.waiters.indexOf(waiter);
          if (at >= 0) slot.waiters.splice(at, 1);
          reject(err);
        };
        const waiter = {
          give: (c: AgentContainer) => {
            cleanup();
            resolve(c);
          },
          fail,
        };
        const onAbort = (): void => fail(opts.signal?.reason);
        const timer = setTimeout(
          () =>
            fail(
              new PoolUnavailableError(
                `no warm ${agent} container became free in time (${this.describe(slot)})`,
              ),
            ),
          Math.max(0, opts.deadlineMs - Date.now()),
        );
        const cleanup = (): void => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        slot.waiters.push(waiter);
      });
    }
    slot.busy.add(container);
    this.changed();
    const taken = container;
    let released = false;
    return {
      container: taken,
      image: slot.image,
      release: () => {
        if (released) return;
        released = true;
        void this.recheck(slot, taken);
      },
    };
  }

  state(): WarmPoolEntry[] {
    return [...this.slots.values()].map((s) => ({
      agent: s.agent.manifest.name,
      image: s.image,
      idle: s.idle.length,
      busy: s.busy.size,
    }));
  }

  /** Idle containers of `agent` right now. */
  idle(agent: string): number {
    return this.slots.get(agent)?.idle.length ?? 0;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.slots.values()].map((s) => this.drain(s)));
    this.slots.clear();
  }

  private async drain(slot: Slot): Promise<void> {
    if (slot.retry) clearTimeout(slot.retry);
    slot.retry = null;
    for (const w of slot.waiters.slice())
      w.fail(
        new PoolUnavailableError(`the warm pool for ${slot.agent.manifest.name} is shutting down`),
      );
    slot.idle = [];
    await Promise.all([...slot.containers].map((c) => c.stop('stopped')));
  }

  private async fill(slot: Slot): Promise<void> {
    const missing = this.opts.size - slot.pending - slot.containers.size;
    const spawns: Promise<void>[] = [];
    for (let i = 0; i < missing; i++) spawns.push(this.spawn(slot));
    await Promise.all(spawns);
  }

  private async spawn(slot: Slot): Promise<void> {
    if (this.stopping || this.slots.get(slot.agent.manifest.name) !== slot) return;
    const name = `${this.opts.containerPrefix}${slot.agent.manifest.name}-warm-${randomBytes(3).toString('hex')}`;
    slot.pending++;
    let container: AgentContainer | null = null;
    try {
      container = await AgentContainer.start(this.opts.deps, slot.agent, slot.image, {
        name,
        labels: { 'helix.tier': 'warm', ...this.opts.labels },
      });
      slot.pending--;
      slot.containers.add(container);
      const release = this.opts.useImage?.(slot.image);
      const c = container;
      void c.exited.then((info) => {
        release?.();
        this.onExit(slot, c, info);
      });
      await c.waitReady(this.opts.readyTimeoutMs ?? 15_000);
      slot.failures = 0;
      this.log.info({ agent: slot.agent.manifest.name, container: name }, 'warm container ready');
      this.hand(slot, c);
    } catch (err) {
      this.log.warn(
        {
          agent: slot.agent.manifest.name,
          container: name,
          err: (err as Error).message,
          failures: slot.failures + 1,
        },
        'warm container failed to start',
      );
      if (container) {
        // Its exit (onExit) counts the failure and schedules the replacement.
        await container.stop('timeout');
      } else {
        slot.pending--;
        slot.failures++;
        this.scheduleFill(slot);
      }
    }
  }

  /**
   * After a task: a container that hit a limit (AgentContainer.retirementReason: the agent said
   * so, or the engine counts it at its pids or near its memory limit) is retired, and its exit
   * brings a fresh one; any other goes back to work. It counts as busy until this is decided,
   * so the next task never gets a container whose check is still running.
   */
  private async recheck(slot: Slot, c: AgentContainer): Promise<void> {
    let why: string | null = null;
    if (c.reusable && slot.containers.has(c)) {
      try {
        why = await c.retirementReason();
      } catch (err) {
        this.log.debug(
          { agent: slot.agent.manifest.name, container: c.name, err: (err as Error).message },
          'warm container health check failed',
        );
      }
    }
    slot.busy.delete(c);
    if (why !== null && c.reusable && slot.containers.has(c)) {
      this.log.warn(
        { agent: slot.agent.manifest.name, container: c.name, why },
        `retiring warm container: ${why}`,
      );
      this.changed();
      // Its exit (onExit) schedules the replacement.
      void c.retire(why).catch(() => undefined);
      return;
    }
    this.hand(slot, c);
  }

  /** Gives a container back: to the first waiter, else to the idle list; a condemned one is dropped. */
  private hand(slot: Slot, c: AgentContainer): void {
    if (!c.reusable || !slot.containers.has(c)) return;
    const waiter = slot.waiters.shift();
    if (waiter) {
      waiter.give(c);
      slot.busy.add(c);
    } else {
      slot.idle.push(c);
    }
    this.changed();
  }

  private onExit(slot: Slot, c: AgentContainer, info: ExitInfo): void {
    slot.containers.delete(c);
    slot.busy.delete(c);
    slot.idle = slot.idle.filter((x) => x !== c);
    this.changed();
    if (
      this.stopping ||
      info.reason === 'stopped' ||
      this.slots.get(slot.agent.manifest.name) !== slot
    )
      return;
    // A container that never got ready counts against the agent (backoff); one that served does not.
    if (!c.ready) slot.failures++;
    this.log.warn(
      { agent: slot.agent.manifest.name, container: c.name, reason: info.reason },
      `replacing warm container: ${describeExit(slot.agent, info)}`,
    );
    this.scheduleFill(slot);
  }

  private scheduleFill(slot: Slot): void {
    if (this.stopping || slot.retry) return;
    const backoff = slot.failures === 0 ? 0 : Math.min(30_000, 1000 * 2 ** (slot.failures - 1));
    slot.retry = setTimeout(() => {
      slot.retry = null;
      void this.fill(slot);
    }, backoff);
    slot.retry.unref();
  }

  private describe(slot: Slot): string {
    return `${slot.idle.length} idle, ${slot.busy.size} busy, ${slot.pending + slot.containers.size - slot.idle.length - slot.busy.size} starting`;
  }

  private changed(): void {
    this.opts.onChange?.();
  }
}
