/**
 * The recogniser benchmark's speech sets (bench/stt/phrases.ts). The TUNING set is the only one
 * any setting of the recogniser was chosen on (voices, speeds and phrasings); the HELD-OUT sets
 * use other voices, other speeds and sentences written by hand, as people say the shipped
 * intents, without looking at how the grammar spells them, and were never tuned on. Rooms are
 * TEST_ROOMS (kitchen, living room, bedroom, office).
 *
 * One exception, said so that nobody counts it twice: the change that makes the recogniser hear
 * an optional room as required (PhraseGrammarOptions.optionalEnumSlots) came after a run in which
 * held-out-b and not-commands had been seen (their wrong actions were mostly room-less); the
 * tuning set's own failures point the same way. No setting was chosen on held-out-a until
 * 2026-12-03: the phone-loop yardstick's threshold (PhraseRecogniser minMargin) was chosen on
 * held-out-a and not-commands, so from then on they are seen sets too; held-out-c and
 * not-commands-c are the sets held out from that change. On 2026-12-04 the grammar's politeness
 * rule, the lights' "put"/"make" phrasings and the word-margin threshold were chosen on set C
 * (from then on a seen set, marked so below); held-out-d and not-commands-d, written before those
 * changes, are the sets held out from them. Later on 2026-12-04 the on/off check and the
 * phrasings changed after set D's failures were read (set D seen from then on); held-out-e and
 * not-commands-e, written before those changes, are the sets held out from them. On a third
 * 2026-12-04 session set E's failures were read and the grammar changed after them (no closing
 * after a number without its unit; set E seen from then on); held-out-f and not-commands-f,
 * written before that change, are the sets held out from it. In a fourth 2026-12-04 session set F's
 * failures were read (set F seen from then on); held-out-g and not-commands-g were written at the
 * start of that session, measured on the code as it was, and are held out from its changes. Its
 * wrong actions were printed once, so on 2026-12-05 held-out-h and not-commands-h were written
 * before any of that session's changes: no setting is chosen on G or H. Both were measured before
 * and after that session's one change to decoding (the grammar searched as a minimal automaton),
 * and both printed their wrong actions then: neither is to be tuned on.
 */
import { numberToWords, type ArgValue } from '../../node/agentspec/index.js';

export interface Meaning {
  agent: string;
  intent: string;
  args: Record<string, ArgValue>;
}

export interface Said {
  text: string;
  /** null: not a command; it must never act */
  meaning: Meaning | null;
}

export interface SpeechSet {
  name: string;
  heldOut: boolean;
  voices: string[];
  speeds: number[];
  /** espeak-ng pitches, taken in turn (default its own, 50) */
  pitches?: number[];
  /** room noise mixed into every other utterance at this signal-to-noise ratio (dB) */
  noiseSnrDb?: number;
  /** each sentence said once, voices and speeds in turn (non-command sets), not by every voice */
  once?: boolean;
  /** grammar samples (tuning) or hand-written sentences */
  sentences: Said[] | 'grammar-samples';
}

const on = (room: string): Meaning => ({ agent: 'lights', intent: 'on', args: { room } });
const off = (room: string): Meaning => ({ agent: 'lights', intent: 'off', args: { room } });
const dim = (room: string, level: number): Meaning => ({
  agent: 'lights',
  intent: 'dim',
  args: { room, level },
});
const timer = (args: Record<string, ArgValue>): Meaning => ({
  agent: 'timer',
  intent: 'set',
  args,
});
const cancel = (args: Record<string, ArgValue> = {}): Meaning => ({
  agent: 'timer',
  intent: 'cancel',
  args,
});
const list: Meaning = { agent: 'timer', intent: 'list', args: {} };
const add = (args: Record<string, ArgValue>): Meaning => ({ agent: 'timer', intent: 'add', args });
/** lights on/off without a room: the pipeline fills in the room of the mic that heard it */
const here = (intent: 'on' | 'off'): Meaning => ({ agent: 'lights', intent, args: {} });
const online: Meaning = { agent: 'mesh', intent: 'online', args: {} };
const running: Meaning = { agent: 'mesh', intent: 'running', args: {} };

/** The tuning set: the recogniser's grammar samples and a few non-commands, 4 voices x 2 speeds. */
export const TUNING_VOICES = ['en-us', 'en-gb', 'en-us+f3', 'en-gb-scotland'];
export const TUNING_SPEEDS = [140, 185];
export const TUNING_NOT_COMMANDS: Said[] = [
  'echo hello world',
  'turn on the sauna lights',
  'turn off the workshop lights',
  'what is the capital of france',
  'remind me to buy milk',
].map((text) => ({ text, meaning: null }));

/**
 * A second tuning set, for the words that decide a number (the number margin, node/stt/phrase.ts):
 * the grammar samples pick numbers at random, so few are the ones people confuse (ten, eighteen,
 * eighty; thirty, thirteen, twenty; fifty, fifteen). Said by the tuning voices; written for
 * tuning, never used to measure a goal. First run (2026-12-03, daemon defaults): 53.8 % right,
 * 13.5 % wrong, nearly all a "-teen" heard as "-ty" (never the other way). Neither the words'
 * own margins against free phones nor the stress and length of the last syllable separated them
 * (right and wrong overlapped entirely); pocketsphinx's -pip did not help (-pip 2: 38 of 109
 * instead of 40; -pip 30: worse).
 */
const CONFUSABLE = [10, 18, 80, 13, 30, 20, 15, 50, 14, 40, 16, 60, 17, 70, 19, 90, 12, 45];
const TUNING_NUMBERS: Said[] = CONFUSABLE.flatMap((n, i) => {
  const w = numberToWords(n);
  const room = ['kitchen', 'bedroom', 'office'][i % 3]!;
  return [
    i % 2
      ? { text: `set a timer for ${w} minutes`, meaning: timer({ minutes: n }) }
      : { text: `set a timer for ${w} seconds`, meaning: timer({ seconds: n }) },
    { text: `dim the ${room} lights to ${w} percent`, meaning: dim(room, n) },
  ];
});

const HELD_OUT_A: Said[] = [
  { text: 'switch the office lights on', meaning: on('office') },
  { text: 'turn the kitchen light off', meaning: off('kitchen') },
  { text: 'bedroom lights off please', meaning: off('bedroom') },
  { text: 'can you switch on the living room lights', meaning: on('living room') },
  { text: 'lights off in the bedroom', meaning: off('bedroom') },
  { text: 'turn the lights in the kitchen on', meaning: on('kitchen') },
  { text: 'could you turn off the office light', meaning: off('office') },
  { text: 'dim the living room lights to forty percent', meaning: dim('living room', 40) },
  { text: 'set the bedroom lights to seventy', meaning: dim('bedroom', 70) },
  { text: 'office lights to thirty percent', meaning: dim('office', 30) },
  { text: 'start a fifteen minute timer', meaning: timer({ minutes: 15 }) },
  { text: 'set a timer for three minutes please', meaning: timer({ minutes: 3 }) },
  { text: 'a forty five second timer', meaning: timer({ seconds: 45 }) },
  { text: 'twenty minutes timer', meaning: timer({ minutes: 20 }) },
  { text: 'cancel my timer', meaning: cancel() },
  { text: 'stop the ten minute timer', meaning: cancel({ minutes: 10 }) },
  { text: 'what timers are running', meaning: list },
  { text: 'which devices are online', meaning: online },
  { text: 'what is running where', meaning: running },
  { text: 'please switch off the kitchen lights', meaning: off('kitchen') },
  { text: 'turn on the bedroom light', meaning: on('bedroom') },
  { text: 'kitchen light on', meaning: on('kitchen') },
  { text: 'switch the living room light off', meaning: off('living room') },
  { text: 'timer for eight minutes', meaning: timer({ minutes: 8 }) },
  { text: 'how much time is left on my timer', meaning: list },
  { text: 'turn the office lights off thanks', meaning: off('office') },
];

const HELD_OUT_B: Said[] = [
  { text: 'could you put the kitchen lights on', meaning: on('kitchen') },
  { text: 'turn off the lights in the bedroom', meaning: off('bedroom') },
  { text: 'living room lights on', meaning: on('living room') },
  { text: 'switch off the office lights please', meaning: off('office') },
  { text: 'lights on in the living room please', meaning: on('living room') },
  { text: 'would you turn the bedroom lights on', meaning: on('bedroom') },
  { text: 'turn the kitchen lights off for me', meaning: off('kitchen') },
  { text: 'switch on the office light', meaning: on('office') },
  { text: 'dim the kitchen lights to sixty percent', meaning: dim('kitchen', 60) },
  { text: 'set the office lights to fifteen percent', meaning: dim('office', 15) },
  { text: 'set a timer for twelve minutes', meaning: timer({ minutes: 12 }) },
  { text: 'start a timer for thirty seconds', meaning: timer({ seconds: 30 }) },
  { text: 'a two minute timer please', meaning: timer({ minutes: 2 }) },
  { text: 'set a ninety second timer', meaning: timer({ seconds: 90 }) },
  { text: 'seven minutes timer', meaning: timer({ minutes: 7 }) },
  { text: 'stop my timer', meaning: cancel() },
  { text: 'cancel the three minute timer', meaning: cancel({ minutes: 3 }) },
  { text: 'list my timers', meaning: list },
  { text: 'who is online', meaning: online },
  { text: 'which agents are running', meaning: running },
  { text: 'bedroom light off', meaning: off('bedroom') },
  { text: 'turn the living room lights off please', meaning: off('living room') },
  { text: 'switch the kitchen lights on', meaning: on('kitchen') },
  { text: 'please turn on the office lights', meaning: on('office') },
  { text: 'can you turn the lights off in the kitchen', meaning: off('kitchen') },
  { text: 'set the brightness in the bedroom to fifty percent', meaning: dim('bedroom', 50) },
];

/** At least 50 sentences that are not commands: everyday talk, near misses, other devices. */
export const NOT_COMMANDS: Said[] = [
  'what time is it',
  'how old is the moon',
  'I am going to bed now',
  'the kitchen is a mess',
  'did you feed the cat',
  'turn on the television',
  'turn on the radio',
  'lock the back door',
  'close the garage',
  'turn on the garage lights',
  'switch off the porch lights',
  'turn on the heating',
  'make me a coffee',
  'play some jazz',
  'what is on my calendar',
  'call my sister',
  'order more milk',
  'good morning',
  'thank you',
  'never mind',
  'I like this song',
  'the lights are too bright',
  'is it going to rain tomorrow',
  'where are my keys',
  'set an alarm for seven',
  'remind me to call mum',
  'how many minutes until dinner',
  'the timer is broken',
  'my office is cold',
  'let us watch a movie',
  'read me the news',
  'what is the temperature outside',
  'open the curtains',
  'turn up the music',
  'turn down the heat',
  'the bedroom needs cleaning',
  'start the dishwasher',
  'stop the music',
  'pause the movie',
  'who won the game last night',
  'tell me a story',
  'how do you spell necessary',
  'water the plants',
  'feed the dog at five',
  'I will be home in ten minutes',
  'switch to channel four',
  'turn the page',
  'lights camera action',
  'on and off again',
  'it is five minutes past nine',
  'the living room is warm',
  'that is all for now',
  'what a lovely day',
  'see you later',
  'can you hear me',
  'testing one two three',
].map((text) => ({ text, meaning: null }));

/**
 * Held-out set C, written on 2026-12-03 before any change of that day and measured only once, at
 * the end: casual phrasings as different people put them (some the command language does not
 * cover: they should be refused, never acted on), room-less lights, other voices (Lancaster,
 * West Midlands, New York), other speeds and pitches, and room noise in half the utterances.
 */
const HELD_OUT_C: Said[] = [
  { text: 'hey could you turn the bedroom lights off', meaning: off('bedroom') },
  { text: 'office light off please', meaning: off('office') },
  { text: 'switch on the lights in the office', meaning: on('office') },
  { text: 'put the living room lights on', meaning: on('living room') },
  { text: 'lights off in the living room please', meaning: off('living room') },
  { text: 'turn on the lights', meaning: here('on') },
  { text: 'switch the lights off', meaning: here('off') },
  { text: 'dim the bedroom lights to twenty five percent', meaning: dim('bedroom', 25) },
  { text: 'set the kitchen lights to eighty percent', meaning: dim('kitchen', 80) },
  { text: 'living room lights to ten percent', meaning: dim('living room', 10) },
  { text: 'make the office lights fifty percent', meaning: dim('office', 50) },
  { text: 'set a timer for one minute', meaning: timer({ minutes: 1 }) },
  { text: 'start a six minute timer', meaning: timer({ minutes: 6 }) },
  { text: 'timer for forty seconds', meaning: timer({ seconds: 40 }) },
  { text: 'a thirty minute timer please', meaning: timer({ minutes: 30 }) },
  { text: 'could you set a timer for eleven minutes', meaning: timer({ minutes: 11 }) },
  { text: 'cancel the timer', meaning: cancel() },
  { text: 'stop the five minute timer', meaning: cancel({ minutes: 5 }) },
  { text: 'list the timers', meaning: list },
  { text: 'what timers are set', meaning: list },
  { text: 'how long is left on the timer', meaning: list },
  { text: 'what devices are online', meaning: online },
  { text: 'which nodes are up', meaning: online },
  { text: 'what is running on each device', meaning: running },
  { text: 'turn the bedroom light on', meaning: on('bedroom') },
  { text: 'switch off the living room light', meaning: off('living room') },
  { text: 'kitchen lights off', meaning: off('kitchen') },
  { text: 'please turn the office lights on', meaning: on('office') },
  { text: 'add two minutes to the timer', meaning: add({ minutes: 2 }) },
  { text: 'turn off the light in the bedroom', meaning: off('bedroom') },
  { text: 'lights on please', meaning: here('on') },
  { text: 'set a timer for nine minutes', meaning: timer({ minutes: 9 }) },
];

/** Not commands for set C: near misses of the commands and everyday talk (52). */
const NOT_COMMANDS_C: Said[] = [
  'turn on the oven',
  'switch off the fan',
  'the office lights are on',
  'are the kitchen lights off',
  'who left the bedroom light on',
  'dim sum for dinner tonight',
  'set the table please',
  'cancel my subscription',
  'who is at the door',
  'open the window',
  'turn left at the lights',
  'the timer went off',
  'how long do eggs take',
  'I need five more minutes',
  'start the car',
  'stop talking',
  'list the groceries',
  'the bedroom is upstairs',
  'run the bath',
  'turn over the record',
  'switch seats with me',
  'light the candles',
  'lights out at ten',
  'the kitchen is closed',
  'forty two',
  'one two three four',
  'hello',
  'yes please',
  'no thanks',
  'maybe later',
  'what did you say',
  'I forgot my phone',
  'the office is quiet today',
  'we need new light bulbs',
  'set the oven to two hundred degrees',
  'start the washing machine',
  'stop the alarm',
  'dim the screen',
  'turn the heater on',
  'switch the kettle on',
  'is anyone home',
  'the living room needs a new lamp',
  'what are you doing',
  'how much is a coffee',
  'bring me a blanket',
  'show me the photos',
  'close the blinds',
  'play the radio in the kitchen',
  'the cat is asleep',
  'good night everyone',
  'I am hungry',
  'let me think about it',
].map((text) => ({ text, meaning: null }));

/**
 * Held-out set D, written on 2026-12-04 before that day's recogniser changes, which were chosen
 * on set C (from then on a seen set). Other voice variants (new timbres on the accents: a deeper
 * British male, a US female, a Caribbean male, an RP female, a New York male), other speeds,
 * pitches and a quieter room (20 dB), and phrasings written without looking at the grammar.
 */
const HELD_OUT_D: Said[] = [
  { text: 'turn the kitchen lights on please', meaning: on('kitchen') },
  { text: 'switch off the bedroom lights', meaning: off('bedroom') },
  { text: 'office lights on', meaning: on('office') },
  { text: 'lights off in the kitchen', meaning: off('kitchen') },
  { text: 'can you turn off the living room light', meaning: off('living room') },
  { text: 'would you switch the office light off', meaning: off('office') },
  { text: 'turn on the light in the living room', meaning: on('living room') },
  { text: 'bedroom lights on please', meaning: on('bedroom') },
  { text: 'switch the lights on', meaning: here('on') },
  { text: 'turn off the lights please', meaning: here('off') },
  { text: 'lights off', meaning: here('off') },
  { text: 'dim the office lights to thirty percent', meaning: dim('office', 30) },
  { text: 'set the living room lights to sixty', meaning: dim('living room', 60) },
  { text: 'kitchen lights to forty percent', meaning: dim('kitchen', 40) },
  { text: 'set the brightness in the office to twenty percent', meaning: dim('office', 20) },
  { text: 'set a timer for four minutes', meaning: timer({ minutes: 4 }) },
  { text: 'start a timer for two minutes', meaning: timer({ minutes: 2 }) },
  { text: 'a ten minute timer', meaning: timer({ minutes: 10 }) },
  { text: 'set a twenty second timer please', meaning: timer({ seconds: 20 }) },
  { text: 'timer for seven minutes', meaning: timer({ minutes: 7 }) },
  { text: 'three minutes timer', meaning: timer({ minutes: 3 }) },
  { text: 'cancel the timer please', meaning: cancel() },
  { text: 'stop the four minute timer', meaning: cancel({ minutes: 4 }) },
  { text: 'what timers do I have', meaning: list },
  { text: 'list my timers please', meaning: list },
  { text: 'which devices are online', meaning: online },
  { text: 'what is running', meaning: running },
  { text: 'could you switch on the kitchen light', meaning: on('kitchen') },
  { text: 'turn the living room lights off', meaning: off('living room') },
  { text: 'please switch the bedroom light off', meaning: off('bedroom') },
  { text: 'add one minute to the timer', meaning: add({ minutes: 1 }) },
  { text: 'turn on the office lights', meaning: on('office') },
];

/** Not commands for set D: near misses and everyday talk, written with set D (54). */
const NOT_COMMANDS_D: Said[] = [
  'turn on the kettle',
  'switch off the computer',
  'the bedroom lights are broken',
  'why are the lights on',
  'turn the music off',
  'set the alarm for six',
  'cancel the meeting',
  'stop the car here',
  'the kitchen floor is wet',
  'office hours are over',
  'living room furniture',
  'lights please',
  'turn around',
  'switch it up',
  'I will be in the office',
  'the timer is ringing',
  'how many timers does the oven have',
  'ten minutes to midnight',
  'fifty percent off everything',
  'a cup of tea please',
  'put the kettle on',
  'turn the tap off',
  'open the fridge',
  'clean the bedroom',
  'take the bins out',
  'what is for dinner',
  'are you listening',
  'okay',
  'right then',
  'oh dear',
  'see you in the morning',
  'the light is green',
  'bright and early',
  'start the movie',
  'stop right there',
  'list the movies',
  'set the thermostat to twenty',
  'dim the lamp by the sofa',
  'switch on the printer',
  'where is the remote',
  'is the office door locked',
  'the living room clock is slow',
  'ask me again later',
  'nine to five',
  'eighty percent chance of rain',
  'my phone battery is at ten percent',
  'pass the salt',
  'how was your day',
  'please be quiet',
  'turn it up',
  'could you help me',
  'I want to sleep',
  'what is the time in tokyo',
  'it is too dark in here',
].map((text) => ({ text, meaning: null }));

const VOICES_D = ['en-gb+m7', 'en-us+f4', 'en-029+m5', 'en-gb-x-rp+f2', 'en-us-nyc+m4'];

/**
 * Set E: written on 2026-12-04 (a second session) before that day's changes (on/off check, phrasings) and held out
 * from them; other voice variants (one a Klatt formant voice), speeds, pitches and room noise.
 */
const HELD_OUT_E: Said[] = [
  { text: 'turn on the bedroom light', meaning: on('bedroom') },
  { text: 'switch the kitchen lights off please', meaning: off('kitchen') },
  { text: 'living room lights off', meaning: off('living room') },
  { text: 'lights on in the office please', meaning: on('office') },
  { text: 'could you turn the office lights off', meaning: off('office') },
  { text: 'please turn on the living room lights', meaning: on('living room') },
  { text: 'switch off the light in the kitchen', meaning: off('kitchen') },
  { text: 'bedroom light off', meaning: off('bedroom') },
  { text: 'turn the lights on', meaning: here('on') },
  { text: 'switch off the lights', meaning: here('off') },
  { text: 'lights on please', meaning: here('on') },
  { text: 'dim the bedroom lights to fifty percent', meaning: dim('bedroom', 50) },
  { text: 'set the kitchen lights to seventy percent', meaning: dim('kitchen', 70) },
  { text: 'office lights to twenty five percent', meaning: dim('office', 25) },
  { text: 'dim the living room light to ten percent', meaning: dim('living room', 10) },
  { text: 'set a timer for six minutes', meaning: timer({ minutes: 6 }) },
  { text: 'start a five minute timer', meaning: timer({ minutes: 5 }) },
  { text: 'timer for thirty seconds', meaning: timer({ seconds: 30 }) },
  { text: 'set a two minute timer please', meaning: timer({ minutes: 2 }) },
  { text: 'a twelve minute timer', meaning: timer({ minutes: 12 }) },
  { text: 'set a timer for forty five seconds', meaning: timer({ seconds: 45 }) },
  { text: 'cancel my timer', meaning: cancel() },
  { text: 'stop the timer', meaning: cancel() },
  { text: 'cancel the six minute timer', meaning: cancel({ minutes: 6 }) },
  { text: 'how long is left on my timer', meaning: list },
  { text: 'list the timers', meaning: list },
  { text: 'what timers are running', meaning: list },
  { text: 'add two minutes to the timer', meaning: add({ minutes: 2 }) },
  { text: 'which devices are online', meaning: online },
  { text: 'which agents are running', meaning: running },
  { text: 'could you switch the bedroom lights on', meaning: on('bedroom') },
  { text: 'turn off the office light please', meaning: off('office') },
];

/** Not commands for set E (56): near misses, other devices, everyday talk. */
const NOT_COMMANDS_E: Said[] = [
  'turn on the dishwasher',
  'switch off the television please',
  'the kitchen lights look nice',
  'who left the lights on',
  'turn the volume down',
  'set the table for dinner',
  'cancel my subscription',
  'stop the music',
  'the bedroom is upstairs',
  'my office is a mess',
  'living room or kitchen',
  'lights camera action',
  'turn left at the lights',
  'switch places with me',
  'I am in the kitchen',
  'the timer went off',
  'what time is it',
  'five minutes late',
  'twenty percent battery',
  'a glass of water please',
  'put the cat out',
  'turn the oven down',
  'close the window',
  'tidy the living room',
  'feed the dog',
  'what are we having for lunch',
  'can you hear me',
  'yes',
  'no thanks',
  'hmm let me think',
  'good night everyone',
  'the light bulb is broken',
  'early to bed',
  'play some jazz',
  'hold on a minute',
  'list the groceries',
  'set the heating to twenty one',
  'dim sum for dinner',
  'switch on the radio',
  'where are my keys',
  'is the garage door open',
  'the office printer is out of paper',
  'call me back later',
  'one two three four',
  'thirty degrees outside',
  'my laptop is at fifty percent',
  'thank you very much',
  'what a lovely day',
  'please stop talking',
  'turn it down a bit',
  'can you do me a favour',
  'I am so tired',
  'how far is the moon',
  'it is freezing in the bedroom',
  'the lights in the office flicker',
  'timer',
].map((text) => ({ text, meaning: null }));

/**
 * Set F: written on 2026-12-04 (a third session) before that session's changes (no closing after a
 * number without its unit) and held out from them; voice variants no other set uses, other
 * speeds, pitches and noise, and hand-written phrasings (brightness with and without "percent",
 * closings after a unit, timers in seconds).
 */
const HELD_OUT_F: Said[] = [
  { text: 'switch on the kitchen light', meaning: on('kitchen') },
  { text: 'turn the bedroom lights off', meaning: off('bedroom') },
  { text: 'office light on please', meaning: on('office') },
  { text: 'could you turn off the living room lights', meaning: off('living room') },
  { text: 'lights off in the bedroom', meaning: off('bedroom') },
  { text: 'please switch the office lights on', meaning: on('office') },
  { text: 'kitchen lights off thanks', meaning: off('kitchen') },
  { text: 'turn on the lights in the living room', meaning: on('living room') },
  { text: 'turn the light off', meaning: here('off') },
  { text: 'lights on', meaning: here('on') },
  { text: 'switch on the lights please', meaning: here('on') },
  { text: 'dim the office lights to forty percent', meaning: dim('office', 40) },
  { text: 'set the bedroom light to thirty', meaning: dim('bedroom', 30) },
  { text: 'kitchen lights to sixty percent please', meaning: dim('kitchen', 60) },
  { text: 'dim the lights in the living room to twenty', meaning: dim('living room', 20) },
  { text: 'set the brightness in the kitchen to eighty percent', meaning: dim('kitchen', 80) },
  { text: 'set a timer for eight minutes', meaning: timer({ minutes: 8 }) },
  { text: 'start a ten minute timer please', meaning: timer({ minutes: 10 }) },
  { text: 'a fifteen second timer', meaning: timer({ seconds: 15 }) },
  { text: 'timer for three minutes', meaning: timer({ minutes: 3 }) },
  { text: 'set a timer for twenty seconds thanks', meaning: timer({ seconds: 20 }) },
  { text: 'start a timer for four minutes', meaning: timer({ minutes: 4 }) },
  { text: 'cancel the timer', meaning: cancel() },
  { text: 'stop my timer please', meaning: cancel() },
  { text: 'cancel the ten minute timer', meaning: cancel({ minutes: 10 }) },
  { text: 'list my timers', meaning: list },
  { text: 'which timers are set', meaning: list },
  { text: 'add five minutes to the timer', meaning: add({ minutes: 5 }) },
  { text: 'who is online', meaning: online },
  { text: 'what is running', meaning: running },
  { text: 'would you turn the kitchen lights on', meaning: on('kitchen') },
  { text: 'switch off the office lights for me', meaning: off('office') },
];

/** Not commands for set F (56): near misses, other devices, everyday talk. */
const NOT_COMMANDS_F: Said[] = [
  'turn on the kettle',
  'switch off the computer',
  'the living room lights are too bright',
  'did you turn the lights off',
  'turn up the music',
  'set an alarm for seven',
  'cancel the meeting',
  'stop the washing machine',
  'the kitchen floor is wet',
  'my bedroom is cold',
  'kitchen or bedroom',
  'lights out at ten',
  'turn right after the bridge',
  'switch the channel',
  'I am in the office',
  'the timer is broken',
  'what day is it',
  'ten minutes ago',
  'sixty percent humidity',
  'a cup of coffee please',
  'put the kettle on',
  'turn the heating up',
  'open the curtains',
  'clean the bedroom',
  'walk the dog',
  'what is for dinner tonight',
  'are you listening',
  'okay',
  'yes please',
  'let me see',
  'good morning',
  'the lamp is new',
  'time for bed',
  'play the radio',
  'wait a second',
  'read me the news',
  'set the oven to two hundred',
  'light a fire',
  'turn on the fan please',
  'where is my phone',
  'is the front door locked',
  'the kitchen sink is blocked',
  'ring me later',
  'five six seven eight',
  'forty degrees in the shade',
  'the battery is at twenty percent',
  'thanks a lot',
  'what a mess',
  'please be quiet',
  'turn that noise down',
  'could you help me',
  'I am hungry',
  'how tall is that tree',
  'it is dark in the office',
  'the lights in the hall are off',
  'minutes',
].map((text) => ({ text, meaning: null }));

/**
 * Set G: written on 2026-12-04 (a fourth session) before any of that session's changes, measured
 * first on the code as it was, and held out from them: voice variants no other set uses (espeak-ng's
 * named variants), other speeds, pitches and noise, hand-written phrasings.
 */
const HELD_OUT_G: Said[] = [
  { text: 'turn on the bedroom lights', meaning: on('bedroom') },
  { text: 'switch the kitchen light off', meaning: off('kitchen') },
  { text: 'living room lights on please', meaning: on('living room') },
  { text: 'could you switch off the office light', meaning: off('office') },
  { text: 'lights on in the office', meaning: on('office') },
  { text: 'please turn the bedroom light on', meaning: on('bedroom') },
  { text: 'turn off the lights in the kitchen please', meaning: off('kitchen') },
  { text: 'switch the lights off', meaning: here('off') },
  { text: 'turn the lights on please', meaning: here('on') },
  { text: 'light off', meaning: here('off') },
  { text: 'dim the bedroom lights to fifty percent', meaning: dim('bedroom', 50) },
  { text: 'set the kitchen lights to seventy', meaning: dim('kitchen', 70) },
  { text: 'office light to twenty five percent please', meaning: dim('office', 25) },
  { text: 'dim the living room light to ninety', meaning: dim('living room', 90) },
  { text: 'set the brightness in the bedroom to ten percent', meaning: dim('bedroom', 10) },
  { text: 'set a timer for six minutes', meaning: timer({ minutes: 6 }) },
  { text: 'start a twelve minute timer', meaning: timer({ minutes: 12 }) },
  { text: 'a thirty second timer please', meaning: timer({ seconds: 30 }) },
  { text: 'timer for nine minutes', meaning: timer({ minutes: 9 }) },
  { text: 'set a timer for forty five seconds', meaning: timer({ seconds: 45 }) },
  { text: 'could you start a timer for two minutes', meaning: timer({ minutes: 2 }) },
  { text: 'set a 7 minute timer', meaning: timer({ minutes: 7 }) },
  { text: 'cancel my timer', meaning: cancel() },
  { text: 'stop the timer please', meaning: cancel() },
  { text: 'cancel the five minute timer', meaning: cancel({ minutes: 5 }) },
  { text: 'what timers are running', meaning: list },
  { text: 'list the timers', meaning: list },
  { text: 'add two minutes to the timer', meaning: add({ minutes: 2 }) },
  { text: 'who is online', meaning: online },
  { text: 'what is running', meaning: running },
  { text: 'would you switch the bedroom lights off', meaning: off('bedroom') },
  { text: 'turn on the office lights for me', meaning: on('office') },
];

/** Not commands for set G (60): near misses, other devices, everyday talk, numbers, rooms. */
const NOT_COMMANDS_G: Said[] = [
  'turn on the television',
  'switch off the oven',
  'the bedroom lights are broken',
  'are the kitchen lights on',
  'turn down the volume',
  'set an alarm for six thirty',
  'cancel my subscription',
  'stop the car',
  'the office is a mess',
  'the living room needs painting',
  'office or kitchen',
  'lights camera action',
  'turn left at the church',
  'switch to the news',
  'I am in the kitchen',
  'the timer went off',
  'what time is it',
  'five minutes late',
  'seventy percent chance of rain',
  'a glass of water please',
  'make me a sandwich',
  'turn the radiator on',
  'close the window',
  'tidy the living room',
  'feed the cat',
  'what should we cook',
  'can you hear me',
  'alright',
  'no thanks',
  'hang on',
  'good night',
  'the light bulb is old',
  'time to go',
  'play a podcast',
  'just a moment',
  'tell me a joke',
  'set the table for four',
  'light the candles',
  'switch on the kettle please',
  'where did I park',
  'is the back door closed',
  'the bedroom window is open',
  'text me tomorrow',
  'nine ten eleven twelve',
  'twelve degrees at night',
  'my phone is at ten percent',
  'cheers mate',
  'oh dear',
  'keep it down please',
  'that is off topic',
  'would you help me out',
  'I need a nap',
  'how old is the house',
  'the kitchen is too dark',
  'the office lights were on all night',
  'seconds',
  'turn the page',
  'stop laughing',
  'off you go',
  'on and on',
].map((text) => ({ text, meaning: null }));

/**
 * Set H: written on 2026-12-05 before any of that session's changes and held out from them: other
 * espeak-ng voice variants, speeds, pitches and noise, hand-written phrasings.
 */
const HELD_OUT_H: Said[] = [
  { text: 'switch on the kitchen lights', meaning: on('kitchen') },
  { text: 'turn the office lights off please', meaning: off('office') },
  { text: 'bedroom lights off', meaning: off('bedroom') },
  { text: 'could you turn on the living room light', meaning: on('living room') },
  { text: 'lights off in the bedroom please', meaning: off('bedroom') },
  { text: 'please switch the office light on', meaning: on('office') },
  { text: 'turn on the lights in the living room', meaning: on('living room') },
  { text: 'switch the lights on', meaning: here('on') },
  { text: 'turn off the light please', meaning: here('off') },
  { text: 'lights on', meaning: here('on') },
  { text: 'dim the office lights to forty percent', meaning: dim('office', 40) },
  { text: 'set the living room lights to sixty', meaning: dim('living room', 60) },
  { text: 'kitchen light to thirty percent', meaning: dim('kitchen', 30) },
  { text: 'dim the bedroom light to eighty five', meaning: dim('bedroom', 85) },
  { text: 'set the brightness in the kitchen to twenty percent', meaning: dim('kitchen', 20) },
  { text: 'set a timer for eight minutes', meaning: timer({ minutes: 8 }) },
  { text: 'start a fifteen minute timer', meaning: timer({ minutes: 15 }) },
  { text: 'a ten second timer please', meaning: timer({ seconds: 10 }) },
  { text: 'timer for four minutes', meaning: timer({ minutes: 4 }) },
  { text: 'set a timer for twenty seconds', meaning: timer({ seconds: 20 }) },
  { text: 'could you set a timer for three minutes', meaning: timer({ minutes: 3 }) },
  { text: 'set a 20 minute timer', meaning: timer({ minutes: 20 }) },
  { text: 'cancel the timer', meaning: cancel() },
  { text: 'stop my timer please', meaning: cancel() },
  { text: 'cancel the ten minute timer', meaning: cancel({ minutes: 10 }) },
  { text: 'which timers are running', meaning: list },
  { text: 'show the timers', meaning: list },
  { text: 'add five minutes to the timer', meaning: add({ minutes: 5 }) },
  { text: 'which nodes are online', meaning: online },
  { text: 'what agents are running', meaning: running },
  { text: 'would you turn the kitchen lights on', meaning: on('kitchen') },
  { text: 'switch off the living room lights for me', meaning: off('living room') },
];

/** Not commands for set H (60): near misses, other devices, everyday talk, numbers, rooms. */
const NOT_COMMANDS_H: Said[] = [
  'turn on the dishwasher',
  'switch off the heating',
  'the kitchen lights are flickering',
  'is the office light on',
  'turn up the music',
  'set an alarm for seven',
  'cancel the order',
  'stop the train',
  'the bedroom is cold',
  'the living room looks great',
  'bedroom or office',
  'light as a feather',
  'turn right at the lights',
  'switch the channel',
  'I am in the office',
  'the alarm went off',
  'what is the date',
  'ten minutes ago',
  'forty percent off',
  'a cup of tea please',
  'order a pizza',
  'turn the heater off',
  'open the curtains',
  'clean the kitchen',
  'walk the dog',
  'what is for dinner',
  'are you listening',
  'okay',
  'yes please',
  'wait a second',
  'good morning',
  'the lamp is new',
  'time for bed',
  'play the radio',
  'one moment please',
  'tell me a story',
  'set the oven to two hundred',
  'light a fire',
  'switch on the fan please',
  'where are my keys',
  'is the garage door locked',
  'the kitchen door is open',
  'call me later',
  'one two three four',
  'fifteen degrees outside',
  'the battery is at twenty percent',
  'thank you very much',
  'oh no',
  'quiet please',
  'that is not right',
  'could you do me a favour',
  'I am tired',
  'how big is the garden',
  'the bedroom is too bright',
  'the kitchen lights were off this morning',
  'minutes',
  'turn it over',
  'stop talking',
  'off we go',
  'on the way',
].map((text) => ({ text, meaning: null }));

const VOICES_H = [
  'en-us+Alicia',
  'en-gb+david',
  'en-gb-x-gbclan+linda',
  'en-us-nyc+Mike',
  'en-gb-scotland+belinda',
  'en-029+robert',
];

const VOICES_G = [
  'en-us+Andy',
  'en-gb+Annie',
  'en-029+john',
  'en-gb-scotland+Michael',
  'en-us-nyc+steph',
  'en-gb-x-rp+travis',
];

const VOICES_F = [
  'en-us+m1',
  'en-gb-x-gbcwmd+f3',
  'en-gb-scotland+f2',
  'en-us-nyc+klatt',
  'en-gb+m4',
];

const VOICES_E = [
  'en-us+m2',
  'en-gb-x-gbclan+f1',
  'en-gb-scotland+m6',
  'en-029+f5',
  'en-us+klatt2',
];

const VOICES_C = ['en-gb-x-gbclan', 'en-gb-x-gbcwmd', 'en-us-nyc'];

export const SETS: SpeechSet[] = [
  {
    name: 'tuning',
    heldOut: false,
    voices: TUNING_VOICES,
    speeds: TUNING_SPEEDS,
    sentences: 'grammar-samples',
  },
  {
    name: 'tuning-numbers',
    heldOut: false,
    voices: TUNING_VOICES,
    speeds: TUNING_SPEEDS,
    sentences: TUNING_NUMBERS,
  },
  {
    name: 'held-out-a',
    heldOut: true,
    voices: ['en-gb-x-rp', 'en-us+m3'],
    speeds: [160, 210],
    sentences: HELD_OUT_A,
  },
  {
    name: 'held-out-b',
    heldOut: true,
    voices: ['en-029', 'en-us+f2'],
    speeds: [150, 175],
    sentences: HELD_OUT_B,
  },
  {
    // each sentence once, in turn by the held-out voices and speeds
    name: 'not-commands',
    heldOut: true,
    voices: ['en-gb-x-rp', 'en-us+m3', 'en-029', 'en-us+f2'],
    speeds: [150, 175, 160, 210],
    once: true,
    sentences: NOT_COMMANDS,
  },
  {
    name: 'held-out-c',
    // seen since 2026-12-04 (see the header)
    heldOut: false,
    voices: VOICES_C,
    speeds: [135, 195],
    pitches: [35, 65, 50],
    noiseSnrDb: 15,
    sentences: HELD_OUT_C,
  },
  {
    name: 'not-commands-c',
    // seen since 2026-12-04 (see the header)
    heldOut: false,
    voices: VOICES_C,
    speeds: [135, 195],
    pitches: [35, 65, 50],
    noiseSnrDb: 15,
    once: true,
    sentences: NOT_COMMANDS_C,
  },
  {
    name: 'held-out-d',
    // seen since the second 2026-12-04 session (see the header)
    heldOut: false,
    voices: VOICES_D,
    speeds: [145, 180],
    pitches: [40, 60, 55],
    noiseSnrDb: 20,
    sentences: HELD_OUT_D,
  },
  {
    name: 'not-commands-d',
    // seen since the second 2026-12-04 session (see the header)
    heldOut: false,
    voices: VOICES_D,
    speeds: [145, 180],
    pitches: [40, 60, 55],
    noiseSnrDb: 20,
    once: true,
    sentences: NOT_COMMANDS_D,
  },
  {
    name: 'held-out-e',
    // seen since the third 2026-12-04 session (see the header)
    heldOut: false,
    voices: VOICES_E,
    speeds: [155, 195],
    pitches: [45, 70, 35],
    noiseSnrDb: 25,
    sentences: HELD_OUT_E,
  },
  {
    name: 'not-commands-e',
    // seen since the third 2026-12-04 session (see the header)
    heldOut: false,
    voices: VOICES_E,
    speeds: [155, 195],
    pitches: [45, 70, 35],
    noiseSnrDb: 25,
    once: true,
    sentences: NOT_COMMANDS_E,
  },
  {
    name: 'held-out-f',
    // seen since the fourth 2026-12-04 session (see the header)
    heldOut: false,
    voices: VOICES_F,
    speeds: [150, 190],
    pitches: [50, 30, 60],
    noiseSnrDb: 22,
    sentences: HELD_OUT_F,
  },
  {
    name: 'not-commands-f',
    // seen since the fourth 2026-12-04 session (see the header)
    heldOut: false,
    voices: VOICES_F,
    speeds: [150, 190],
    pitches: [50, 30, 60],
    noiseSnrDb: 22,
    once: true,
    sentences: NOT_COMMANDS_F,
  },
  {
    name: 'held-out-g',
    heldOut: true,
    voices: VOICES_G,
    speeds: [150, 195],
    pitches: [55, 40, 70],
    noiseSnrDb: 18,
    sentences: HELD_OUT_G,
  },
  {
    name: 'not-commands-g',
    heldOut: true,
    voices: VOICES_G,
    speeds: [150, 195],
    pitches: [55, 40, 70],
    noiseSnrDb: 18,
    once: true,
    sentences: NOT_COMMANDS_G,
  },
  {
    name: 'held-out-h',
    heldOut: true,
    voices: VOICES_H,
    speeds: [145, 185],
    pitches: [45, 60, 35],
    noiseSnrDb: 20,
    sentences: HELD_OUT_H,
  },
  {
    name: 'not-commands-h',
    heldOut: true,
    voices: VOICES_H,
    speeds: [145, 185],
    pitches: [45, 60, 35],
    noiseSnrDb: 20,
    once: true,
    sentences: NOT_COMMANDS_H,
  },
];

/**
 * `pcm` with room noise (a low-passed random walk, deterministic per `seed`) mixed in at `snrDb`
 * below the speech's own power.
 */
export function withNoise(pcm: Int16Array, snrDb: number, seed: number): Int16Array {
  let state = (seed * 2654435761) >>> 0 || 1;
  const rand = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  let power = 0;
  for (const s of pcm) power += s * s;
  power /= Math.max(1, pcm.length);
  const noise = new Float64Array(pcm.length);
  let lp = 0;
  let noisePower = 0;
  for (let i = 0; i < noise.length; i++) {
    lp = 0.9 * lp + rand();
    noise[i] = lp + 0.3 * rand();
    noisePower += noise[i]! * noise[i]!;
  }
  noisePower /= Math.max(1, noise.length);
  const gain = noisePower > 0 ? Math.sqrt(power / noisePower / 10 ** (snrDb / 10)) : 0;
  return Int16Array.from(pcm, (s, i) =>
    Math.max(-32768, Math.min(32767, Math.round(s + gain * noise[i]!))),
  );
}

/** Sounds that are not speech (1.5 s, 16 kHz): silence, room noise, noise, tones, a chirp. */
export function nonSpeech(): { name: string; pcm: Int16Array }[] {
  const n = 24_000;
  let seed = 7;
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  const make = (f: (i: number, t: number) => number) =>
    Int16Array.from({ length: n }, (_, i) =>
      Math.max(-32768, Math.min(32767, Math.round(f(i, i / 16_000)))),
    );
  let pink = 0;
  return [
    { name: 'silence', pcm: make(() => 0) },
    { name: 'quiet room noise', pcm: make(() => rand() * 60) },
    { name: 'white noise', pcm: make(() => rand() * 8000) },
    { name: 'low rumble', pcm: make(() => (pink = 0.98 * pink + rand() * 600)) },
    { name: '440 Hz tone', pcm: make((_, t) => 8000 * Math.sin(2 * Math.PI * 440 * t)) },
    {
      name: 'dial tone pair',
      pcm: make(
        (_, t) => 5000 * (Math.sin(2 * Math.PI * 697 * t) + Math.sin(2 * Math.PI * 1209 * t)),
      ),
    },
    {
      name: 'chirp',
      pcm: make((_, t) => 8000 * Math.sin(2 * Math.PI * (200 * t + 600 * t * t))),
    },
  ];
}
