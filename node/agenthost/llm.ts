/**
 * The `llm.generate` host call: a completion from the mesh's LLM, on the peer placement picks for
 * the router model (pickRouterPeer: a GPU peer with the model loaded first). Ollama listens on
 * loopback only, so a peer's Ollama is asked through that peer's daemon with the gRPC call
 * Llm.Generate (proto/helix/v1/llm.proto), signed with the mesh proof like every call between
 * nodes, its deadline the router's timeout plus a grace for the answer to travel back.
 */
import type { CallContext } from '../agents/index.js';
import {
  LlmGenerateParamsSchema,
  type LlmGenerateParams,
  type LlmGenerateResult,
} from '../agentspec/index.js';
import type { Config } from '../config/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { pickRouterPeer } from '../placement/index.js';
import { answerText, keepAliveValue, type OllamaApi } from '../router/index.js';
import {
  peerTarget,
  GrpcStatus,
  RpcCallError,
  callerNodeId,
  targetKey,
  unaryCall,
  type LlmGenerateRequest,
  type LlmServer,
  type RpcClients,
} from '../rpc/index.js';
import type { PeerView } from '../types.js';

/** The call outlives the Ollama call by this much, so Ollama's own timeout error arrives. */
const CALL_GRACE_MS = 3000;

export interface LlmOptions {
  router: Config['router'];
  view: () => readonly PeerView[];
  clients: RpcClients;
  selfId: string;
  /** this node's Ollama (router.ollama_url) */
  local: OllamaApi;
  log?: Logger;
}

export function noLlmMessage(model: string): string {
  return `no LLM in the mesh: no node runs Ollama; install it on a GPU machine (https://ollama.com/download), run \`ollama pull ${model}\` there and restart helix-node on it`;
}

/** The handler for `llm.generate`. */
export function createLlmGenerate(
  o: LlmOptions,
): (
  params: LlmGenerateParams,
  ctx: Pick<CallContext, 'signal'> & { traceId?: string },
) => Promise<LlmGenerateResult> {
  const log = o.log ?? silentLogger;
  return async (params, ctx) => {
    const model = o.router.model;
    const peer = pickRouterPeer(o.view(), model);
    if (!peer) throw new Error(noLlmMessage(model));
    if (peer.self || peer.id === o.selfId) {
      return generateLocally(o.local, o.router, { ...params, model }, ctx.signal);
    }
    log.debug({ peer: peer.name, model }, 'llm.generate on a peer');
    const target = peerTarget(peer);
    const client = o.clients.llm(target);
    const request: LlmGenerateRequest = {
      traceId: ctx.traceId ?? '',
      model,
      prompt: params.prompt,
      system: params.system ?? '',
      maxTokens: params.max_tokens ?? 0,
      jsonSchemaJson: params.json_schema ? JSON.stringify(params.json_schema) : '',
    };
    try {
      const reply = await unaryCall(client.generate.bind(client), request, {
        timeoutMs: o.router.timeout_ms + CALL_GRACE_MS,
        signal: ctx.signal,
        target: targetKey(target),
      });
      return { text: reply.text, model: reply.model };
    } catch (err) {
      const details =
        (err instanceof RpcCallError && (err.cause as { details?: string })?.details) ||
        describeError(err);
      throw new Error(`${peer.name}'s LLM: ${details}`, { cause: err });
    }
  };
}

/** Llm.Generate: answers peers' `llm.generate` calls with this node's Ollama. */
export function llmService(o: Pick<LlmOptions, 'router' | 'local' | 'log'>): LlmServer {
  const log = (o.log ?? silentLogger).child({ component: 'llm-service' });
  return {
    generate(call, callback) {
      const r = call.request;
      let jsonSchema: unknown;
      try {
        jsonSchema = r.jsonSchemaJson === '' ? undefined : JSON.parse(r.jsonSchemaJson);
      } catch (err) {
        callback({
          code: GrpcStatus.INVALID_ARGUMENT,
          details: `json_schema_json is not valid JSON (${(err as Error).message})`,
        });
        return;
      }
      const parsed = LlmGenerateParamsSchema.safeParse({
        prompt: r.prompt,
        ...(r.system === '' ? {} : { system: r.system }),
        ...(r.maxTokens === 0 ? {} : { max_tokens: r.maxTokens }),
        ...(jsonSchema === undefined ? {} : { json_schema: jsonSchema }),
      });
      if (!parsed.success || r.model === '') {
        callback({ code: GrpcStatus.INVALID_ARGUMENT, details: 'malformed llm.generate request' });
        return;
      }
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort(new Error('cancelled by the caller')));
      const signal = AbortSignal.any([
        abort.signal,
        AbortSignal.timeout(o.router.timeout_ms + CALL_GRACE_MS),
      ]);
      generateLocally(o.local, o.router, { ...parsed.data, model: r.model }, signal).then(
        (answer) => callback(null, { text: answer.text, model: answer.model ?? r.model }),
        (err: unknown) => {
          if (abort.signal.aborted) return;
          log.info(
            { traceId: r.traceId, caller: callerNodeId(call), err: describeError(err) },
            'llm.generate for a peer failed',
          );
          callback({ code: GrpcStatus.UNAVAILABLE, details: describeError(err) });
        },
      );
    },
  };
}

async function generateLocally(
  api: OllamaApi,
  router: Config['router'],
  req: LlmGenerateParams & { model: string },
  signal: AbortSignal,
): Promise<LlmGenerateResult> {
  const messages: Array<{ role: 'system' | 'user'; content: string }> = [];
  if (req.system) messages.push({ role: 'system', content: req.system });
  messages.push({ role: 'user', content: req.prompt });
  const result = await api.chat(
    {
      model: req.model,
      messages,
      stream: false,
      format: req.json_schema,
      keep_alive: keepAliveValue(router.keep_alive),
      options: req.max_tokens ? { num_predict: req.max_tokens } : undefined,
    },
    { signal, timeoutMs: router.timeout_ms },
  );
  return { text: answerText(result.content), model: result.model };
}
