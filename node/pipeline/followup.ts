/**
 * Follow-up phrases and how they resolve, deterministically, against a room's conversation
 * context (context.ts) without the LLM: "turn them off", "and the bedroom too", "make it
 * brighter", "cancel it", "add five minutes".
 *
 * The phrases are a manifest of their own (agent "followup", never run by a host): the fast
 * matcher and the phrase recogniser's grammar are built from it beside the agents' manifests, so
 * a follow-up is heard and matched like any command, and its words stay out of the agents'
 * grammars (and of the LLM's schema: the LLM gets the context itself). A match names what kind
 * of follow-up it is; resolveFollowUp turns it into the real intent from the context, or into a
 * plain refusal that says what to say instead. Pure: no I/O, no clocks.
 */
import {
  validateManifest,
  type AgentManifest,
  type ArgValue,
  type Intent,
} from '../agentspec/index.js';
import type { ContextLookup, ConversationContext } from './context.js';

export const FOLLOWUP_AGENT = 'followup';

/** Brightness steps of "brighter" / "dimmer", in percent. */
export const BRIGHTNESS_STEP = 25;
const DIMMEST = 5;

export const FOLLOWUP_MANIFEST: AgentManifest = validateManifest(
  {
    name: FOLLOWUP_AGENT,
    description: 'Follow-ups to the last command heard in a room (resolved by the pipeline).',
    tier: 'warm',
    intents: [
      {
        name: 'on',
        description: 'switch the lights of the last command on',
        phrases: ['turn (them|it) [back] on', 'switch (them|it) [back] on'],
      },
      {
        name: 'off',
        description: 'switch the lights of the last command off',
        phrases: ['turn (them|it) [back] off', 'switch (them|it) [back] off'],
      },
      {
        name: 'also',
        description: 'the last command again, for another room',
        phrases: [
          'and [in] the {room} too',
          '[and] [in] the {room} as well',
          'the {room} too',
          'same in the {room}',
        ],
        args: { room: { type: 'string', enum_from: 'lights.rooms', required: true } },
      },
      {
        name: 'brighter',
        description: 'the lights of the last command one step brighter',
        phrases: ['make (it|them) brighter', '[a bit] brighter'],
      },
      {
        name: 'dimmer',
        description: 'the lights of the last command one step dimmer',
        phrases: ['make (it|them) (dimmer|darker)', '[a bit] dimmer', 'dim (it|them)'],
      },
      {
        name: 'cancel',
        description: 'cancel the timer of the last command',
        phrases: ['cancel (it|that)', 'stop (it|that)'],
      },
      {
        name: 'answer',
        description:
          'the answer to the question asked instead of acting ("on or off?", "thirteen or thirty?")',
        phrases: ['{state}', '{number} [minute|minutes|second|seconds|percent]'],
        args: {
          state: { type: 'string', enum: ['on', 'off'] },
          number: { type: 'integer', min: 0, max: 86400 },
        },
      },
      {
        name: 'add',
        description: 'more time on the timer of the last command',
        phrases: [
          'add {minutes} [more] minutes',
          'add {seconds} [more] seconds',
          'add another {minutes} minutes',
          '{minutes} more minutes',
        ],
        args: {
          minutes: { type: 'integer', min: 1, max: 1440 },
          seconds: { type: 'integer', min: 1, max: 86400 },
        },
      },
    ],
  },
  'the follow-up manifest (node/pipeline/followup.ts)',
);

export type FollowUpKind =
  'on' | 'off' | 'also' | 'brighter' | 'dimmer' | 'cancel' | 'add' | 'answer';

export function isFollowUp(agent: string): boolean {
  return agent === FOLLOWUP_AGENT;
}

export type FollowUpResolution =
  | { kind: 'intent'; intent: Intent; explain: string }
  | { kind: 'refused'; reply: string; explain: string };

/**
 * The intent a follow-up means, given the context it refers to (null: none left). The target
 * (a room or one light) and, for timers, the timer's id come from the context.
 */
export function resolveFollowUp(
  followUp: { intent: string; args: Record<string, ArgValue> },
  context: ConversationContext | null,
): FollowUpResolution {
  const kind = followUp.intent as FollowUpKind;
  if (context?.question) return answerQuestion(kind, followUp.args, context, context.question);
  if (kind === 'answer') {
    return refused(
      'Sorry, I didn\'t catch that. Say the whole command, for example "turn off the kitchen lights".',
      `an answer ("${String(followUp.args.state ?? followUp.args.number)}"), but no question is waiting in this room or the mesh`,
    );
  }
  const wants: 'lights' | 'timer' = kind === 'cancel' || kind === 'add' ? 'timer' : 'lights';
  if (!context) {
    return refused(
      wants === 'lights'
        ? 'I don\'t know which lights you mean. Say the room, for example "turn off the kitchen lights".'
        : 'I don\'t know which timer you mean. Say it in full, for example "cancel the timer".',
      'no conversation context in this room or the mesh (it expires after voice.context_ttl_s)',
    );
  }
  const last = `${context.agent}.${context.intent}`;
  if (context.agent !== wants) {
    return refused(
      wants === 'lights'
        ? 'The last thing you asked was not about lights. Say which lights, for example "turn off the kitchen lights".'
        : 'The last thing you asked was not a timer. Say it in full, for example "cancel the timer".',
      `a ${wants} follow-up, but the context is ${last}`,
    );
  }
  const target = lightsTarget(context);
  switch (kind) {
    case 'on':
    case 'off':
      return resolved('lights', kind, target, `${kind} for the lights of ${last}`);
    case 'also': {
      const room = followUp.args.room;
      if (typeof room !== 'string') return refused('Which room?', 'the follow-up named no room');
      const { device: _d, room: _r, ...rest } = context.args;
      return resolved(
        'lights',
        context.intent,
        { ...rest, room },
        `${last} again, for the ${room}`,
      );
    }
    case 'brighter':
    case 'dimmer': {
      const now = currentLevel(context);
      const level =
        kind === 'brighter'
          ? Math.min(100, now + BRIGHTNESS_STEP)
          : Math.max(DIMMEST, now - BRIGHTNESS_STEP);
      return resolved(
        'lights',
        'dim',
        { ...target, level },
        `${kind}: ${now} -> ${level} percent (${last})`,
      );
    }
    case 'cancel':
      return resolved('timer', 'cancel', timerTarget(context), `cancel the timer of ${last}`);
    case 'add': {
      const { minutes, seconds } = followUp.args;
      const more = {
        ...(typeof minutes === 'number' ? { minutes } : {}),
        ...(typeof seconds === 'number' ? { seconds } : {}),
      };
      if (Object.keys(more).length === 0)
        return refused('How much time should I add?', 'the follow-up named no duration');
      return resolved(
        'timer',
        'add',
        { ...timerTarget(context), ...more },
        `more time on the timer of ${last}`,
      );
    }
    default:
      return refused(
        "I didn't understand that follow-up.",
        `unknown follow-up ${String(followUp.intent)}`,
      );
  }
}

type Question = NonNullable<ConversationContext['question']>;

/**
 * A follow-up heard while a question waits: "off" or "turn them off" picks the choice that is
 * off, "thirteen" the choice with 13 among its arguments; anything else, or an answer that fits
 * no choice or several, gets the question again.
 */
function answerQuestion(
  kind: FollowUpKind,
  args: Record<string, ArgValue>,
  context: ConversationContext,
  question: Question,
): FollowUpResolution {
  const state = kind === 'on' || kind === 'off' ? kind : kind === 'answer' ? args.state : undefined;
  const number = kind === 'answer' ? args.number : undefined;
  const fits = question.choices.filter((c) =>
    typeof state === 'string'
      ? c.intent === state
      : typeof number === 'number' && Object.values(c.args).includes(number),
  );
  const said =
    typeof state === 'string'
      ? `"${state}"`
      : typeof number === 'number'
        ? `${number}`
        : `a "${kind}" follow-up`;
  const asked = `the question "${question.text}" (trace ${context.traceId})`;
  if (fits.length !== 1)
    return refused(
      question.text,
      `${said} answers none of the choices of ${asked}, or more than one`,
    );
  const c = fits[0]!;
  return resolved(c.agent, c.intent, c.args, `${said} answers ${asked}`);
}

/** The lights the context switched: its room, or its one light. */
function lightsTarget(context: ConversationContext): Record<string, ArgValue> {
  const { room, device } = context.args;
  if (typeof device === 'string' && device !== '') return { device };
  return typeof room === 'string' && room !== '' ? { room } : {};
}

/** The timer the context set: its id from the agent's result, else its label. */
function timerTarget(context: ConversationContext): Record<string, ArgValue> {
  const id = context.result?.id;
  if (typeof id === 'number' && Number.isInteger(id) && id > 0) return { id };
  const label = context.result?.label ?? context.args.label;
  return typeof label === 'string' && label !== '' ? { label } : {};
}

/** The brightness the context left the lights at: dimmed to a level, on (100) or off (0). */
function currentLevel(context: ConversationContext): number {
  const level = context.args.level;
  if (context.intent === 'dim' && typeof level === 'number') return level;
  return context.intent === 'off' ? 0 : 100;
}

function resolved(
  agent: string,
  intent: string,
  args: Record<string, ArgValue>,
  explain: string,
): FollowUpResolution {
  return { kind: 'intent', intent: { agent, intent, args, confidence: 1 }, explain };
}

function refused(reply: string, explain: string): FollowUpResolution {
  return { kind: 'refused', reply, explain };
}

/**
 * A context as one line, for the trace and for the LLM's user message:
 * `lights.on {"room":"kitchen"} ("turn on the kitchen lights"), 4 s ago in the kitchen by node-a`.
 */
export function describeContext(found: ContextLookup): string {
  const c = found.context;
  const room = c.room ? `the ${c.room}` : 'a node without a room';
  const other = found.from === 'mesh' ? ' (another room: the newest in the mesh)' : '';
  if (c.question) {
    const choices = c.question.choices.map(
      (x) => `${x.agent}.${x.intent} ${JSON.stringify(x.args)}`,
    );
    return `asked "${c.question.text}" instead of acting (choices: ${choices.join(' or ')}), ${Math.round(found.ageMs / 1000)} s ago in ${room}${other} by ${c.name}`;
  }
  return `${c.agent}.${c.intent} ${JSON.stringify(c.args)} ("${c.transcript}"), ${Math.round(found.ageMs / 1000)} s ago in ${room}${other} by ${c.name}`;
}
