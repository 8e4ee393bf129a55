/**
 * AgentHost.Run, the serving side: checks the request, makes sure the image is here (fetch or
 * build), hands the task to the node's executor (warm pool or cold runner) and streams its events
 * back: Accepted first, then Progress, then exactly one Result or Error.
 *
 * This is the host's one check of a request (the executor trusts it). Requests that can never run
 * here end the call with a status before any event: an unknown agent or intent → NOT_FOUND (with
 * what this node serves), arguments that are not a JSON object or fail the manifest and this
 * node's config (tables such as lights.rooms) → INVALID_ARGUMENT, another version of the agent than the caller expects →
 * FAILED_PRECONDITION, a deadline already past → DEADLINE_EXCEEDED. Cancelling the call aborts
 * the run (the executor stops its container); the earlier of the request's deadline and the
 * call's deadline ends it with Error{timeout}.
 */
import {
  validateTaskArgs,
  currentConfig,
  type ConfigSource,
  type RunEvent,
  type RunRequest,
} from '../agentspec/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { sameImageHash } from '../placement/index.js';
import {
  GrpcStatus,
  callerNodeId,
  type AgentHostServer,
  type WireRunEvent,
  type WireRunRequest,
  type ServerWritableStream,
} from '../rpc/index.js';
import type { AgentExecutor, ImageProvisioner } from './types.js';
import { AgentBuildFailedError } from './errors.js';

export interface AgentHostComponents {
  executor: AgentExecutor;
  /** fetches or builds missing images before a run; without it the executor must have them */
  images?: ImageProvisioner;
  self: { id: string; name: string };
  /** helix.toml as parsed, or the daemon's current tree: the tables arguments are checked against (`enum_from`, e.g. rooms) */
  config?: ConfigSource;
  /** node id -> name (membership); agents are told the asking node by name */
  nodeName?: (id: string) => string | undefined;
  log?: Logger;
  /** kept before the call's gRPC deadline so the timeout reaches the caller as an event (default 1 s) */
  deadlineMarginMs?: number;
  /** after the deadline, how long the executor may take to report its own timeout (default 300 ms) */
  timeoutGraceMs?: number;
  /** how long a caller may read nothing while events wait for it before the run is stopped */
  stallMs?: number;
}

/**
 * Events waiting for a caller that does not read (gRPC's flow control holds them here): past
 * this many, progress is dropped (the result and errors are always sent). Progress lines are at
 * most 64 KiB (node/agents/limits.ts), so what waits stays under 4 MiB a run.
 */
export const RUN_STREAM_MAX_PENDING = 64;
/** default `stallMs`: as long as the control socket gives a CLI that stops reading */
export const RUN_STREAM_STALL_MS = 30_000;

type Call = ServerWritableStream<WireRunRequest, WireRunEvent>;

export function agentHostService(components: AgentHostComponents): AgentHostServer {
  const log = (components.log ?? silentLogger).child({ component: 'agenthost' });
  return {
    run: (call) => {
      serveRun(components, call, log).catch((err: unknown) => {
        log.error({ err: describeError(err) }, 'AgentHost.Run failed');
        if (!call.cancelled && call.writable)
          call.emit('error', { code: GrpcStatus.INTERNAL, details: describeError(err) });
      });
    },
  };
}

/** A rejection of the request itself as a gRPC status, or its arguments when it may run here. */
function checkRequest(
  c: AgentHostComponents,
  req: WireRunRequest,
): { code: GrpcStatus; details: string } | { args: Record<string, unknown> } {
  const here = c.self.name;
  const agent = c.executor.agent(req.agent);
  if (!agent) {
    const names = c.executor.agentNames().sort();
    return {
      code: GrpcStatus.NOT_FOUND,
      details: `no agent ${JSON.stringify(req.agent)} on ${here}; agents here: ${names.join(', ') || 'none'}`,
    };
  }
  const intent = agent.manifest.intents.find((i) => i.name === req.intent);
  if (!intent) {
    return {
      code: GrpcStatus.NOT_FOUND,
      details: `agent ${req.agent} has no intent ${JSON.stringify(req.intent)}; it serves: ${agent.manifest.intents.map((i) => i.name).join(', ')}`,
    };
  }
  let args: unknown;
  try {
    args = JSON.parse(req.argsJson === '' ? '{}' : req.argsJson);
  } catch (err) {
    return {
      code: GrpcStatus.INVALID_ARGUMENT,
      details: `args_json is not valid JSON (${(err as Error).message}); send a JSON object such as {"room":"kitchen"}`,
    };
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return {
      code: GrpcStatus.INVALID_ARGUMENT,
      details: `args_json must be a JSON object, not ${Array.isArray(args) ? 'an array' : JSON.stringify(args)}`,
    };
  }
  if (req.imageHash !== '' && !sameImageHash(req.imageHash, agent.hash)) {
    return {
      code: GrpcStatus.FAILED_PRECONDITION,
      details: `${here} has ${req.agent} version ${agent.hash.slice(0, 16)}, the caller expects ${req.imageHash.slice(0, 16)}; give both nodes the same agents (update HelixOS or copy the agent folder)`,
    };
  }
  const checked = validateTaskArgs(intent, args, currentConfig(c.config));
  if (!checked.ok) {
    return {
      code: GrpcStatus.INVALID_ARGUMENT,
      details: `${agent.manifest.name}.${intent.name}: ${checked.problems.join('; ')}`,
    };
  }
  return { args: checked.args };
}

/** Executor errors before acceptance that mean the request itself is wrong. */
const REQUEST_ERRORS: Partial<Record<string, GrpcStatus>> = {
  unknown_agent: GrpcStatus.NOT_FOUND,
  unknown_intent: GrpcStatus.NOT_FOUND,
  invalid_args: GrpcStatus.INVALID_ARGUMENT,
};

async function serveRun(c: AgentHostComponents, call: Call, log: Logger): Promise<void> {
  const req = call.request;
  const checked = checkRequest(c, req);
  if ('code' in checked) {
    log.info(
      {
        agent: req.agent,
        intent: req.intent,
        traceId: req.traceId,
        code: GrpcStatus[checked.code],
      },
      'run refused',
    );
    call.emit('error', checked);
    return;
  }
  const agent = c.executor.agent(req.agent)!;
  const what = `${req.agent}.${req.intent}`;

  const now = Date.now();
  const callDeadline = deadlineMs(call.getDeadline()) - (c.deadlineMarginMs ?? 1000);
  const deadline = Math.min(req.deadlineMs > 0 ? req.deadlineMs : Infinity, callDeadline);
  if (deadline <= now) {
    call.emit('error', {
      code: GrpcStatus.DEADLINE_EXCEEDED,
      details: `the deadline for ${what} has passed before it started on ${c.self.name}`,
    });
    return;
  }

  const abort = new AbortController();
  const onCancel = () => abort.abort(new Error('cancelled by the caller'));
  call.on('cancelled', onCancel);
  let timedOut = false;
  const timer = Number.isFinite(deadline)
    ? setTimeout(
        () => {
          timedOut = true;
          abort.abort(new Error('deadline'));
        },
        deadline - now + (c.timeoutGraceMs ?? 300),
      )
    : undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    if (abort.signal.aborted) resolve('aborted');
    abort.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });

  let accepted = false;
  let ended = false;
  // A caller that stops reading (a stalled or hostile peer) must not grow this node: progress
  // past RUN_STREAM_MAX_PENDING waiting events is dropped, and a caller that reads nothing for
  // stallMs while events wait has the run stopped.
  const stallMs = c.stallMs ?? RUN_STREAM_STALL_MS;
  let lastFlushed = performance.now();
  let stalled = false;
  let droppedProgress = 0;
  const stall = setInterval(
    () => {
      if (call.writableLength === 0 || performance.now() - lastFlushed < stallMs) return;
      stalled = true;
      abort.abort(new Error('the caller stopped reading'));
    },
    Math.max(50, stallMs / 4),
  );
  const write = (event: WireRunEvent['event']) => {
    if (ended || call.cancelled) return;
    if (event?.$case === 'progress' && call.writableLength >= RUN_STREAM_MAX_PENDING) {
      droppedProgress++;
      return;
    }
    if (call.writableLength === 0) lastFlushed = performance.now();
    call.write({ event }, () => (lastFlushed = performance.now()));
  };
  const accept = (warm: boolean) => {
    if (accepted) return;
    accepted = true;
    write({ $case: 'accepted', value: { hostNode: c.self.id, hostName: c.self.name, warm } });
  };
  const finish = (error?: { code: string; message: string; retryable: boolean }) => {
    if (ended) return;
    if (error) {
      accept(false);
      write({ $case: 'error', value: error });
    }
    ended = true;
    if (!call.cancelled) call.end();
  };
  const timeoutError = () => ({
    code: 'timeout',
    message: `${what} did not finish before its deadline on ${c.self.name} and was stopped; try again, or raise timeout_s in agents/${req.agent}/agent.toml if it needs longer`,
    retryable: false,
  });
  const logCtx = {
    agent: req.agent,
    intent: req.intent,
    traceId: req.traceId,
    caller: callerNodeId(call) ?? req.callerNode,
  };

  try {
    if (c.images && !(await c.images.has(agent, abort.signal))) {
      accept(false);
      try {
        await c.images.ensure(agent, {
          signal: abort.signal,
          onProgress: (message) => write({ $case: 'progress', value: { message, percent: -1 } }),
        });
      } catch (err) {
        if (abort.signal.aborted) return finish(timedOut ? timeoutError() : undefined);
        // Source that does not compile fails the same everywhere: said as it is, not moved.
        if (err instanceof AgentBuildFailedError) {
          log.warn({ ...logCtx, err: describeError(err) }, 'agent build failed');
          return finish({ code: 'build_failed', message: describeError(err), retryable: false });
        }
        log.warn({ ...logCtx, err: describeError(err) }, 'image unavailable');
        return finish({ code: 'image_missing', message: describeError(err), retryable: true });
      }
    }

    const request: RunRequest = {
      agent: req.agent,
      intent: req.intent,
      args: checked.args,
      traceId: req.traceId,
      callerNode: c.nodeName?.(req.callerNode) ?? req.callerNode,
      deadlineMs: Number.isFinite(deadline) ? deadline : undefined,
    };
    log.debug(logCtx, 'run starting');
    const events = c.executor.run(request, { signal: abort.signal })[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await Promise.race([events.next(), aborted]);
        if (next === 'aborted') return finish(timedOut ? timeoutError() : undefined);
        if (next.done) {
          return finish({
            code: 'crashed',
            message: `${what} on ${c.self.name} ended without a result; see the host's log`,
            retryable: false,
          });
        }
        const ev: RunEvent = next.value;
        switch (ev.type) {
          case 'accepted':
            accept(ev.warm);
            break;
          case 'progress':
            accept(false);
            write({ $case: 'progress', value: { message: ev.message, percent: ev.percent ?? -1 } });
            break;
          case 'result':
            accept(false);
            write({
              $case: 'result',
              value: { text: ev.text, dataJson: JSON.stringify(ev.data ?? null) },
            });
            log.debug(logCtx, 'run finished');
            return finish();
          case 'error': {
            const status = REQUEST_ERRORS[ev.code];
            if (!accepted && status !== undefined) {
              ended = true;
              call.emit('error', { code: status, details: ev.message });
              return;
            }
            log.info({ ...logCtx, code: ev.code }, 'run failed');
            return finish({ code: ev.code, message: ev.message, retryable: ev.retryable });
          }
        }
      }
    } catch (err) {
      log.error({ ...logCtx, err: describeError(err) }, 'executor failed');
      return finish({
        code: 'internal',
        message: `${what} failed on ${c.self.name}: ${describeError(err)}`,
        retryable: false,
      });
    } finally {
      // After a cancel or timeout the executor sees the aborted signal and stops its container;
      // the call does not wait for that.
      Promise.resolve(events.return?.()).catch((err: unknown) =>
        log.debug({ ...logCtx, err: describeError(err) }, 'executor cleanup failed'),
      );
    }
  } finally {
    clearTimeout(timer);
    clearInterval(stall);
    call.off('cancelled', onCancel);
    if (stalled || droppedProgress > 0)
      log.warn(
        { ...logCtx, stalled, droppedProgress },
        stalled
          ? 'the caller stopped reading; run stopped'
          : 'the caller read slowly; progress dropped',
      );
  }
}

function deadlineMs(d: Date | number): number {
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : Infinity;
}
