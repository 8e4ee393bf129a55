/**
 * The effects this node offers its agents (node/agents' HostCalls): MQTT with config [mqtt],
 * fetches under the egress policy, completions from the mesh's LLM, the mesh as this node sees
 * it, and notes to a node. The dispatcher in node/agents has already checked the manifest.
 */
import {
  createHttpFetch,
  createMqttPublisher,
  type CallContext,
  type HostCalls,
  type HttpFetchOptions,
  type MqttPublisher,
} from '../agents/index.js';
import type { Config } from '../config/index.js';
import { HelixError } from '../errors.js';
import type { SwitchOutcome } from '../home/index.js';
import type { Logger } from '../log.js';
import type { OllamaApi } from '../router/index.js';
import type { RpcClients } from '../rpc/index.js';
import type { PeerView } from '../types.js';
import { FencedTasks, StallWatch, fenceRefusal } from './fence.js';
import { createLlmGenerate } from './llm.js';
import { meshStatus, type SelfRuns } from './mesh-status.js';
import type { Notifier } from './notify.js';

export interface HostCallDeps {
  config: Config;
  view: () => readonly PeerView[];
  /** gRPC clients to peers (llm.generate on the router peer) */
  clients: RpcClients;
  self: { id: string; name: string };
  /** this node's own runs and warm pool, for mesh.status */
  selfRuns: () => SelfRuns;
  notifier: Notifier;
  ollama: OllamaApi;
  egress?: HttpFetchOptions;
  /** switches lights (the daemon's home backends); absent: home.call_service is refused */
  lights?: LightSwitch;
  log: Logger;
}

/**
 * Wraps every handler so that a run its caller may have moved does not act (fence.ts).
 * Returns the handlers and the stall watch to stop.
 */
function fenced(handlers: HostCalls, d: HostCallDeps): { handlers: HostCalls; stall: StallWatch } {
  const stall = new StallWatch();
  stall.start();
  const refused = new FencedTasks();
  const guard =
    <P>(fn: (params: P, ctx: CallContext) => Promise<unknown>) =>
    (params: P, ctx: CallContext): Promise<unknown> => {
      const why =
        ctx.taskId !== undefined && refused.has(ctx.taskId)
          ? `${ctx.callerNode ?? 'the caller'} may have moved this run; it no longer acts here`
          : fenceRefusal({
              idempotent: ctx.agent.idempotent,
              callerNode: ctx.callerNode,
              self: d.self,
              view: d.view(),
              nowMs: Date.now(),
              stalledMs: stall.stalledMs(),
              timing: d.config.membership,
            });
      if (why === null) return fn(params, ctx);
      if (ctx.taskId !== undefined) refused.add(ctx.taskId);
      d.log.warn(
        { agent: ctx.agent.name, taskId: ctx.taskId, caller: ctx.callerNode },
        `host call refused: ${why}`,
      );
      return Promise.reject(new HelixError(why));
    };
  const out = Object.fromEntries(
    Object.entries(handlers).map(([method, fn]) => [method, guard(fn as never)]),
  ) as unknown as HostCalls;
  return { handlers: out, stall };
}

/** What home.call_service needs: light ids from the agent's context and what to do. */
export type LightSwitch = (req: {
  lights: readonly string[];
  command: { on: boolean; brightnessPct?: number };
  signal?: AbortSignal;
}) => Promise<SwitchOutcome>;

export function createHostCalls(d: HostCallDeps): { handlers: HostCalls; close(): Promise<void> } {
  const mqtt: MqttPublisher = createMqttPublisher({
    url: d.config.mqtt.url,
    username: d.config.mqtt.username,
    password: d.config.mqtt.password,
    topicPrefix: d.config.mqtt.base_topic,
    clientId: `helix-${d.self.name}-${d.self.id.slice(-8)}`,
    log: d.log,
  });
  const fetch = createHttpFetch(d.egress ?? {});
  const llm = createLlmGenerate({
    router: d.config.router,
    view: d.view,
    clients: d.clients,
    selfId: d.self.id,
    local: d.ollama,
    log: d.log,
  });
  const handlers: HostCalls = {
    'mqtt.publish': (params, ctx) => mqtt.publish(params, ctx),
    'home.call_service': async (params, ctx) => {
      if (!d.lights)
        throw new HelixError('this node cannot switch lights (no home backend is wired here)');
      return d.lights({
        lights: params.lights,
        command: {
          on: params.service === 'turn_on',
          ...(params.brightness_pct !== undefined && { brightnessPct: params.brightness_pct }),
        },
        signal: ctx.signal,
      });
    },
    'http.fetch': (params, ctx) => fetch(params, ctx),
    'llm.generate': (params, ctx) => llm(params, ctx),
    'mesh.status': async () => meshStatus(d.view(), d.selfRuns()),
    notify: (params, ctx) => d.notifier.handler(params, ctx),
  };
  const guarded = fenced(handlers, d);
  return {
    handlers: guarded.handlers,
    close: () => {
      guarded.stall.stop();
      return mqtt.close();
    },
  };
}
