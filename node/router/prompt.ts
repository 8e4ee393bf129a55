/**
 * The LLM router's system prompt, built from the installed manifests (pure).
 */
import {
  allowedValues,
  NO_AGENT,
  type AgentManifest,
  type ArgSpec,
  type SlotValues,
} from '../agentspec/index.js';

function describeArg(name: string, spec: ArgSpec, slotValues: SlotValues): string {
  const parts: string[] = [spec.type === 'string' ? 'text' : spec.type];
  const values = allowedValues(spec, slotValues);
  if (values) parts.push(values.length ? `one of: ${values.join(', ')}` : 'no values configured');
  if (spec.min !== undefined) parts.push(`min ${spec.min}`);
  if (spec.max !== undefined) parts.push(`max ${spec.max}`);
  parts.push(spec.required ? 'required' : 'optional');
  const description = spec.description ? ` ${spec.description}.` : '';
  return `${name} (${parts.join('; ')})${description}`;
}

export function buildSystemPrompt(
  manifests: readonly AgentManifest[],
  slotValues: SlotValues = {},
): string {
  const lines = [
    'You route one spoken request from a person at home to one action of an installed agent.',
    'Answer with a single JSON object and nothing else:',
    '{"agent": "<agent>", "intent": "<intent>", "args": {<arguments>}, "confidence": <0 to 1>}',
    'confidence is how sure you are that the person asked for exactly this action (1 = certain).',
    'Use only the agents, intents and argument values listed below. Leave out optional arguments the person did not give.',
    `If no action fits, or the request is unclear, answer {"agent": "${NO_AGENT}", "intent": "${NO_AGENT}", "args": {}, "confidence": 0}.`,
    'The request is a speech transcript and may contain recognition errors.',
    'It may start with "Earlier in this room:" and the last action there; "them", "it", "too", "more" or "again" then refer to that action, and its arguments apply unless the request changes them.',
    '',
    'Agents:',
  ];
  for (const m of manifests) {
    lines.push(`- ${m.name}${m.description ? `: ${m.description}` : ''}`);
    for (const intent of m.intents) {
      lines.push(`  - intent ${intent.name}${intent.description ? `: ${intent.description}` : ''}`);
      const args = Object.entries(intent.args);
      lines.push(
        args.length
          ? `    args: ${args.map(([n, s]) => describeArg(n, s, slotValues)).join('; ')}`
          : '    args: none',
      );
      if (intent.phrases.length)
        lines.push(
          `    said like: ${intent.phrases
            .slice(0, 3)
            .map((p) => JSON.stringify(p))
            .join(', ')}`,
        );
    }
  }
  return lines.join('\n');
}

/**
 * The user message: the request alone, or after the room's last action (follow-ups). Everything
 * that changes per call is here, after the system prompt, so the prompt's head stays
 * byte-identical across calls and Ollama reuses its cache of it.
 */
export function buildUserMessage(transcript: string, context?: string): string {
  const earlier = context?.trim();
  return earlier ? `Earlier in this room: ${earlier}\nRequest: ${transcript}` : transcript;
}
