/**
 * Router.Route over gRPC: the server on the node with the router LLM (it wraps LlmRouter), and
 * the client the pipeline calls on other nodes. An intent or "not understood" is a reply; "no
 * router LLM here" (Ollama down, model missing) is FAILED_PRECONDITION carrying the reason that
 * says what to do, so the caller tells it apart from a peer it could not reach.
 */
import { z } from 'zod';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  peerTarget,
  targetKey,
  GrpcStatus,
  RouterService,
  RpcCallError,
  callerNodeId,
  unaryCall,
  type RouteReply,
  type RouterServer,
  type RpcClients,
  type RpcServer,
} from '../rpc/index.js';
import type { RouteOutcome } from '../router/index.js';
import type { LocalLlmRouter, RouteRemote } from './pipeline.js';
import { lazySchema } from '../types.js';

export interface RouterServiceOptions {
  router: LocalLlmRouter;
  /** router.model, reported in every reply */
  model: string;
  selfName: string;
  logger?: Logger;
}

const MAX_TEXT = 2000;

export function routerService(opts: RouterServiceOptions): RouterServer {
  const log = (opts.logger ?? silentLogger).child({ component: 'router-service' });
  return {
    route(call, callback) {
      const { traceId, text, context } = call.request;
      if (text.length > MAX_TEXT) {
        callback({
          code: GrpcStatus.INVALID_ARGUMENT,
          details: `the text is longer than ${MAX_TEXT} characters`,
        });
        return;
      }
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort(new Error('cancelled by the caller')));
      opts.router
        .route(text, {
          signal: abort.signal,
          traceId,
          ...(context ? { context: context.slice(0, MAX_TEXT) } : {}),
        })
        .then(
          (outcome) => {
            log.debug({ traceId, caller: callerNodeId(call), kind: outcome.kind }, 'routed');
            if (outcome.kind === 'unavailable') {
              callback({ code: GrpcStatus.FAILED_PRECONDITION, details: outcome.reason });
              return;
            }
            callback(null, toReply(outcome, opts.model));
          },
          (err: unknown) => {
            if (abort.signal.aborted) return;
            log.warn({ traceId, err: describeError(err) }, 'routing failed');
            callback({
              code: GrpcStatus.INTERNAL,
              details: `routing failed on ${opts.selfName}: ${describeError(err)}`,
            });
          },
        );
    },
  };
}

function toReply(
  outcome: Exclude<RouteOutcome, { kind: 'unavailable' }>,
  model: string,
): RouteReply {
  if (outcome.kind === 'intent') {
    const i = outcome.intent;
    return {
      result: {
        $case: 'intent',
        value: {
          agent: i.agent,
          intent: i.intent,
          argsJson: JSON.stringify(i.args),
          confidence: i.confidence,
        },
      },
      model,
    };
  }
  return { result: { $case: 'notUnderstood', value: { reason: outcome.reason } }, model };
}

/** Registers Router on the node's gRPC server (nodes whose Ollama can route). */
export function registerRouter(rpc: RpcServer, opts: RouterServiceOptions): void {
  rpc.addService(RouterService, routerService(opts));
}

const ArgsSchema = lazySchema(() =>
  z.record(z.string().max(128), z.union([z.string().max(4096), z.number(), z.boolean()])),
);

/** `routeRemote(peer, text, { traceId, signal })`: Router.Route on a peer, as a RouteOutcome. */
export function createRouteRemote(
  clients: RpcClients,
  defaults: { timeoutMs?: number } = {},
): RouteRemote {
  return async (peer, text, opts) => {
    const target = targetKey(peerTarget(peer));
    const client = clients.router(target);
    let reply: RouteReply;
    try {
      reply = await unaryCall(
        client.route.bind(client),
        { traceId: opts.traceId, text, language: opts.language ?? '', context: opts.context ?? '' },
        { timeoutMs: opts.timeoutMs ?? defaults.timeoutMs ?? 30_000, signal: opts.signal, target },
      );
    } catch (err) {
      if (err instanceof RpcCallError && err.code === GrpcStatus.FAILED_PRECONDITION) {
        const details = (err.cause as { details?: string } | undefined)?.details ?? err.message;
        return { kind: 'unavailable', reason: details, error: err };
      }
      throw err;
    }
    const r = reply.result;
    if (r?.$case === 'intent') {
      let args: Record<string, string | number | boolean>;
      try {
        args = ArgsSchema.parse(JSON.parse(r.value.argsJson || '{}'));
      } catch {
        return {
          kind: 'not-understood',
          reason: `the router on ${peer.name} sent malformed arguments`,
          transcript: text,
        };
      }
      return {
        kind: 'intent',
        via: 'llm',
        intent: {
          agent: r.value.agent,
          intent: r.value.intent,
          args,
          confidence: r.value.confidence,
        },
      };
    }
    if (r?.$case === 'notUnderstood')
      return { kind: 'not-understood', reason: r.value.reason, transcript: text };
    return {
      kind: 'not-understood',
      reason: `the router on ${peer.name} sent an empty answer`,
      transcript: text,
    };
  };
}
