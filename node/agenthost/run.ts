/**
 * Runs an intent anywhere in the mesh (DESIGN.md §4): place it with pickAgentHost on the live
 * view, call AgentHost.Run on that peer and stream its events back.
 *
 * When a run moves (at most once, never to the same host; never when pinned with `--on`):
 *  - the host never started it (unreachable before the call reached it, it does not know the
 *    agent or has another version, or it could not get the image) → placed again, whatever the
 *    manifest says, as the agent did not run;
 *  - the host was lost after taking it (the stream broke, ended without a result, or membership
 *    declared the host dead, or suspect for a run that may move) → placed again only if the
 *    manifest says idempotent; otherwise
 *    the run ends with Error{host_lost} naming the node, as the agent may have acted already.
 * Every stream ends with exactly one `result` or `error` event; nothing is dropped silently.
 */
import type { AgentManifest } from '../agentspec/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { pickAgentHost } from '../placement/index.js';
import {
  peerTarget,
  GrpcStatus,
  RpcCallError,
  serverStream,
  targetKey,
  untilConnected,
  CONNECT_GRACE_MS,
  type RpcClients,
  type WireRunRequest,
} from '../rpc/index.js';
import type { PeerView } from '../types.js';
import type { RemoteRunEvent } from './types.js';

export interface RunAnywhereOptions {
  /** the live view of the mesh (membership), read at each placement and while the run lasts */
  view: () => readonly PeerView[];
  clients: RpcClients;
  manifest: AgentManifest;
  intent: string;
  args: Record<string, unknown>;
  traceId: string;
  /** the image content hash this node expects; hosts with another version refuse */
  imageHash?: string;
  /** `--on NODE` (name or id) */
  onNode?: string;
  /** this node's id, sent as the request's owner (default: the view's self) */
  callerNode?: string;
  /** cancels the run on the host */
  signal?: AbortSignal;
  /** wall-clock deadline, ms since epoch (default: now + the manifest's timeout + startSlackMs) */
  deadlineMs?: number;
  /** time a host may need before the agent starts: image fetch or build, container start (default 30 s) */
  startSlackMs?: number;
  /** how often the view is checked for the host's death while it runs (default 500 ms) */
  watchIntervalMs?: number;
  log?: Logger;
}

/** The gRPC call outlives the run's deadline by this much, so the host's own timeout error arrives. */
const CALL_GRACE_MS = 2000;

type Outcome =
  | { kind: 'done' }
  /** the agent did not run there; safe to place again */
  | { kind: 'not_started'; code: string; reason: string }
  /** the host went away after it may have started the agent */
  | { kind: 'lost'; reason: string };

export async function* runAnywhere(opts: RunAnywhereOptions): AsyncGenerator<RemoteRunEvent> {
  const { manifest } = opts;
  const log = (opts.log ?? silentLogger).child({
    component: 'run',
    agent: manifest.name,
    intent: opts.intent,
    traceId: opts.traceId,
  });
  const deadline =
    opts.deadlineMs ?? Date.now() + manifest.timeout_s * 1000 + (opts.startSlackMs ?? 30_000);
  const exclude: string[] = [];
  /** the host tried first and why it did not finish there: lost, or the code it could not start with */
  let previous: { node: PeerView; reason: string; code: string } | undefined;

  for (let attempt = 1; attempt <= 2; attempt++) {
    if (opts.signal?.aborted) {
      yield {
        type: 'error',
        code: 'cancelled',
        message: `${manifest.name}.${opts.intent} was cancelled`,
        retryable: false,
      };
      return;
    }
    const placement = pickAgentHost(opts.view(), {
      agent: manifest.name,
      tier: manifest.tier,
      imageHash: opts.imageHash,
      memoryMb: manifest.memory_mb,
      onNode: opts.onNode,
      exclude,
    });
    if ('error' in placement) {
      const message = previous
        ? `${previous.reason}; no other host can take it: ${placement.error}`
        : placement.error;
      yield {
        type: 'error',
        code: previous ? previous.code : 'no_host',
        message,
        retryable: false,
        node: previous?.node.name,
      };
      return;
    }
    const host = placement.node;
    log.info(
      { host: host.name, warm: placement.warm, reason: placement.reason, attempt },
      'run placed',
    );
    yield {
      type: 'placed',
      node: host.name,
      nodeId: host.id,
      warm: placement.warm,
      reason: placement.reason,
      attempt,
    };

    const outcome = yield* runOn(host, opts, deadline, attempt);
    if (outcome.kind === 'done') return;

    const what = `${manifest.name}.${opts.intent}`;
    // A run pinned with --on stays on its node: placing it elsewhere is not what was asked.
    const pinned = opts.onNode !== undefined;
    const canMove =
      attempt === 1 && !pinned && (outcome.kind === 'not_started' || manifest.idempotent);
    log.warn(
      { host: host.name, outcome: outcome.kind, reason: outcome.reason, moving: canMove },
      'run did not complete on its host',
    );
    if (!canMove) {
      if (outcome.kind === 'not_started') {
        const detail = previous
          ? `${previous.reason}; then ${outcome.reason}`
          : `${host.name} could not run ${what} (${outcome.reason})`;
        yield {
          type: 'error',
          code: outcome.code,
          message: detail,
          retryable: false,
          node: host.name,
        };
      } else {
        yield {
          type: 'host_lost',
          node: host.name,
          nodeId: host.id,
          reason: outcome.reason,
          retrying: false,
        };
        const why = !manifest.idempotent
          ? `${manifest.name} is not idempotent, so it was not run again; check whether it took effect before retrying`
          : pinned
            ? `it was pinned there with --on, so it was not placed elsewhere; run it again without --on or on another node`
            : `it was already placed again once`;
        yield {
          type: 'error',
          code: 'host_lost',
          message: `lost ${host.name} while it ran ${what} (${outcome.reason}); ${why}`,
          retryable: false,
          node: host.name,
        };
      }
      return;
    }
    if (outcome.kind === 'lost')
      yield {
        type: 'host_lost',
        node: host.name,
        nodeId: host.id,
        reason: outcome.reason,
        retrying: true,
      };
    previous = {
      node: host,
      code: outcome.kind === 'lost' ? 'host_lost' : outcome.code,
      reason:
        outcome.kind === 'lost'
          ? `lost ${host.name} while it ran ${what} (${outcome.reason})`
          : `${host.name} could not run ${what} (${outcome.reason})`,
    };
    exclude.push(host.id);
  }
}

async function* runOn(
  host: PeerView,
  opts: RunAnywhereOptions,
  deadline: number,
  attempt: number,
): AsyncGenerator<RemoteRunEvent, Outcome> {
  const target = peerTarget(host);
  const key = targetKey(target);
  const client = opts.clients.agentHost(target);
  const request: WireRunRequest = {
    traceId: opts.traceId,
    agent: opts.manifest.name,
    intent: opts.intent,
    argsJson: JSON.stringify(opts.args),
    callerNode: opts.callerNode ?? opts.view().find((p) => p.self)?.id ?? '',
    deadlineMs: Math.round(deadline),
    imageHash: opts.imageHash ?? '',
  };

  // Membership notices a host that died (10 s of silence) sooner than TCP would on a sleeping laptop.
  // A run that may move (idempotent, not pinned, first attempt) moves once its host is suspect
  // (3 s of silence): the host refuses the agent's host calls from then on (agenthost/fence.ts),
  // so the abandoned copy cannot act, and stops it when the cancel reaches it.
  const movable = opts.manifest.idempotent && opts.onNode === undefined && attempt === 1;
  const lost = new AbortController();
  let lostReason: string | undefined;
  const watch = setInterval(() => {
    const now = opts.view().find((p) => p.id === host.id);
    if (
      !now ||
      now.state === 'dead' ||
      now.state === 'left' ||
      (movable && now.state === 'suspect')
    ) {
      lostReason = `the mesh reports ${host.name} ${now ? now.state : 'gone'}`;
      lost.abort();
    }
  }, opts.watchIntervalMs ?? 500);
  const signal = opts.signal ? AbortSignal.any([opts.signal, lost.signal]) : lost.signal;
  const what = `${opts.manifest.name}.${opts.intent}`;

  let accepted = false;
  /** the result or error has been passed on; what follows is only the call's status */
  let finished = false;
  try {
    // a host that has just started is alive in the mesh a moment before its gRPC server listens
    await untilConnected(client, CONNECT_GRACE_MS, signal);
    const timeoutMs = Math.max(1, deadline + CALL_GRACE_MS - Date.now());
    for await (const message of serverStream(client.run.bind(client), request, {
      timeoutMs,
      signal,
      target: key,
    })) {
      const ev = message.event;
      if (!ev) continue;
      switch (ev.$case) {
        case 'accepted':
          accepted = true;
          yield {
            type: 'accepted',
            hostNode: ev.value.hostNode,
            hostName: ev.value.hostName,
            warm: ev.value.warm,
          };
          break;
        case 'progress':
          yield {
            type: 'progress',
            message: ev.value.message,
            percent: ev.value.percent >= 0 ? ev.value.percent : undefined,
          };
          break;
        case 'result':
          if (finished) break;
          finished = true;
          yield {
            type: 'result',
            text: ev.value.text,
            data: parseData(ev.value.dataJson),
            hostName: host.name,
          };
          // Read on to the call's OK status (it follows at once): leaving early would cancel the call.
          break;
        case 'error': {
          if (finished) break;
          const { code, message: text, retryable } = ev.value;
          // The host could not start the agent (no image, no container): another host may.
          if (retryable && (code === 'image_missing' || code === 'unavailable'))
            return { kind: 'not_started', code, reason: text };
          finished = true;
          yield { type: 'error', code, message: text, retryable, node: host.name };
          break;
        }
      }
    }
    if (finished) return { kind: 'done' };
    return { kind: 'lost', reason: `${host.name} ended the call without a result` };
  } catch (err) {
    if (finished) return { kind: 'done' };
    if (opts.signal?.aborted) {
      yield {
        type: 'error',
        code: 'cancelled',
        message: `${what} was cancelled`,
        retryable: false,
        node: host.name,
      };
      return { kind: 'done' };
    }
    // The host may have started the agent before it died, so this counts as lost even before Accepted.
    if (lostReason) return { kind: 'lost', reason: lostReason };
    if (!(err instanceof RpcCallError)) {
      yield {
        type: 'error',
        code: 'internal',
        message: `${what} on ${host.name} failed: ${describeError(err)}`,
        retryable: false,
        node: host.name,
      };
      return { kind: 'done' };
    }
    const details = (err.cause as { details?: string } | undefined)?.details ?? err.message;
    switch (err.code) {
      case GrpcStatus.UNAVAILABLE:
        // grpc-js says this when it never reached the peer: the request was not delivered.
        if (!accepted && /No connection established/.test(details)) {
          return {
            kind: 'not_started',
            code: 'unavailable',
            reason: `${host.name} is unreachable (${details})`,
          };
        }
        return { kind: 'lost', reason: `the connection to ${host.name} broke (${details})` };
      case GrpcStatus.CANCELLED:
      case GrpcStatus.INTERNAL:
      case GrpcStatus.UNKNOWN:
      case GrpcStatus.ABORTED:
        return {
          kind: 'lost',
          reason: `${host.name} dropped the call (${GrpcStatus[err.code]}: ${details})`,
        };
      case GrpcStatus.NOT_FOUND:
      case GrpcStatus.FAILED_PRECONDITION:
      case GrpcStatus.RESOURCE_EXHAUSTED:
        return {
          kind: 'not_started',
          code: 'refused',
          reason: `${host.name} refused it: ${details}`,
        };
      case GrpcStatus.INVALID_ARGUMENT:
        yield {
          type: 'error',
          code: 'invalid_args',
          message: details,
          retryable: false,
          node: host.name,
        };
        return { kind: 'done' };
      case GrpcStatus.DEADLINE_EXCEEDED:
        yield {
          type: 'error',
          code: 'timeout',
          message: `${what} on ${host.name} did not finish before its deadline (attempt ${attempt})`,
          retryable: false,
          node: host.name,
        };
        return { kind: 'done' };
      default:
        yield {
          type: 'error',
          code: 'refused',
          message: err.message,
          retryable: false,
          node: host.name,
        };
        return { kind: 'done' };
    }
  } finally {
    clearInterval(watch);
  }
}

function parseData(json: string): unknown {
  if (json === '') return null;
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}
