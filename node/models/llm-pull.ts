/**
 * `helix-node models pull --router`: the router LLM is pulled by Ollama on the node that routes
 * (placement's pickRouterPeer: the GPU peer), not downloaded by us. On that node it is a plain
 * /api/pull; from any other node the request goes over the bus to that node's daemon, which runs
 * the pull and publishes progress back (Ollama itself listens on loopback only, so it cannot be
 * asked directly from another machine).
 *
 *   helix.v1.models.<nodeId>.pull   request { model, progressSubject } -> { accepted } | { error }
 *   <progressSubject>               { type: progress | done | error, ... } until done or error
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Bus, Subscription } from '../bus/index.js';
import { describeError, HelixError, UnreachableError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { pickRouterPeer } from '../placement/index.js';
import type { OllamaApi, PullProgress } from '../router/index.js';
import type { PeerView } from '../types.js';

export interface LlmPullProgress {
  /** Ollama's status line: "pulling manifest", "pulling 6a0746a1ec1a", "verifying sha256 digest" */
  status: string;
  completedBytes?: number;
  totalBytes?: number;
}

export interface LlmPullOptions {
  signal?: AbortSignal;
  onProgress?: (p: LlmPullProgress) => void;
  /** no progress for this long ends the pull (default 120 s; registries stall on big layers) */
  idleTimeoutMs?: number;
}

/** Raised when Ollama could not pull (offline registry, unknown model). */
export class LlmPullError extends HelixError {
  override readonly exitCode = 69;
}

export function pullSubject(nodeId: string): string {
  return `helix.v1.models.${nodeId}.pull`;
}

/** Pull with the Ollama on this machine. Resolves when Ollama says "success". */
export async function pullWithOllama(
  api: OllamaApi,
  model: string,
  where: string,
  opts: LlmPullOptions = {},
): Promise<void> {
  try {
    for await (const p of api.pull(model, {
      signal: opts.signal,
      timeoutMs: opts.idleTimeoutMs ?? 120_000,
    })) {
      opts.onProgress?.(toProgress(p));
    }
  } catch (err) {
    opts.signal?.throwIfAborted();
    throw explainPullFailure(err, model, where);
  }
}

function toProgress(p: PullProgress): LlmPullProgress {
  return {
    status: p.status,
    ...(p.completed !== undefined ? { completedBytes: p.completed } : {}),
    ...(p.total !== undefined ? { totalBytes: p.total } : {}),
  };
}

export function explainPullFailure(err: unknown, model: string, where: string): Error {
  const text = describeError(err);
  if (
    /no such host|dial tcp|i\/o timeout|network is unreachable|connection refused.*registry/i.test(
      text,
    )
  ) {
    return new LlmPullError(
      `Ollama on ${where} cannot reach its registry to pull ${model} (${text}): that machine is offline; connect it to the internet, or copy the model from a machine that has it (\`ollama cp\` / the ~/.ollama/models directory)`,
      { cause: err },
    );
  }
  if (/file does not exist|not found/i.test(text)) {
    return new LlmPullError(
      `Ollama on ${where} found no model named ${model} in its registry; check the name on https://ollama.com/library and set router.model`,
      { cause: err },
    );
  }
  if (err instanceof HelixError) return err;
  return new LlmPullError(`pulling ${model} with Ollama on ${where} failed: ${text}`, {
    cause: err,
  });
}

const PullRequestSchema = z.object({
  model: z.string().min(1).max(200),
  progressSubject: z.string().regex(/^helix\.v1\.pullprogress\.[a-f0-9]{16}$/),
});
const PullAckSchema = z.union([
  z.object({ accepted: z.literal(true) }),
  z.object({ error: z.string() }),
]);
const PullEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('progress'),
    status: z.string().max(500),
    completedBytes: z.number().optional(),
    totalBytes: z.number().optional(),
  }),
  z.object({ type: z.literal('done') }),
  z.object({ type: z.literal('error'), message: z.string().max(4000) }),
]);
type PullEvent = z.infer<typeof PullEventSchema>;

const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const decode = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b));

/**
 * Serves pull requests for this node's Ollama over the bus (the daemon of a node with Ollama
 * runs it). One pull per model at a time; a second request for the same model joins nothing and
 * gets an error saying one is running.
 */
export function servePullRequests(opts: {
  bus: Bus;
  selfId: string;
  selfName: string;
  api: OllamaApi;
  logger?: Logger;
}): Subscription {
  const log = (opts.logger ?? silentLogger).child({ component: 'models' });
  const running = new Set<string>();
  return opts.bus.subscribe(pullSubject(opts.selfId), (msg) => {
    let req: z.infer<typeof PullRequestSchema>;
    try {
      req = PullRequestSchema.parse(decode(msg.data));
    } catch {
      msg.respond(encode({ error: 'malformed pull request' }));
      return;
    }
    if (running.has(req.model)) {
      msg.respond(
        encode({ error: `a pull of ${req.model} is already running on ${opts.selfName}` }),
      );
      return;
    }
    running.add(req.model);
    msg.respond(encode({ accepted: true }));
    log.info({ model: req.model }, 'pulling the router model for a peer');
    const send = (e: PullEvent) => opts.bus.publish(req.progressSubject, encode(e));
    void pullWithOllama(opts.api, req.model, opts.selfName, {
      onProgress: (p) => send({ type: 'progress', ...p }),
    })
      .then(
        () => send({ type: 'done' }),
        (err: unknown) => send({ type: 'error', message: describeError(err) }),
      )
      .finally(() => running.delete(req.model));
  });
}

/** Ask a peer's daemon to pull `model` with its Ollama; resolves when it is done. */
export async function pullOnPeer(
  bus: Bus,
  peer: { id: string; name: string },
  model: string,
  opts: LlmPullOptions = {},
): Promise<void> {
  opts.signal?.throwIfAborted();
  const progressSubject = `helix.v1.pullprogress.${randomBytes(8).toString('hex')}`;
  const idleMs = opts.idleTimeoutMs ?? 120_000;
  let sub: Subscription | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          reject(
            new UnreachableError(
              `${peer.name} sent no pull progress for ${idleMs / 1000} s; check \`ollama ps\` there, or try again`,
            ),
          ),
        idleMs,
      );
    };
    arm();
    const onAbort = () => {
      clearTimeout(timer);
      reject(opts.signal?.reason);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    sub = bus.subscribe(progressSubject, (msg) => {
      const parsed = PullEventSchema.safeParse(safeDecode(msg.data));
      if (!parsed.success) return;
      const e = parsed.data;
      arm();
      if (e.type === 'progress') {
        const { type: _t, ...p } = e;
        opts.onProgress?.(p);
      } else if (e.type === 'done') {
        settle();
        resolve();
      } else {
        settle();
        reject(new LlmPullError(e.message));
      }
    });
  });
  // keep an unhandled rejection from surfacing if the request below fails first
  finished.catch(() => undefined);
  try {
    await bus.flush();
    let ack: z.infer<typeof PullAckSchema>;
    try {
      ack = PullAckSchema.parse(
        decode(
          await bus.request(pullSubject(peer.id), encode({ model, progressSubject }), {
            timeoutMs: 5000,
          }),
        ),
      );
    } catch (err) {
      throw new UnreachableError(
        `${peer.name} did not take the pull request (${describeError(err)}); check that helix-node runs there`,
        { cause: err },
      );
    }
    if ('error' in ack) throw new LlmPullError(`${peer.name} refused the pull: ${ack.error}`);
    await finished;
  } finally {
    sub?.unsubscribe();
  }
}

function safeDecode(b: Uint8Array): unknown {
  try {
    return decode(b);
  } catch {
    return null;
  }
}

/**
 * Pull the router model where it will run: the peer pickRouterPeer chooses (a GPU peer with
 * Ollama first). On this node that is a local /api/pull; elsewhere a request over the bus.
 * Returns the node that pulled.
 */
export async function pullRouterModel(opts: {
  model: string;
  view: readonly PeerView[];
  bus: Bus | null;
  /** this node's Ollama (router.ollama_url), when it has one */
  localApi: OllamaApi | null;
  /** pull on this node name or id instead of the one placement picks */
  on?: string;
  pull?: LlmPullOptions;
}): Promise<{ node: string }> {
  const target = opts.on
    ? opts.view.find((p) => p.name === opts.on || p.id === opts.on)
    : pickRouterPeer(opts.view, opts.model);
  if (!target) {
    throw new LlmPullError(
      opts.on
        ? `no node named ${opts.on} in the mesh; \`helix-node status\` lists them`
        : `no node in the mesh runs Ollama: install it on a GPU machine (https://ollama.com/download) and restart helix-node there; then run this again`,
    );
  }
  if (target.capabilities.ollama === null) {
    throw new LlmPullError(
      `${target.name} has no Ollama; install it there (https://ollama.com/download) or pick another node with --on`,
    );
  }
  if (target.self) {
    if (!opts.localApi) throw new LlmPullError('this node has no Ollama client configured');
    await pullWithOllama(opts.localApi, opts.model, target.name, opts.pull);
  } else {
    if (!opts.bus) throw new UnreachableError('the bus is not connected; is helix-node running?');
    await pullOnPeer(opts.bus, target, opts.model, opts.pull);
  }
  return { node: target.name };
}
