/**
 * `helix-node models pull --router`: the router LLM is pulled by Ollama on the node that routes
 * (placement's pickRouterPeer: the GPU peer), not downloaded by us. On that node it is a plain
 * /api/pull; from any other node it is a gRPC call, Models.PullLlm, to that node's daemon, which
 * runs the pull and streams Ollama's progress back (Ollama itself listens on loopback only, so it
 * cannot be asked directly from another machine).
 */
import { describeError, HelixError, UnreachableError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { pickRouterPeer } from '../placement/index.js';
import type { OllamaApi, PullProgress } from '../router/index.js';
import {
  peerTarget,
  targetKey,
  GrpcStatus,
  ModelsService,
  RpcCallError,
  serverStream,
  type ModelsServer,
  type RpcClients,
  type RpcServer,
} from '../rpc/index.js';
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

/** progress lines waiting for a caller past which more are dropped */
export const PULL_STREAM_MAX_PENDING = 64;

/**
 * Models.PullLlm for this node's Ollama (the daemon of a node with Ollama registers it). One pull
 * per model at a time; a second request for the same model gets ALREADY_EXISTS. A pull keeps
 * running when its caller goes away (the download is worth finishing).
 */
export function modelsService(opts: {
  selfName: string;
  api: OllamaApi;
  logger?: Logger;
}): ModelsServer {
  const log = (opts.logger ?? silentLogger).child({ component: 'models' });
  const running = new Set<string>();
  return {
    pullLlm: (call) => {
      const model = call.request.model;
      const fail = (code: GrpcStatus, details: string) => {
        if (!call.cancelled) call.emit('error', { code, details });
      };
      if (!model || model.length > 200) {
        fail(GrpcStatus.INVALID_ARGUMENT, 'malformed pull request');
        return;
      }
      if (running.has(model)) {
        fail(
          GrpcStatus.ALREADY_EXISTS,
          `a pull of ${model} is already running on ${opts.selfName}`,
        );
        return;
      }
      running.add(model);
      log.info({ model }, 'pulling the router model for a peer');
      void pullWithOllama(opts.api, model, opts.selfName, {
        // a caller that stops reading gets no more progress once 64 wait for it (the pull goes
        // on; the end or the error is always sent): it cannot grow this node
        onProgress: (p) => {
          if (!call.cancelled && call.writableLength < PULL_STREAM_MAX_PENDING) call.write(p);
        },
      })
        .then(
          () => {
            if (!call.cancelled) call.end();
          },
          (err: unknown) => fail(GrpcStatus.FAILED_PRECONDITION, describeError(err)),
        )
        .finally(() => running.delete(model));
    },
  };
}

/** Adds Models to the node's gRPC server (before it starts); mesh proof is checked like every service. */
export function registerModels(rpc: RpcServer, opts: Parameters<typeof modelsService>[0]): void {
  rpc.addService(ModelsService, modelsService(opts));
}

/** Ask a peer's daemon to pull `model` with its Ollama; resolves when it is done. */
export async function pullOnPeer(
  clients: RpcClients,
  peer: Pick<PeerView, 'name' | 'addresses' | 'ports'>,
  model: string,
  opts: LlmPullOptions = {},
): Promise<void> {
  opts.signal?.throwIfAborted();
  const target = peerTarget(peer);
  const idleMs = opts.idleTimeoutMs ?? 120_000;
  const stop = new AbortController();
  const onAbort = () => stop.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () =>
        stop.abort(
          new UnreachableError(
            `${peer.name} sent no pull progress for ${idleMs / 1000} s; check \`ollama ps\` there, or try again`,
          ),
        ),
      idleMs,
    );
  };
  arm();
  try {
    const client = clients.models(target);
    for await (const p of serverStream(
      client.pullLlm.bind(client),
      { model },
      // a big model takes hours on a slow line; the idle timer above catches a stalled pull
      { timeoutMs: PULL_DEADLINE_MS, signal: stop.signal, target: targetKey(target) },
    )) {
      arm();
      opts.onProgress?.({
        status: p.status,
        ...(p.completedBytes !== undefined ? { completedBytes: p.completedBytes } : {}),
        ...(p.totalBytes !== undefined ? { totalBytes: p.totalBytes } : {}),
      });
    }
  } catch (err) {
    if (stop.signal.aborted) throw stop.signal.reason;
    throw pullCallError(err, peer.name);
  } finally {
    clearTimeout(idle);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

const PULL_DEADLINE_MS = 24 * 3600_000;

/** The peer's own words for a pull that failed there; "did not take" when it could not be asked. */
function pullCallError(err: unknown, peerName: string): Error {
  if (err instanceof RpcCallError) {
    const details = (err.cause as { details?: string } | undefined)?.details ?? err.message;
    if (err.code === GrpcStatus.FAILED_PRECONDITION)
      return new LlmPullError(details, { cause: err });
    if (err.code === GrpcStatus.ALREADY_EXISTS || err.code === GrpcStatus.INVALID_ARGUMENT)
      return new LlmPullError(`${peerName} refused the pull: ${details}`, { cause: err });
  }
  return new UnreachableError(
    `${peerName} did not take the pull request (${describeError(err)}); check that helix-node runs there`,
    { cause: err },
  );
}

/**
 * Pull the router model where it will run: the peer pickRouterPeer chooses (a GPU peer with
 * Ollama first). On this node that is a local /api/pull; elsewhere a Models.PullLlm call.
 * Returns the node that pulled.
 */
export async function pullRouterModel(opts: {
  model: string;
  view: readonly PeerView[];
  /** gRPC clients to peers (null: this node only) */
  clients: RpcClients | null;
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
    if (!opts.clients)
      throw new UnreachableError('no gRPC clients to reach peers; is helix-node running?');
    await pullOnPeer(opts.clients, target, opts.model, opts.pull);
  }
  return { node: target.name };
}
