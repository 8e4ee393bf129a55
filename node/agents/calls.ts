/**
 * Host calls: what an agent may ask of the mesh. The dispatcher refuses calls its manifest does
 * not declare, validates params, and runs the injected handler; every outcome becomes a `reply`.
 * The handlers themselves (MQTT, fetch, LLM, mesh view, notify) are injected by the daemon.
 */
import { describeError } from '../errors.js';
import type { CallRateLimiter } from './limits.js';
import type { Logger } from '../log.js';
import {
  HOST_CALLS,
  type AgentManifest,
  type HostCall,
  CALL_PARAM_SCHEMAS,
  type CallMessage,
  type HttpFetchParams,
  type HttpFetchResult,
  type LlmGenerateParams,
  type LlmGenerateResult,
  type MeshStatus,
  type MeshStatusParams,
  type MqttPublishParams,
  type HomeCallServiceParams,
  type HomeCallServiceResult,
  type NotifyParams,
} from '../agentspec/index.js';

export interface CallContext {
  agent: AgentManifest;
  /** the task the call serves; absent for a call between tasks */
  taskId?: string;
  /** the node that owns the request (for calls between tasks: the last task's) */
  callerNode?: string;
  traceId?: string;
  /** aborted when the task ends or the container goes away */
  signal: AbortSignal;
  /** the task's rate limits (node/agents/limits.ts); none: unlimited */
  limiter?: CallRateLimiter;
}

/** The effects a node offers its agents. Each resolves to the `result` of the reply. */
export interface HostCalls {
  'mqtt.publish'(params: MqttPublishParams, ctx: CallContext): Promise<unknown>;
  'home.call_service'(
    params: HomeCallServiceParams,
    ctx: CallContext,
  ): Promise<HomeCallServiceResult>;
  'http.fetch'(params: HttpFetchParams, ctx: CallContext): Promise<HttpFetchResult>;
  'llm.generate'(params: LlmGenerateParams, ctx: CallContext): Promise<LlmGenerateResult>;
  'mesh.status'(params: MeshStatusParams, ctx: CallContext): Promise<MeshStatus>;
  notify(params: NotifyParams, ctx: CallContext): Promise<unknown>;
}

export type CallOutcome = { ok: true; result: unknown } | { ok: false; error: string };

/** Decides and runs one `call`. Never throws: a refusal or a failing handler is an error reply. */
export async function dispatchCall(
  handlers: Partial<HostCalls>,
  call: CallMessage,
  ctx: CallContext,
  log?: Logger,
): Promise<CallOutcome> {
  const decided = decideCall(handlers, call, ctx, log);
  return 'run' in decided ? decided.run() : decided;
}

/**
 * The refusals that cost nothing (unknown, undeclared, invalid, over its rate), decided at once;
 * else `run`, which runs the handler. Never throws.
 */
export function decideCall(
  handlers: Partial<HostCalls>,
  call: CallMessage,
  ctx: CallContext,
  log?: Logger,
): { ok: false; error: string } | { run: () => Promise<CallOutcome> } {
  const method = call.method;
  const refuse = (error: string): { ok: false; error: string } => {
    log?.warn({ agent: ctx.agent.name, method, taskId: ctx.taskId }, `call refused: ${error}`);
    return { ok: false, error };
  };
  if (!(HOST_CALLS as readonly string[]).includes(method)) {
    return refuse(`unknown call "${method}"; the host offers ${HOST_CALLS.join(', ')}`);
  }
  const known = method as HostCall;
  if (!ctx.agent.calls.includes(known)) {
    return refuse(
      `call "${method}" is not declared in ${ctx.agent.name}'s agent.toml; add it to calls = [...] to use it`,
    );
  }
  if (known === 'http.fetch' && ctx.agent.network !== 'egress') {
    return refuse(`http.fetch is only for agents with network = "egress" in agent.toml`);
  }
  const parsed = CALL_PARAM_SCHEMAS[known].safeParse(call.params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse(
      `invalid params for ${method}: ${issue?.path.join('.') || 'params'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const handler = handlers[known] as ((p: unknown, c: CallContext) => Promise<unknown>) | undefined;
  if (!handler) return refuse(`this node does not provide ${method}`);
  const overLimit = ctx.limiter?.check(known);
  // Not logged one by one: a flood would flood the log too; the task's count is logged at its end.
  if (overLimit) return { ok: false, error: overLimit };
  let params: unknown = parsed.data;
  if (known === 'notify') {
    const p = parsed.data as NotifyParams;
    params = { ...p, node: p.node ?? ctx.callerNode };
  }
  return {
    run: async () => {
      try {
        const result = await handler(params, ctx);
        log?.debug({ agent: ctx.agent.name, method, taskId: ctx.taskId }, 'call answered');
        return { ok: true, result: result ?? null };
      } catch (err) {
        log?.info(
          { agent: ctx.agent.name, method, taskId: ctx.taskId, err: describeError(err) },
          'call failed',
        );
        return { ok: false, error: describeError(err) };
      }
    },
  };
}
