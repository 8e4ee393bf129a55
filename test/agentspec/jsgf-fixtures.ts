/** Manifests and the recogniser grammar built from them, for the JSGF and dictionary tests. */
import { ManifestSchema, buildPhraseGrammar } from '../../node/agentspec/index.js';

export const lights = ManifestSchema.parse({
  name: 'lights',
  tier: 'warm',
  intents: [
    {
      name: 'on',
      phrases: ['turn on [the] {room} lights', '[turn] lights on in [the] {room}'],
      args: { room: { type: 'string', enum_from: 'lights.rooms' } },
    },
    {
      name: 'off',
      phrases: ['turn off [the] {room} lights'],
      args: { room: { type: 'string', enum_from: 'lights.rooms' } },
    },
    {
      name: 'dim',
      phrases: ['dim [the] {room} lights to {level} percent'],
      args: {
        room: { type: 'string', enum_from: 'lights.rooms' },
        level: { type: 'integer', min: 0, max: 100 },
      },
    },
  ],
});
export const timer = ManifestSchema.parse({
  name: 'timer',
  tier: 'warm',
  intents: [
    {
      name: 'set',
      phrases: ['set a timer for {minutes} minutes', 'set a {label} timer for {minutes} minutes'],
      args: { minutes: { type: 'integer', min: 1, max: 1440 }, label: { type: 'string' } },
    },
    { name: 'list', phrases: ['(list|show) [my] timers'] },
  ],
});
export const research = ManifestSchema.parse({
  name: 'research',
  tier: 'cold',
  intents: [{ name: 'ask', phrases: ['research {q}'] }],
});

export const SLOT_VALUES = { 'lights.rooms': ['kitchen', 'living room'] };

export const grammar = buildPhraseGrammar([lights, timer, research], { slotValues: SLOT_VALUES });
