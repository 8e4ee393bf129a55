/**
 * The one argument validator: an intent's arguments against its schema in agent.toml. The fast
 * matcher, the LLM router's answers and the agent host all check arguments here. Pure. Strings
 * (from the command line or a model: "5", "true") are read as the declared type; enum values
 * match whatever their case and spacing ("Living-Room" -> "living room").
 */
import type { ArgSpec, IntentSpec } from './manifest.js';
import { normaliseWords } from './normalise.js';
import {
  allowedValues,
  isRecord,
  resolveSlotValues,
  type ArgValue,
  type ConfigTree,
  type SlotValues,
} from './slots.js';

export type ArgsCheck =
  { ok: true; args: Record<string, ArgValue> } | { ok: false; problems: string[] };

export interface ValidateArgsOptions {
  /**
   * An `enum_from` table with no values (no rooms configured yet): "refuse" every value (the
   * router: never guess a room) or "accept" any text (the host: the agent explains).
   * Default "refuse".
   */
  unconfigured?: 'refuse' | 'accept';
}

/**
 * Check an intent's arguments: unknown arguments are refused, required ones must be there,
 * every value must fit its type, enum and bounds. null, undefined and blank text count as
 * absent. Every problem is reported, each naming the argument. Names are looked up as own
 * properties only: "constructor", "toString" or "__proto__" is an argument like any other name,
 * unknown unless the intent declares it (a manifest may declare "constructor"), never a property
 * every object inherits.
 */
export function validateArgs(
  intent: IntentSpec,
  raw: unknown,
  slotValues: SlotValues = {},
  opts: ValidateArgsOptions = {},
): ArgsCheck {
  if (raw === undefined || raw === null) raw = {};
  if (!isRecord(raw))
    return { ok: false, problems: [`args must be an object, got ${describe(raw)}`] };
  const problems: string[] = [];
  const args: Record<string, ArgValue> = {};
  // Values in the order given (a match's args read in phrase order), then what is missing.
  for (const [name, value] of Object.entries(raw)) {
    const spec = Object.hasOwn(intent.args, name) ? intent.args[name] : undefined;
    if (spec === undefined) {
      const known = Object.keys(intent.args);
      problems.push(
        `unknown argument "${name}" (${intent.name} takes ${known.length ? known.join(', ') : 'none'})`,
      );
      continue;
    }
    if (absent(value)) continue;
    const checked = checkArg(name, spec, value, slotValues, opts);
    // defineProperty: an own property even for "__proto__", which `args[name] =` would drop.
    if (checked.ok)
      Object.defineProperty(args, name, {
        value: checked.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else problems.push(checked.problem);
  }
  for (const [name, spec] of Object.entries(intent.args)) {
    if (spec.required && absent(Object.hasOwn(raw, name) ? raw[name] : undefined))
      problems.push(`"${name}" is required (${spec.description || spec.type})`);
  }
  return problems.length ? { ok: false, problems } : { ok: true, args };
}

function absent(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && !value.trim());
}

/** validateArgs for a task on the host: enum_from values come from the host's helix.toml. */
export function validateTaskArgs(
  intent: IntentSpec,
  raw: unknown,
  config: ConfigTree = {},
): ArgsCheck {
  const slotValues = resolveSlotValues([{ intents: [intent] }], config);
  return validateArgs(intent, raw, slotValues, { unconfigured: 'accept' });
}

/** Check one argument value; returns the canonical value or a problem naming the argument. */
export function checkArg(
  name: string,
  spec: ArgSpec,
  value: unknown,
  slotValues: SlotValues,
  opts: ValidateArgsOptions = {},
): { ok: true; value: ArgValue } | { ok: false; problem: string } {
  const bad = (why: string) => ({ ok: false as const, problem: `"${name}" ${why}` });
  let values = allowedValues(spec, slotValues);
  // An empty table (no rooms configured yet) is the agent's to explain when the host checks.
  if (values?.length === 0 && spec.enum_from && opts.unconfigured === 'accept') values = null;
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return bad(`must be text, not ${describe(value)}`);
      const text = value.trim();
      if (text.length > spec.max_length) return bad(`is longer than ${spec.max_length} characters`);
      if (values) {
        if (values.length === 0) {
          return bad(
            `has no allowed values: ${spec.enum_from ?? 'enum'} is empty; add entries to [${spec.enum_from ?? ''}] in helix.toml`,
          );
        }
        if (values.includes(text)) return { ok: true, value: text };
        const key = normaliseWords(text).join(' ');
        const hit = values.find((v) => normaliseWords(v).join(' ') === key);
        if (hit === undefined) return bad(`must be one of ${values.join(', ')}, not "${text}"`);
        return { ok: true, value: hit };
      }
      return { ok: true, value: text };
    }
    case 'integer':
    case 'number': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) n = Number(value);
      else return bad(`must be a number, not ${describe(value)}`);
      if (!Number.isFinite(n)) return bad('must be a finite number');
      if (spec.type === 'integer' && !Number.isInteger(n))
        return bad(`must be a whole number, not ${n}`);
      if (spec.min !== undefined && n < spec.min)
        return bad(`must be at least ${spec.min}, not ${n}`);
      if (spec.max !== undefined && n > spec.max)
        return bad(`must be at most ${spec.max}, not ${n}`);
      if (values && !values.map(Number).includes(n))
        return bad(`must be one of ${values.join(', ')}, not ${n}`);
      return { ok: true, value: n };
    }
    case 'boolean':
      if (typeof value === 'boolean') return { ok: true, value };
      if (value === 'true' || value === 'false') return { ok: true, value: value === 'true' };
      return bad(`must be true or false, not ${describe(value)}`);
  }
}

/** A value for a message: text quoted and cut short, anything else by its kind. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
