/**
 * Agent manifests for command-language and router tests and benchmarks (independent of the real agents/ folder).
 */
import { ManifestSchema, type AgentManifest, type SlotValues } from '../../node/agentspec/index.js';

const room = { type: 'string', enum_from: 'lights.rooms', required: true } as const;

export const MANIFESTS: AgentManifest[] = [
  {
    name: 'lights',
    description: 'Switches and dims the lights in each room',
    tier: 'warm',
    intents: [
      {
        name: 'turn_on',
        description: 'Turn the lights in a room on',
        phrases: [
          'turn on the {room} lights',
          'turn the {room} lights on',
          'switch on the {room} (light|lights)',
        ],
        args: { room },
      },
      {
        name: 'turn_off',
        description: 'Turn the lights in a room off',
        phrases: [
          'turn off the {room} lights',
          'turn the {room} lights off',
          'switch off the {room} (light|lights)',
        ],
        args: { room },
      },
      {
        name: 'set_brightness',
        phrases: ['(set|dim) the {room} lights to {level} [percent]'],
        args: { room, level: { type: 'integer', min: 0, max: 100, required: true } },
      },
    ],
  },
  {
    name: 'timer',
    tier: 'warm',
    intents: [
      {
        name: 'start',
        phrases: [
          'set a timer for {minutes} (minute|minutes)',
          'remind me in {minutes} minutes [to {label}]',
        ],
        args: {
          minutes: { type: 'integer', min: 1, max: 1440, required: true },
          label: { type: 'string', max_length: 60 },
        },
      },
      { name: 'cancel', phrases: ['(cancel|stop) the timer'] },
    ],
  },
  {
    name: 'echo',
    tier: 'warm',
    intents: [
      {
        name: 'say',
        phrases: ['(echo|repeat after me) {text}'],
        args: { text: { type: 'string', required: true, max_length: 100 } },
      },
    ],
  },
  {
    name: 'fan',
    tier: 'warm',
    intents: [
      {
        name: 'power',
        phrases: ['turn the fan {on}', 'set fan speed to {speed}'],
        args: {
          on: { type: 'boolean' },
          speed: { type: 'string', enum: ['low', 'medium', 'high'] },
        },
      },
    ],
  },
  {
    name: 'mesh',
    tier: 'warm',
    intents: [
      {
        name: 'status',
        phrases: ['(what is|whats) the mesh status', 'how many nodes are (online|up)'],
      },
    ],
  },
  {
    name: 'research',
    description: 'Looks things up on the web and summarises them',
    tier: 'cold',
    network: 'egress',
    intents: [
      {
        name: 'ask',
        phrases: ['look up {topic}'],
        args: { topic: { type: 'string', required: true, max_length: 200 } },
      },
    ],
  },
].map((m) => ManifestSchema.parse(m));

export const SLOT_VALUES: SlotValues = { 'lights.rooms': ['kitchen', 'living room', 'bedroom'] };

/** A config-like object whose lights.rooms table yields SLOT_VALUES. */
export const CONFIG_LIKE = {
  lights: {
    rooms: {
      kitchen: ['kitchen_ceiling'],
      'living room': ['lr_lamp', 'lr_ceiling'],
      bedroom: ['bed'],
    },
  },
};
