/**
 * One running agent container and the conversation with it, over any ContainerRuntime: started
 * with the sandbox; stdout lines are parsed and routed to the task in flight or, for calls
 * between tasks, answered directly. Anything that breaks the protocol ends the task and the
 * container, never the host.
 */
import type { Logger } from '../log.js';
import { decideCall, type CallOutcome, type HostCalls } from './calls.js';
import { LineSplitter } from './framing.js';
import {
  encodeHostMessage,
  parseAgentLine,
  type AgentMessage,
  type CallMessage,
  type HostMessage,
  type TaskMessage,
  runError,
  type LoadedAgent,
  type RunEvent,
} from '../agentspec/index.js';
import { AGENT_IO_LIMITS, CallRateLimiter, ProgressGate, type AgentIoLimits } from './limits.js';
import { AsyncQueue } from './queue.js';
import type { ContainerExit, ContainerHandle, ContainerRuntime } from './runtime.js';
import { NOFILE, sandboxFor } from './sandbox.js';

export interface ContainerDeps {
  runtime: ContainerRuntime;
  handlers: Partial<HostCalls>;
  log: Logger;
  maxLineBytes: number;
  /** what one container may cost the host (default AGENT_IO_LIMITS) */
  ioLimits?: Partial<AgentIoLimits>;
}

export type ExitReason =
  | 'exited'
  | 'oom'
  | 'timeout'
  | 'cancelled'
  | 'protocol'
  | 'stopped'
  /** a warm container the pool ended after a task that hit a limit (retirementReason) */
  | 'retired';

export interface ExitInfo {
  reason: ExitReason;
  /** the process's exit status, when the engine said */
  statusCode: number | null;
  /** for a protocol violation: what was wrong */
  detail: string;
  /** the last lines the agent wrote on stderr */
  stderrTail: string[];
}

type TaskInput =
  | { kind: 'message'; message: AgentMessage }
  | { kind: 'violation'; reason: string }
  | { kind: 'exit' };

const STDERR_TAIL_LINES = 20;

/**
 * What a process says when it ran into one of the sandbox's limits: the kernel's messages for
 * EAGAIN (fork or clone refused at the pids limit), EMFILE/ENFILE (open files), ENOMEM, ENOSPC
 * and EDQUOT, and the Go runtime's own when it cannot make a thread. Seen in an agent's error or
 * on its stderr, it marks the container as damaged: the warm pool replaces it.
 */
export const LIMIT_HIT =
  /resource temporarily unavailable|too many open files|cannot allocate memory|no space left on device|disk quota exceeded|failed to create new OS thread|out of memory/i;

/** How long the health check after a warm task may wait for the usage figures (cgroup reads). */
const USAGE_TIMEOUT_MS = 500;
/** Memory or open files at or above this share of the limit after a task count as hitting it. */
const HIGH_SHARE = 0.9;
/** How long a background call (between tasks) may take. */
const BACKGROUND_CALL_TIMEOUT_MS = 30_000;

export class AgentContainer {
  readonly exited: Promise<ExitInfo>;
  private killReason: ExitReason | null = null;
  private violation: string | null = null;
  private gone = false;
  private readyWaiters: Array<() => void> = [];
  private isReady = false;
  private current: {
    id: string;
    queue: AsyncQueue<TaskInput>;
    calls: AbortController;
    limiter: CallRateLimiter;
    progress: ProgressGate;
  } | null = null;
  private lastCaller: { node?: string; traceId?: string } = {};
  private readonly stderrTail: string[] = [];
  private readonly backgroundCalls = new AbortController();
  /** rate limits for calls between tasks (a timer firing later), for the container's life */
  private readonly backgroundLimiter = new CallRateLimiter();
  private readonly limits: AgentIoLimits;
  /** host calls being answered now (tasks' and between tasks) */
  private outstanding = 0;
  /**
   * The agent's stdin is not drained: its stdout is paused (no further calls are read) and
   * lines already read wait in `held`; past stdinStallMs the container is ended.
   */
  private blocked: { timer: NodeJS.Timeout } | null = null;
  private held: string[] = [];
  /** the first sign since the last health check that the agent hit a limit (LIMIT_HIT) */
  private limitHit: string | null = null;
  /** why the warm pool retired it (retire()) */
  private retiredFor: string | null = null;

  private constructor(
    private readonly deps: ContainerDeps,
    readonly agent: LoadedAgent,
    private readonly handle: ContainerHandle,
  ) {
    this.limits = { ...AGENT_IO_LIMITS, ...deps.ioLimits };
    this.wire();
    this.exited = handle.exit.then((exit) => this.onExit(exit));
  }

  /** Starts a sandboxed container of `image` for `agent` on the runtime. */
  static async start(
    deps: ContainerDeps,
    agent: LoadedAgent,
    image: string,
    opts: { name: string; labels?: Record<string, string>; timeoutMs?: number },
  ): Promise<AgentContainer> {
    const handle = await deps.runtime.start(sandboxFor(agent.manifest, { image, ...opts }));
    return new AgentContainer(deps, agent, handle);
  }

  get name(): string {
    return this.handle.name;
  }

  get id(): string {
    return this.handle.id;
  }

  get alive(): boolean {
    return !this.gone;
  }

  /** Alive and not condemned (a kill or a protocol violation on the way): may take another task. */
  get reusable(): boolean {
    return !this.gone && this.killReason === null && this.violation === null;
  }

  /** True once the agent said "ready" (warm agents say it on start). */
  get ready(): boolean {
    return this.isReady;
  }

  /** Resolves on "ready"; rejects if the container dies or `timeoutMs` passes first. */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.agent.manifest.name} did not say "ready" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      void this.exited.then((info) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${this.agent.manifest.name} exited before it was ready: ${describeExit(this.agent, info)}`,
          ),
        );
      });
    });
  }

  /**
   * Sends one task and yields its progress and exactly one terminal event (result or error).
   * The container is killed on timeout, on cancel, or when the consumer stops listening early.
   */
  async *runTask(
    task: TaskMessage,
    opts: { signal?: AbortSignal; deadlineMs: number },
  ): AsyncGenerator<RunEvent> {
    if (this.current) throw new Error(`${this.name} is already running task ${this.current.id}`);
    if (this.gone) {
      yield runError('crashed', `${this.agent.manifest.name}'s container is gone`, true);
      return;
    }
    const queue = new AsyncQueue<TaskInput>();
    const current = {
      id: task.id,
      queue,
      calls: new AbortController(),
      limiter: new CallRateLimiter(),
      // A flood of progress reaches the caller as at most a few updates a second, bounded.
      progress: new ProgressGate(this.limits, (update) =>
        queue.push({
          kind: 'message',
          message: { v: 1, type: 'progress', id: task.id, ...update },
        }),
      ),
    };
    this.current = current;
    this.lastCaller = { node: task.context.node, traceId: task.context.trace_id };
    const timer = setTimeout(
      () => void this.kill('timeout'),
      Math.max(0, opts.deadlineMs - Date.now()),
    );
    const onAbort = (): void => void this.kill('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    try {
      if (opts.signal?.aborted) {
        void this.kill('cancelled');
      } else {
        this.send(task);
      }
      for (;;) {
        const input = await queue.next();
        if (input.kind === 'violation') {
          finished = true;
          yield runError(
            'protocol',
            `${this.agent.manifest.name} broke the agent protocol: ${input.reason}; the task was ended and the container stopped`,
          );
          return;
        }
        if (input.kind === 'exit') {
          finished = true;
          yield exitError(this.agent, await this.exited);
          return;
        }
        const m = input.message;
        if (m.type === 'progress') {
          yield m.percent === undefined
            ? { type: 'progress', message: m.message }
            : { type: 'progress', message: m.message, percent: m.percent };
        } else if (m.type === 'result') {
          finished = true;
          yield { type: 'result', text: m.text, data: m.data ?? null };
          return;
        } else if (m.type === 'error') {
          finished = true;
          this.noteLimit('in its error', m.message);
          yield { ...runError('agent_error', m.message), ...(m.code ? { agentCode: m.code } : {}) };
          return;
        }
      }
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      current.calls.abort();
      current.progress.close();
      this.current = null;
      if (current.progress.coalesced + current.progress.dropped > 0)
        this.deps.log.debug(
          {
            agent: this.agent.manifest.name,
            taskId: current.id,
            coalesced: current.progress.coalesced,
            dropped: current.progress.dropped,
          },
          'progress coalesced or dropped',
        );
      if (current.limiter.refusedTotal > 0)
        this.deps.log.warn(
          { agent: this.agent.manifest.name, taskId: current.id, refused: current.limiter.refused },
          `refused ${current.limiter.refusedTotal} host calls over their rate limit`,
        );
      if (!finished) void this.kill('cancelled');
    }
  }

  /**
   * Why this container should not take another task, or null: the agent said it ran into a
   * limit (LIMIT_HIT in its error or on its stderr since the last check), or the engine counts
   * that it was refused a process at its pids limit, had a process OOM-killed, is at its pids
   * limit (a fork bomb's children still there), or holds HIGH_SHARE of its open files (a file hog)
   * or of its memory (a leak, or a tmpfs filled). The warm pool asks after every task. A failure
   * to get the figures counts as healthy: the exit, if it comes, still replaces it.
   */
  async retirementReason(): Promise<string | null> {
    if (this.gone) return `its container is gone`;
    const said = this.limitHit;
    this.limitHit = null;
    if (said) return said;
    if (!this.handle.usage) return null;
    let usage;
    try {
      let timer: NodeJS.Timeout | undefined;
      usage = await Promise.race([
        this.handle.usage(),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), USAGE_TIMEOUT_MS))),
      ]).finally(() => clearTimeout(timer));
    } catch (err) {
      this.deps.log.debug(
        { agent: this.agent.manifest.name, container: this.name, err: (err as Error).message },
        'no usage figures for the container',
      );
      return null;
    }
    if (!usage) return null;
    const m = this.agent.manifest;
    if (usage.pidsLimitHits !== null && usage.pidsLimitHits > 0)
      return `it was refused ${usage.pidsLimitHits} new processes or threads at its limit (pids = ${m.pids} in agent.toml)`;
    if (usage.oomKills !== null && usage.oomKills > 0)
      return `the kernel killed ${usage.oomKills} of its processes for using more than its ${m.memory_mb} MB (memory_mb in agent.toml)`;
    if (usage.openFiles !== null && usage.openFiles >= NOFILE * HIGH_SHARE)
      return `a process of it holds ${usage.openFiles} open files of the ${NOFILE} it may have`;
    if (usage.pids !== null && usage.pidsLimit !== null && usage.pidsLimit > 0) {
      if (usage.pids >= usage.pidsLimit)
        return `it holds ${usage.pids} processes and threads, its limit (pids = ${m.pids} in agent.toml)`;
    }
    if (
      usage.memoryBytes !== null &&
      usage.memoryLimitBytes !== null &&
      usage.memoryLimitBytes > 0
    ) {
      if (usage.memoryBytes >= usage.memoryLimitBytes * HIGH_SHARE)
        return `it still holds ${(usage.memoryBytes / 1024 / 1024).toFixed(1)} MB of its ${m.memory_mb} MB (memory_mb in agent.toml)`;
    }
    return null;
  }

  private noteLimit(where: string, text: string): void {
    if (this.limitHit) return;
    const hit = LIMIT_HIT.exec(text);
    if (hit) this.limitHit = `it ran into a limit ("${hit[0]}" ${where})`;
  }

  /** Closes the agent's stdin: a well-behaved agent finishes and exits. */
  endInput(): void {
    if (!this.handle.stdin.writableEnded) this.handle.stdin.end();
  }

  /** Stops the container now (SIGKILL); the exit is reported with `reason`. */
  async kill(reason: ExitReason): Promise<void> {
    if (this.gone) return;
    this.killReason ??= reason;
    await this.handle.kill(reason === 'timeout' ? 'timeout' : 'killed');
  }

  /** Ends a container that must not take another task (retirementReason), and waits until it is gone. */
  async retire(why: string): Promise<ExitInfo> {
    this.retiredFor ??= why;
    return this.stop('retired');
  }

  /** Stops the container and waits until it is gone. */
  async stop(reason: ExitReason = 'stopped'): Promise<ExitInfo> {
    await this.kill(reason);
    const info = await this.exited;
    await this.handle.remove();
    return info;
  }

  private send(message: HostMessage): void {
    const stdin = this.handle.stdin;
    if (this.gone || this.violation || stdin.writableEnded) return;
    // The agent does not read what it was sent: more would only grow the host's memory.
    if (stdin.writableLength > this.limits.maxQueuedStdinBytes) {
      return this.taint(
        `it stopped reading its stdin: ${stdin.writableLength} bytes of replies were waiting for it, more than the ${this.limits.maxQueuedStdinBytes} the host keeps`,
      );
    }
    if (!stdin.write(encodeHostMessage(message))) this.block();
  }

  /** stdin is full: read no more from the agent until it drains, for at most stdinStallMs. */
  private block(): void {
    if (this.blocked || this.gone) return;
    const stdin = this.handle.stdin;
    const timer = setTimeout(
      () =>
        this.taint(
          `it stopped reading its stdin: ${stdin.writableLength} bytes of replies waited more than ${this.limits.stdinStallMs} ms for it`,
        ),
      this.limits.stdinStallMs,
    );
    timer.unref();
    this.blocked = { timer };
    this.handle.stdout.pause();
    stdin.once('drain', () => this.unblock());
  }

  private unblock(): void {
    if (!this.blocked) return;
    clearTimeout(this.blocked.timer);
    this.blocked = null;
    // Lines read before the pause, in order, until one blocks stdin again.
    while (this.held.length > 0 && !this.blocked) this.handleLine(this.held.shift()!);
    if (!this.blocked && !this.gone) this.handle.stdout.resume();
  }

  private wire(): void {
    const name = this.agent.manifest.name;
    const lines = new LineSplitter(
      this.deps.maxLineBytes,
      (line) => this.onLine(line),
      (size) =>
        this.taint(
          `a line longer than ${this.deps.maxLineBytes} bytes (${size} bytes and counting)`,
        ),
    );
    const stderr = new LineSplitter(
      64 * 1024,
      (line) => {
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
        this.noteLimit('on its stderr', line);
        this.deps.log.debug({ agent: name, container: this.name, stderr: line }, 'agent stderr');
      },
      () => undefined,
    );
    this.handle.stdout.on('data', (chunk: Buffer) => lines.push(chunk));
    this.handle.stdout.once('end', () => lines.end());
    this.handle.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    this.handle.stderr.once('end', () => stderr.end());
    // A write after the container died must not take the host down.
    this.handle.stdin.on('error', (err) =>
      this.deps.log.debug(
        { agent: name, container: this.name, err: err.message },
        'agent stdin error',
      ),
    );
  }

  private onLine(line: string): void {
    if (this.violation) return;
    if (this.blocked || this.held.length > 0) {
      this.held.push(line);
      return;
    }
    this.handleLine(line);
  }

  private handleLine(line: string): void {
    if (this.violation) return;
    const parsed = parseAgentLine(line);
    if (!parsed.ok) return this.taint(parsed.reason);
    const m = parsed.message;
    if (m.type === 'ready') {
      if (!this.isReady) {
        this.isReady = true;
        for (const w of this.readyWaiters.splice(0)) w();
      }
      return;
    }
    if (m.type === 'call' && m.id === undefined) return this.takeCall(m, null);
    const current = this.current;
    if (!current || m.id !== current.id) {
      return this.taint(
        `a "${m.type}" line for task ${JSON.stringify(m.id)}, which is not the task in flight (${current ? JSON.stringify(current.id) : 'none'})`,
      );
    }
    if (m.type === 'call') return this.takeCall(m, current);
    if (m.type === 'progress') return current.progress.offer(m);
    // The latest progress kept back goes out before the result.
    current.progress.flush();
    current.queue.push({ kind: 'message', message: m });
  }

  /**
   * Answers a call: refusals that cost nothing at once; a call that would run a handler while
   * the container already has maxOutstandingCalls running is refused too.
   */
  private takeCall(
    call: CallMessage,
    task: { id: string; calls: AbortController; limiter: CallRateLimiter } | null,
  ): void {
    const signal = task
      ? task.calls.signal
      : AbortSignal.any([
          this.backgroundCalls.signal,
          AbortSignal.timeout(BACKGROUND_CALL_TIMEOUT_MS),
        ]);
    const decided = decideCall(
      this.deps.handlers,
      call,
      {
        agent: this.agent.manifest,
        taskId: task?.id,
        callerNode: this.lastCaller.node,
        traceId: this.lastCaller.traceId,
        signal,
        limiter: task ? task.limiter : this.backgroundLimiter,
      },
      this.deps.log,
    );
    if (!('run' in decided)) return this.reply(call, decided);
    if (this.outstanding >= this.limits.maxOutstandingCalls) {
      return this.reply(call, {
        ok: false,
        error: `${call.method} refused: ${this.agent.manifest.name} already has ${this.outstanding} host calls outstanding, the most one container may have; wait for their replies before making more`,
      });
    }
    this.outstanding++;
    void decided
      .run()
      .then((outcome) => {
        // The task may have ended meanwhile (timeout, cancel): its calls' replies go nowhere.
        if (!(signal.aborted && task)) this.reply(call, outcome);
      })
      .finally(() => this.outstanding--);
  }

  private reply(call: CallMessage, outcome: CallOutcome): void {
    const base = {
      v: 1 as const,
      type: 'reply' as const,
      call_id: call.call_id,
      ...(call.id ? { id: call.id } : {}),
    };
    this.send(
      outcome.ok
        ? { ...base, ok: true, result: outcome.result }
        : { ...base, ok: false, error: outcome.error },
    );
  }

  /** The agent broke the protocol: end the task in flight and the container. */
  private taint(reason: string): void {
    if (this.violation) return;
    this.violation = reason;
    this.deps.log.warn(
      { agent: this.agent.manifest.name, container: this.name, reason },
      'agent protocol violation',
    );
    this.current?.queue.push({ kind: 'violation', reason });
    void this.kill('protocol');
  }

  private onExit(exit: ContainerExit): ExitInfo {
    this.gone = true;
    if (this.blocked) {
      clearTimeout(this.blocked.timer);
      // Let what the agent left in its stdout flow to its end, so the streams close.
      this.handle.stdout.resume();
    }
    this.blocked = null;
    this.held = [];
    this.backgroundCalls.abort();
    if (this.backgroundLimiter.refusedTotal > 0)
      this.deps.log.warn(
        { agent: this.agent.manifest.name, refused: this.backgroundLimiter.refused },
        `refused ${this.backgroundLimiter.refusedTotal} host calls between tasks over their rate limit`,
      );
    const info: ExitInfo = {
      reason: this.killReason ?? exitReason(exit),
      statusCode: exit.statusCode,
      detail: this.violation ?? this.retiredFor ?? exit.detail,
      stderrTail: [...this.stderrTail],
    };
    this.deps.log.debug(
      {
        agent: this.agent.manifest.name,
        container: this.name,
        reason: info.reason,
        statusCode: exit.statusCode,
      },
      'agent container exited',
    );
    this.current?.queue.push({ kind: 'exit' });
    return info;
  }
}

/** The runtime's exit cause as the run sees it, for an exit the host did not ask for. */
export function exitReason(exit: ContainerExit): ExitReason {
  switch (exit.cause) {
    case 'oom':
      return 'oom';
    case 'timeout':
      return 'timeout';
    case 'killed':
      return 'stopped';
    default:
      return 'exited';
  }
}

export function exitError(agent: LoadedAgent, info: ExitInfo): RunEvent {
  const code =
    info.reason === 'exited' || info.reason === 'stopped' || info.reason === 'retired'
      ? 'crashed'
      : info.reason;
  return runError(code, describeExit(agent, info), info.reason === 'exited');
}

export function describeExit(agent: LoadedAgent, info: ExitInfo): string {
  const m = agent.manifest;
  switch (info.reason) {
    case 'timeout':
      return `${m.name} did not finish within its ${m.timeout_s} s timeout (timeout_s in agent.toml) and was killed`;
    case 'oom':
      return `${m.name} ran out of memory: it used more than its ${m.memory_mb} MB (memory_mb in agent.toml) and was killed`;
    case 'cancelled':
      return `the run of ${m.name} was cancelled and its container stopped`;
    case 'protocol':
      return `${m.name} broke the agent protocol: ${info.detail}`;
    case 'stopped':
      return `${m.name}'s container was stopped`;
    case 'retired':
      return `${m.name}'s warm container was replaced after a task that hit its limits${info.detail ? `: ${info.detail}` : ''}`;
    case 'exited': {
      const status = info.statusCode === null ? 'exited' : `exited with status ${info.statusCode}`;
      const last = info.stderrTail.slice(-3).join(' | ');
      return `${m.name} ${status} before answering${last ? `; its last words on stderr: ${last}` : ''}`;
    }
  }
}
