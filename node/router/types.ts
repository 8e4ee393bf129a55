/**
 * How routing one transcript ended (the intent types themselves live in agentspec).
 */
import type { Intent } from '../agentspec/index.js';

/** How routing one transcript ended. Nothing runs unless kind is 'intent'. */
export type RouteOutcome =
  | { kind: 'intent'; intent: Intent; via: 'fast' | 'llm' }
  | { kind: 'not-understood'; reason: string; transcript: string }
  | { kind: 'unavailable'; reason: string; error?: Error };
