/**
 * The router's domain types: what a transcript becomes (an Intent) and how routing ended.
 */

/** One argument value after validation (the manifest's arg types). */
export type ArgValue = string | number | boolean;

/** A validated request for one agent's intent. */
export interface Intent {
  agent: string;
  intent: string;
  args: Record<string, ArgValue>;
  /** 0..1; the fast matcher always says 1 */
  confidence: number;
}

/** A fast-matcher hit: the intent plus the grammar phrase that matched. */
export interface FastMatch extends Intent {
  confidence: 1;
  /** the phrase as written in the manifest */
  phrase: string;
}

/**
 * Allowed values for `enum_from` args, keyed by the enum_from path (e.g. "lights.rooms" ->
 * ["kitchen", "living room"]). See resolveSlotValues.
 */
export type SlotValues = Readonly<Record<string, readonly string[]>>;

/** How routing one transcript ended. Nothing runs unless kind is 'intent'. */
export type RouteOutcome =
  | { kind: 'intent'; intent: Intent; via: 'fast' | 'llm' }
  | { kind: 'not-understood'; reason: string; transcript: string }
  | { kind: 'unavailable'; reason: string; error?: Error };
