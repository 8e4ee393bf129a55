/**
 * Shared by the agenthost tests (ports come from test/support/ports.ts): loopback
 * addresses 127.0.5.x, a scripted executor for the gRPC plumbing, and peer views that point at
 * real servers.
 */
import { randomBytes } from 'node:crypto';
import {
  ManifestSchema,
  type AgentManifest,
  type RunEvent,
  type RunRequest,
} from '../../node/agentspec/index.js';
import type { AgentExecutor, HostedAgent } from '../../node/agenthost/index.js';
import type { PeerView } from '../../node/types.js';
import { peer, type PeerSpec } from '../placement/peers.js';
export { collect } from '../support/wait.js';

export function meshSecret(): Buffer {
  return randomBytes(32);
}

export function manifest(over: Partial<Record<string, unknown>> = {}): AgentManifest {
  return ManifestSchema.parse({
    name: 'lights',
    tier: 'warm',
    idempotent: true,
    timeout_s: 10,
    memory_mb: 16,
    intents: [{ name: 'on', args: { room: { type: 'string', required: true } } }, { name: 'off' }],
    ...over,
  });
}

export type Script = (req: RunRequest, signal: AbortSignal) => AsyncIterable<RunEvent>;

/** An executor whose runs follow `script`; it records each run and whether its signal was aborted. */
export class ScriptedExecutor implements AgentExecutor {
  readonly runs: Array<{ request: RunRequest; aborted: boolean; reason?: unknown }> = [];
  private readonly agents = new Map<string, HostedAgent>();

  constructor(
    manifests: AgentManifest[],
    public script: Script,
    hash = 'a'.repeat(64),
  ) {
    for (const m of manifests) this.agents.set(m.name, { manifest: m, hash });
  }

  agent(name: string): HostedAgent | undefined {
    return this.agents.get(name);
  }

  agentNames(): string[] {
    return [...this.agents.keys()];
  }

  run(request: RunRequest, opts: { signal: AbortSignal }): AsyncIterable<RunEvent> {
    const record: { request: RunRequest; aborted: boolean; reason?: unknown } = {
      request,
      aborted: false,
    };
    this.runs.push(record);
    opts.signal.addEventListener('abort', () => {
      record.aborted = true;
      record.reason = opts.signal.reason;
    });
    return this.script(request, opts.signal);
  }
}

export const accepted = (warm = true): RunEvent => ({
  type: 'accepted',
  agent: 'lights',
  intent: 'on',
  taskId: 't1',
  host: 'h',
  warm,
  container: 'c1',
});

/** A run that says accepted, one progress line, then the result "<text> (<host>)". */
export function quick(host: string, text = 'done'): Script {
  return async function* () {
    yield accepted();
    yield { type: 'progress', message: 'working', percent: 50 };
    yield { type: 'result', text: `${text} (${host})`, data: { host } };
  };
}

/** A run that is accepted, then waits until its signal aborts (and says cancelled). */
export function hanging(onStarted?: () => void): Script {
  return async function* (_req, signal) {
    yield accepted();
    onStarted?.();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    yield { type: 'error', code: 'cancelled', message: 'cancelled', retryable: false };
  };
}

/** A peer view entry for a node whose gRPC server listens on address:port. */
export function hostPeer(spec: PeerSpec & { address: string; port: number }): PeerView {
  const p = peer(spec);
  return { ...p, addresses: [spec.address], ports: { rpc: spec.port, cluster: 0 } };
}
