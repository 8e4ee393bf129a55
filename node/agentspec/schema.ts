/**
 * The intent's JSON schema for Ollama's `format`, and validation of whatever comes back
 * against the chosen agent's argument schema (pure). Nothing runs unless validateIntent says ok.
 */
import { describe, validateArgs } from './args.js';
import type { AgentManifest, ArgSpec, IntentSpec } from './manifest.js';
import { allowedValues, isRecord, type SlotValues } from './slots.js';
import type { Intent } from './intent.js';

/** The agent name the model gives when no installed agent fits. */
export const NO_AGENT = 'none';

export type JsonSchema = { [key: string]: unknown };

export type ValidationResult = { ok: true; intent: Intent } | { ok: false; reason: string };

function argSchema(spec: ArgSpec, slotValues: SlotValues): JsonSchema {
  const values = allowedValues(spec, slotValues);
  switch (spec.type) {
    case 'string':
      if (values && values.length > 0) return { type: 'string', enum: [...values] };
      return { type: 'string', minLength: 1, maxLength: spec.max_length };
    case 'integer':
    case 'number': {
      const s: JsonSchema = { type: spec.type };
      if (values && values.length > 0) s.enum = values.map(Number).filter(Number.isFinite);
      if (spec.min !== undefined) s.minimum = spec.min;
      if (spec.max !== undefined) s.maximum = spec.max;
      return s;
    }
    case 'boolean':
      return { type: 'boolean' };
  }
}

function argsSchema(intent: IntentSpec, slotValues: SlotValues): JsonSchema {
  const properties: JsonSchema = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(intent.args)) {
    properties[name] = argSchema(spec, slotValues);
    if (spec.required) required.push(name);
  }
  return { type: 'object', properties, required, additionalProperties: false };
}

const CONFIDENCE_SCHEMA: JsonSchema = { type: 'number', minimum: 0, maximum: 1 };

function branch(agent: string, intent: string, args: JsonSchema): JsonSchema {
  return {
    type: 'object',
    properties: {
      agent: { type: 'string', enum: [agent] },
      intent: { type: 'string', enum: [intent] },
      args,
      confidence: CONFIDENCE_SCHEMA,
    },
    required: ['agent', 'intent', 'args', 'confidence'],
    additionalProperties: false,
  };
}

/**
 * JSON schema of {agent, intent, args, confidence}: one anyOf branch per agent/intent pair,
 * each with that intent's argument schema, plus a branch for "none" (nothing fits) so the
 * model is never forced to pick an action. Ollama turns it into a llama.cpp grammar.
 */
export function buildIntentSchema(
  manifests: readonly AgentManifest[],
  slotValues: SlotValues = {},
): JsonSchema {
  const branches: JsonSchema[] = [];
  for (const m of manifests) {
    for (const intent of m.intents)
      branches.push(branch(m.name, intent.name, argsSchema(intent, slotValues)));
  }
  if (!manifests.some((m) => m.name === NO_AGENT)) {
    branches.push(
      branch(NO_AGENT, NO_AGENT, { type: 'object', properties: {}, additionalProperties: false }),
    );
  }
  const agents = branches.map(
    (b) => (b.properties as { agent: { enum: string[] } }).agent.enum[0] as string,
  );
  const intents = branches.map(
    (b) => (b.properties as { intent: { enum: string[] } }).intent.enum[0] as string,
  );
  // llama.cpp's converter (what Ollama uses) reads anyOf first and ignores the rest; the
  // top-level properties state the overall shape for any other JSON Schema reader.
  return {
    type: 'object',
    properties: {
      agent: { type: 'string', enum: [...new Set(agents)] },
      intent: { type: 'string', enum: [...new Set(intents)] },
      args: { type: 'object' },
      confidence: CONFIDENCE_SCHEMA,
    },
    required: ['agent', 'intent', 'args', 'confidence'],
    anyOf: branches,
  };
}

/** Validate a decoded model answer against the installed manifests. */
export function validateIntent(
  manifests: readonly AgentManifest[],
  raw: unknown,
  slotValues: SlotValues = {},
): ValidationResult {
  if (!isRecord(raw))
    return { ok: false, reason: `the answer is not a JSON object (got ${describe(raw)})` };
  const { agent, intent, args, confidence } = raw;
  if (typeof agent !== 'string')
    return { ok: false, reason: `agent must be text, got ${describe(agent)}` };
  if (
    typeof confidence !== 'number' ||
    !Number.isFinite(confidence) ||
    confidence < 0 ||
    confidence > 1
  ) {
    return {
      ok: false,
      reason: `confidence must be a number from 0 to 1, got ${describe(confidence)}`,
    };
  }
  const manifest = manifests.find((m) => m.name === agent);
  if (manifest === undefined) {
    if (agent === NO_AGENT) return { ok: false, reason: 'no installed agent handles this request' };
    return {
      ok: false,
      reason: `unknown agent ${JSON.stringify(agent)} (installed: ${manifests.map((m) => m.name).join(', ') || 'none'})`,
    };
  }
  if (typeof intent !== 'string')
    return { ok: false, reason: `intent must be text, got ${describe(intent)}` };
  const spec = manifest.intents.find((i) => i.name === intent);
  if (spec === undefined) {
    return {
      ok: false,
      reason: `agent ${agent} has no intent ${JSON.stringify(intent)} (it has: ${manifest.intents.map((i) => i.name).join(', ')})`,
    };
  }
  const checked = validateArgs(spec, args, slotValues);
  if (!checked.ok)
    return { ok: false, reason: `${agent}.${intent}: ${checked.problems.join('; ')}` };
  return { ok: true, intent: { agent, intent, args: checked.args, confidence } };
}
