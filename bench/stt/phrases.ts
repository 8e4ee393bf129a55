/**
 * The constrained phrase recogniser on espeak-ng speech, per speech set (bench/stt/phrase-sets.ts):
 * right (the intent and slots meant), refused (a question back, nothing done) and wrong actions;
 * for sentences and sounds that are not commands, the actions taken (aim: none). Then, on the
 * same audio in the same run:
 *   engine      one bare `pocketsphinx_batch` decode with the same grammar, dictionary and -topn
 *   recogniser  PhraseRecogniser.transcribe: three decodes (plain, VTLN 0.9, live CMN) side by
 *               side, agreement, fit and the on/off audio check, grammar read-back
 *   action      Pipeline.handleUtterance from the end of speech to the intent handed to the agent
 *               host (local recogniser, fast matcher; the host answers at once)
 * Aims (issue 10): >= 90 % right and <= 1 % wrong on every set, no action for a non-command,
 * recogniser p50 <= 250 ms on a quiet machine, end of speech -> action p50 <= recogniser + 30 ms.
 *
 * Only the TUNING set was used to choose any setting; the HELD-OUT sets (other voices, speeds and
 * hand-written phrasings) were not, and the output marks which is which. held-out-c and
 * not-commands-c (other voices, pitches, room noise) were written before the 2026-12-03 changes
 * and measured only after them; the 2026-12-04 changes were chosen on them, and held-out-d and
 * not-commands-d (other voice variants) are held out from those (bench/stt/phrase-sets.ts).
 *
 *   npx tsx bench/stt/phrases.ts [--sets tuning,held-out-a,...,held-out-h,not-commands-h] [--per-phrase 1] [--runs 20] [--required-rooms] [--min-roomless-lead=8] [--no-followups] [--jsgf] [--json]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { compileFastMatcher, type Intent } from '../../node/agentspec/index.js';
import {
  DEBIAN_MODEL_DIR,
  DEFAULT_TOPN,
  grammarDictionary,
  jsgfToFsg,
  loadDictionary,
  PhraseRecogniser,
  type PhraseTranscript,
} from '../../node/stt/index.js';
import { loadTestManifests, TEST_ROOMS } from '../../test/stt/manifests.js';
import { speakAll } from '../../test/stt/speech.js';
import { peer, plainPipeline, SELF } from '../../test/pipeline/support/plain.js';
import { FOLLOWUP_MANIFEST } from '../../node/pipeline/index.js';
import {
  nonSpeech,
  SETS,
  TUNING_NOT_COMMANDS,
  withNoise,
  type Meaning,
  type Said,
} from './phrase-sets.js';

const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    sets: { type: 'string', default: SETS.map((s) => s.name).join(',') },
    'per-phrase': { type: 'string', default: '1' },
    runs: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
    /** the recogniser's minMargin (default its own); -1e9 measures the margin without refusing */
    'min-margin': { type: 'string' },
    /** every utterance's outcome, fit and margin as JSON lines (for choosing thresholds on the tuning set) */
    dump: { type: 'string' },
    'min-word-margin': { type: 'string' },
    /** the recogniser's minRoomlessLead (default its own); -Infinity turns the room check off */
    'min-roomless-lead': { type: 'string' },
    /** refuse lights commands without a room (stt.roomless = false; the daemon's default hears them) */
    'required-rooms': { type: 'boolean', default: false },
    /**
     * leave the follow-up phrases ("turn them off", "cancel it", an answer such as "off") out of
     * the grammar; the daemon's grammar has them (voice.context_ttl_s > 0), and so does the bench
     * by default, where a follow-up heard counts as a wrong action (it acts when a context is
     * there)
     */
    'no-followups': { type: 'boolean', default: false },
    /** decode with pocketsphinx's own expansion of the JSGF (minimalGrammar: false), as before 2026-12-05 */
    jsgf: { type: 'boolean', default: false },
  },
});

type Outcome = 'right' | 'refused' | 'wrong';
const key = (m: Meaning) =>
  `${m.agent}.${m.intent} ${JSON.stringify(Object.fromEntries(Object.entries(m.args).sort()))}`;

function outcome(meant: Meaning | null, heard: PhraseTranscript): Outcome {
  if (!heard.interpretation) return 'refused';
  return meant && key(meant) === key(heard.interpretation) ? 'right' : 'wrong';
}

const manifests = [...loadTestManifests(), ...(args['no-followups'] ? [] : [FOLLOWUP_MANIFEST])];
const slotValues = { 'lights.rooms': TEST_ROOMS };
const recogniser = await PhraseRecogniser.create({
  manifests,
  slotValues,
  pocketsphinx: { timeoutMs: 3_600_000 },
  ...(args['min-margin'] !== undefined ? { minMargin: Number(args['min-margin']) } : {}),
  ...(args['min-word-margin'] !== undefined
    ? { minWordMargin: Number(args['min-word-margin']) }
    : {}),
  optionalEnumSlots: !args['required-rooms'],
  minimalGrammar: !args.jsgf,
  ...(args['min-roomless-lead'] !== undefined
    ? { minRoomlessLead: Number(args['min-roomless-lead']) }
    : {}),
});
const dump: string[] = [];

interface SetReport {
  name: string;
  heldOut: boolean;
  voices: string[];
  speeds: number[];
  utterances: number;
  commands: { n: number; right: number; refused: number; wrong: number };
  notCommands: { n: number; actions: number };
  /** of the wrong actions and the non-commands acted on, those heard as follow-ups */
  followUps: number;
  wrong: string[];
  actedOnNonCommands: string[];
  refusals: Record<string, number>;
}

const pct = (x: number, n: number) => (n ? (100 * x) / n : 0);
const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

try {
  const wanted = args.sets.split(',');
  const unknown = wanted.filter((w) => !SETS.some((s) => s.name === w));
  if (unknown.length)
    throw new Error(
      `unknown set ${unknown.join(', ')}; sets: ${SETS.map((s) => s.name).join(', ')}`,
    );
  const reports: SetReport[] = [];
  const allAudio: Int16Array[] = [];
  for (const set of SETS.filter((s) => wanted.includes(s.name))) {
    let spoken: {
      item: Said;
      text: string;
      voice: string;
      speed: number;
      pitch: number;
      pcm: Int16Array;
    }[];
    if (set.sentences === 'grammar-samples') {
      const items: Said[] = [
        ...recogniser.grammar
          .samples(Number(args['per-phrase']))
          .map((c) => ({ text: c.text, meaning: c as Meaning })),
        ...TUNING_NOT_COMMANDS,
      ];
      spoken = await speakAll(items, set.voices, set.speeds);
    } else if (set.once) {
      // each sentence once, voices and speeds in turn; then the sounds that are not speech
      spoken = [];
      for (const [i, item] of set.sentences.entries()) {
        const voice = set.voices[i % set.voices.length]!;
        const speed = set.speeds[Math.floor(i / set.voices.length) % set.speeds.length]!;
        const pitch = set.pitches?.[i % set.pitches.length];
        spoken.push(...(await speakAll([item], [voice], [speed], pitch ? [pitch] : undefined)));
      }
      for (const sound of nonSpeech())
        spoken.push({
          item: { text: `(${sound.name})`, meaning: null },
          text: `(${sound.name})`,
          voice: 'none',
          speed: 0,
          pitch: 50,
          pcm: sound.pcm,
        });
    } else {
      spoken = await speakAll(set.sentences, set.voices, set.speeds, set.pitches);
    }
    if (set.noiseSnrDb !== undefined) {
      const snr = set.noiseSnrDb;
      spoken = spoken.map((s, i) => (i % 2 ? { ...s, pcm: withNoise(s.pcm, snr, i) } : s));
    }
    const heard = await recogniser.recogniseMany(spoken.map((s) => s.pcm));
    const r: SetReport = {
      name: set.name,
      heldOut: set.heldOut,
      voices: set.voices,
      speeds: set.speeds,
      utterances: spoken.length,
      commands: { n: 0, right: 0, refused: 0, wrong: 0 },
      notCommands: { n: 0, actions: 0 },
      followUps: 0,
      wrong: [],
      actedOnNonCommands: [],
      refusals: {},
    };
    spoken.forEach((s, i) => {
      const h = heard[i]!;
      const o = outcome(s.item.meaning, h);
      if (h.rejected) r.refusals[h.rejected] = (r.refusals[h.rejected] ?? 0) + 1;
      dump.push(
        JSON.stringify({
          set: set.name,
          voice: s.voice,
          speed: s.speed,
          said: s.text,
          command: s.item.meaning !== null,
          outcome: o,
          heard: h.votes[0],
          withRoom: h.withRoom,
          rejected: h.rejectedDetail ?? null,
          fit: h.fit,
          margin: h.margin,
          wordMargin: h.wordMargin,
          words: h.words.map((w) => [w.word, w.margin === undefined ? null : +w.margin.toFixed(1)]),
          meant: s.item.meaning ? s.item.meaning.args : null,
          got: h.interpretation?.args ?? null,
        }),
      );
      if (o === 'wrong' && h.interpretation?.agent === FOLLOWUP_MANIFEST.name) r.followUps++;
      const where = `${s.voice}@${s.speed}${s.pitch !== 50 ? ` p${s.pitch}` : ''} "${s.text}" -> "${h.interpretation ? h.text : h.rejected}"`;
      if (s.item.meaning) {
        r.commands.n++;
        r.commands[o]++;
        if (o === 'wrong') r.wrong.push(where);
      } else {
        r.notCommands.n++;
        if (h.interpretation) {
          r.notCommands.actions++;
          r.actedOnNonCommands.push(where);
        }
      }
    });
    reports.push(r);
    allAudio.push(...spoken.filter((s) => s.item.meaning).map((s) => s.pcm));
    if (!args.json) printSet(r);
  }

  if (args.dump) await writeFile(args.dump, dump.join('\n') + '\n');

  // latency on commands of the sets run: bare decode, recogniser, end of speech -> action
  const dir = await mkdtemp(join(tmpdir(), 'helix-bench-ps-'));
  const engineMs: number[] = [];
  const recogniserMs: number[] = [];
  const actionMs: number[] = [];
  const acted: Intent[] = [];
  let actionAt = 0;
  const { pipeline } = plainPipeline({
    view: () => [peer(SELF, { self: true, stt: true })],
    stt: recogniser,
    fastMatcher: compileFastMatcher(manifests, slotValues),
    runIntent: (intent) => {
      actionAt = performance.now();
      acted.push(intent);
      return (async function* () {
        yield { type: 'result' as const, text: 'Done.', data: null, hostName: SELF };
      })();
    },
  });
  try {
    // the bare decode searches the grammar in the form the recogniser does
    const grammarArgs = args.jsgf ? ['-jsgf', join(dir, 'g.jsgf')] : ['-fsg', join(dir, 'g.fsg')];
    await writeFile(
      join(dir, args.jsgf ? 'g.jsgf' : 'g.fsg'),
      args.jsgf ? recogniser.grammar.jsgf : jsgfToFsg(recogniser.grammar.jsgf),
    );
    const dictionary = await loadDictionary(join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict'));
    await writeFile(join(dir, 'g.dict'), grammarDictionary(recogniser.grammar.jsgf, dictionary));
    const runs = Math.min(Number(args.runs), allAudio.length);
    for (let i = 0; i < runs; i++) {
      const pcm = allAudio[Math.floor((i * allAudio.length) / runs)]!;
      await writeFile(join(dir, 'u.raw'), pcm);
      await writeFile(join(dir, 'ctl'), 'u\n');
      let t = performance.now();
      await run('pocketsphinx_batch', [
        ...['-ctl', join(dir, 'ctl'), '-cepdir', dir, '-cepext', '.raw', '-adcin', 'yes'],
        ...['-adchdr', '0', '-hmm', join(DEBIAN_MODEL_DIR, 'en-us'), '-dict', join(dir, 'g.dict')],
        ...grammarArgs,
        ...['-topn', String(DEFAULT_TOPN), '-hyp', join(dir, 'hyp')],
        ...['-logfn', '/dev/null'],
      ]);
      engineMs.push(performance.now() - t);
      t = performance.now();
      await recogniser.transcribe(pcm);
      recogniserMs.push(performance.now() - t);
      // the end of speech is when the segmenter hands the utterance over
      const end = Date.now();
      const before = acted.length;
      t = performance.now();
      await pipeline.handleUtterance(pcm, {
        source: 'mic',
        capture: { speechStartAt: end - pcm.length / 16, speechEndAt: end, detail: 'bench' },
      });
      if (acted.length > before) actionMs.push(actionAt - t);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const latency = {
    runs: engineMs.length,
    engine: { p50: q(engineMs, 0.5), p95: q(engineMs, 0.95) },
    recogniser: { p50: q(recogniserMs, 0.5), p95: q(recogniserMs, 0.95) },
    recogniserVsEngineP50: q(recogniserMs, 0.5) / q(engineMs, 0.5),
    action: { n: actionMs.length, p50: q(actionMs, 0.5), p95: q(actionMs, 0.95) },
    actionVsRecogniserP50: q(actionMs, 0.5) / q(recogniserMs, 0.5),
    actionMinusRecogniserP50Ms: q(actionMs, 0.5) - q(recogniserMs, 0.5),
  };
  if (args.json) {
    console.log(JSON.stringify({ sets: reports, latency }, null, 2));
  } else if (latency.runs === 0) {
    console.log('no commands in these sets: latency not measured');
  } else {
    const l = latency;
    console.log(
      `per utterance (${l.runs} commands): bare decode p50 ${l.engine.p50.toFixed(0)} ms; recogniser p50 ${l.recogniser.p50.toFixed(0)} ms p95 ${l.recogniser.p95.toFixed(0)} ms (${l.recogniserVsEngineP50.toFixed(2)}x the bare decode; aim p50 <= 250 ms on a quiet machine)`,
    );
    console.log(
      `end of speech -> action (${l.action.n} acted): p50 ${l.action.p50.toFixed(0)} ms p95 ${l.action.p95.toFixed(0)} ms = ${l.actionVsRecogniserP50.toFixed(3)}x the recogniser, recogniser + ${l.actionMinusRecogniserP50Ms.toFixed(0)} ms (aim: + 30 ms or less)`,
    );
  }
} finally {
  await recogniser.close();
}

function printSet(r: SetReport): void {
  const c = r.commands;
  const tag = r.heldOut ? 'HELD OUT (never tuned on)' : 'TUNING (settings chosen on it)';
  console.log(
    `${r.name}: ${tag}; voices ${r.voices.join(', ')} at ${r.speeds.join('/')} wpm; ${r.utterances} utterances`,
  );
  if (c.n)
    console.log(
      `  commands ${c.n}: right ${pct(c.right, c.n).toFixed(1)} %  refused ${pct(c.refused, c.n).toFixed(1)} %  wrong ${pct(c.wrong, c.n).toFixed(1)} %   (aim >= 90 % right, <= 1 % wrong)`,
    );
  if (r.notCommands.n)
    console.log(`  not commands ${r.notCommands.n}: acted on ${r.notCommands.actions}   (aim 0)`);
  if (r.followUps)
    console.log(
      `  of the actions above, ${r.followUps} heard as follow-ups (they act only with a context, or a question, waiting)`,
    );
  for (const w of r.wrong) console.log(`  wrong: ${w}`);
  for (const w of r.actedOnNonCommands) console.log(`  acted on a non-command: ${w}`);
  const top = Object.entries(r.refusals).sort((a, b) => b[1] - a[1]);
  for (const [said, n] of top.slice(0, 6)) console.log(`  refused ${n}x: ${said}`);
}
