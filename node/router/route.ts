/**
 * Routing one transcript: the local fast matcher first, then the LLM router (local or a peer's
 * over gRPC, whatever `llm` is); with no LLM in the mesh, a clear "unavailable".
 */
import type { FastMatcher } from '../agentspec/index.js';
import type { RouteOutcome } from './types.js';

export interface RouteTranscriptOptions {
  fast: FastMatcher | null;
  /** the LLM route (LlmRouter.route or a gRPC Router.Route client); null: none in the mesh */
  llm:
    | ((text: string, opts: { signal?: AbortSignal; traceId?: string }) => Promise<RouteOutcome>)
    | null;
  /** said when `llm` is null (see noRouterLlmMessage) */
  noLlmMessage: string;
  signal?: AbortSignal;
  traceId?: string;
}

export async function routeTranscript(
  text: string,
  opts: RouteTranscriptOptions,
): Promise<RouteOutcome> {
  const hit = opts.fast?.match(text) ?? null;
  if (hit !== null) {
    const { phrase: _phrase, ...intent } = hit;
    return { kind: 'intent', intent, via: 'fast' };
  }
  if (opts.llm === null) return { kind: 'unavailable', reason: opts.noLlmMessage };
  return opts.llm(text, { signal: opts.signal, traceId: opts.traceId });
}
