/**
 * The domain's one intent shape: which agent, which of its intents, with which arguments. The
 * recogniser, the fast matcher, the LLM router, the pipeline and the host all pass this; the
 * proto-generated wire types stay at the rpc edge.
 */
import { z } from 'zod';
import type { ArgValue } from './slots.js';

/** A request for one agent's intent as it arrives (CLI, control socket, gRPC): not yet validated. */
export interface IntentRequest {
  agent: string;
  intent: string;
  args?: Record<string, unknown>;
}

/** A request for one agent's intent, its arguments validated. */
export interface IntentCall {
  agent: string;
  intent: string;
  args: Record<string, ArgValue>;
}

/** An intent a router settled on, with how sure it is. */
export interface Intent extends IntentCall {
  /** 0..1; the fast matcher and the phrase recogniser always say 1 */
  confidence: number;
}

/** A phrase-grammar hit (fast matcher or recogniser): the intent plus the phrase that matched. */
export interface FastMatch extends Intent {
  confidence: 1;
  /** the phrase as written in the manifest */
  phrase: string;
}

/** An IntentCall as data from elsewhere (a peer's trace, a stored record): parsed at the edge. */
export const IntentCallSchema = z.object({
  agent: z.string().max(256),
  intent: z.string().max(256),
  args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
}) satisfies z.ZodType<IntentCall>;
