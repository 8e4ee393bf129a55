/**
 * A ContainerRuntime whose "agent" is a script (test/agents/io-limits.test.ts, the flood RSS
 * checks): the host side (AgentRunner, the protocol, the host calls) is the real one; the
 * container is a pair of streams the script reads and writes as a process on a pipe would.
 */
import { PassThrough } from 'node:stream';
import {
  AgentRunner,
  type AgentIoLimits,
  type ContainerExit,
  type ContainerHandle,
  type ContainerRuntime,
  type HostCalls,
} from '../../node/agents/index.js';
import { parseManifest, type LoadedAgent } from '../../node/agentspec/index.js';

/** The agent's side of one container. */
/** What a scripted agent holds of unread stdin before it stops taking more (a reader's buffer). */
export const AGENT_BUFFER_BYTES = 1024 * 1024;

export interface Agent {
  /** the next line the host wrote (parsed); rejects once the container is gone */
  read(): Promise<Record<string, unknown>>;
  /** stop reading stdin for good (what the host writes then stays in the pipe) */
  stopReading(): void;
  /** writes one line, waiting while the pipe is full, as a process blocked on write(2) would */
  say(...lines: object[]): Promise<void>;
  readonly gone: boolean;
}

export interface Started {
  /** bytes the host wrote to the agent's stdin */
  written: number;
  killedWith: string | null;
  stdin: PassThrough;
}

export function scriptedRuntime(play: (a: Agent) => Promise<void>): {
  runtime: ContainerRuntime;
  started: Started[];
} {
  const started: Started[] = [];
  const runtime: ContainerRuntime = {
    engine: 'Fake',
    platform: async () => 'linux/amd64',
    async start(spec) {
      let settle!: (exit: ContainerExit) => void;
      const exit = new Promise<ContainerExit>((resolve) => (settle = resolve));
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const s: Started = { written: 0, killedWith: null, stdin };
      const write = stdin.write.bind(stdin) as (chunk: string) => boolean;
      stdin.write = ((chunk: string) => {
        s.written += Buffer.byteLength(chunk);
        return write(chunk);
      }) as typeof stdin.write;
      let gone = false;
      const exitWith = (e: ContainerExit): void => {
        if (gone) return;
        gone = true;
        stdout.end();
        stderr.end();
        stdin.destroy();
        settle(e);
      };
      // The agent's own buffer is bounded, as a process reading a pipe into a fixed buffer is:
      // past AGENT_BUFFER_BYTES of unread lines it stops taking from stdin until the script reads.
      const lines: string[] = [];
      let unreadBytes = 0;
      let stopped = false;
      let wake: (() => void) | null = null;
      let buffered = '';
      const onData = (chunk: Buffer): void => {
        buffered += chunk.toString();
        for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
          lines.push(buffered.slice(0, at));
          unreadBytes += at + 1;
          buffered = buffered.slice(at + 1);
        }
        if (unreadBytes > AGENT_BUFFER_BYTES) stdin.pause();
        wake?.();
      };
      stdin.on('data', onData);
      const agent: Agent = {
        async read() {
          while (lines.length === 0) {
            if (gone) throw new Error('gone');
            await new Promise<void>((resolve) => {
              wake = resolve;
              void exit.then(() => resolve());
            });
          }
          const line = lines.shift()!;
          unreadBytes -= line.length + 1;
          if (!stopped && stdin.isPaused() && unreadBytes <= AGENT_BUFFER_BYTES) stdin.resume();
          return JSON.parse(line) as Record<string, unknown>;
        },
        stopReading() {
          stopped = true;
          stdin.off('data', onData);
          stdin.pause();
        },
        async say(...out) {
          if (gone) return;
          if (!stdout.write(out.map((line) => `${JSON.stringify(line)}\n`).join('')))
            await new Promise<void>((resolve) => {
              stdout.once('drain', resolve);
              void exit.then(() => resolve());
            });
        },
        get gone() {
          return gone;
        },
      };
      const handle: ContainerHandle = {
        id: `id-${started.length}`,
        name: spec.name,
        stdin,
        stdout,
        stderr,
        exit,
        async kill(cause) {
          s.killedWith ??= cause;
          exitWith({ cause, statusCode: 137, detail: '' });
        },
        async remove() {},
      };
      started.push(s);
      void play(agent)
        .catch(() => undefined)
        .finally(() => exitWith({ cause: 'normal', statusCode: 0, detail: '' }));
      return handle;
    },
    findImage: async () => ({ sizeBytes: 1 }),
    ensureEgressNetwork: async () => {},
    removeLeftovers: async () => {},
  };
  return { runtime, started };
}

export const agentWith = (calls: string[], timeoutS = 5): LoadedAgent => ({
  manifest: parseManifest(
    `name = "flood"\ntier = "cold"\nmemory_mb = 32\ntimeout_s = ${timeoutS}\ncalls = ${JSON.stringify(calls)}\n[[intents]]\nname = "go"\n`,
  ),
  dir: '/nonexistent',
  hash: 'f'.repeat(64),
});

export function runner(
  runtime: ContainerRuntime,
  agent: LoadedAgent,
  handlers: Partial<HostCalls>,
  ioLimits?: Partial<AgentIoLimits>,
): AgentRunner {
  return new AgentRunner({
    runtime,
    agents: [agent],
    host: 'fake-host',
    resolveImage: async () => 'fake:1',
    handlers,
    ioLimits,
  });
}

export const status = (payload: string) => ({
  self: payload,
  peers: [],
});
