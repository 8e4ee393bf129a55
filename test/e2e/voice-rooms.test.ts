/**
 * Many mics in a home, on three real daemons in network namespaces (issue 10, "Tests on real
 * parts"): every node has a mic and voice.enabled; the same espeak-ng sentence reaches the three
 * mics at different gains (1, 0.5, 0.25: the nearest is loudest) and 0-80 ms apart, over a quiet
 * noise floor, 20 times, the nearest mic rotating. What a user would see is asserted: at the
 * real mosquitto broker exactly one light message per sentence, for the room of the mic that
 * heard it best ("turn on the lights" names no room), and the trace names that mic. Then a
 * follow-up ("turn them off") heard best by another node of the same room switches off the
 * lights of the command before it.
 *
 *   room-a  kitchen (helix.toml node.room); no STT, no Docker: streams its audio to room-b
 *   room-b  kitchen (the mesh setting nodes.<id>.room, `helix-node node room`); the phrase
 *           recogniser (pocketsphinx)
 *   room-c  hall (helix.toml node.room); the agent host: a private dockerd (warm `lights`) and
 *           Debian's mosquitto on its loopback, watched by mosquitto_sub
 *
 * The mics: no sound card can run in a namespace, so each daemon's `arecord` is
 * test/e2e/fake-arecord.mjs (arecord's wire format, real-time 16 kHz S16_LE); the test drops the
 * sentence, scaled, into each mic's folder with the wall-clock instant it is heard at.
 * Opt-in: HELIX_SLOW_TESTS=1 (see `optIn`). Bounded: set-up at most 150 s, each sentence at most 11 s (speech, 500 ms of silence,
 * transcription, the run, then 800 ms to catch a second actor); afterAll stops the daemons, the
 * subscriber, the broker and the engine, and the harness removes the namespaces.
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { controlCall, type SettingsList } from '../../node/control/index.js';
import type { Trace } from '../../node/pipeline/index.js';
import { readWavFile, type Pcm16 } from '../../node/voice/index.js';
import { MeshHarness } from '../harness/index.js';
import { startDockerd, type PrivateDockerd } from '../support/docker.js';
import { sharedFile } from '../voice/shared-data.js';
import { AGENT_HOST_BINS, missingFor, secs } from '../mesh/helpers.js';
import { MQTT_PORT, MqttWatch, makeUtterance, startBroker } from './lab.js';

const SUBNET = '100.64.101';
const NAMES = ['room-a', 'room-b', 'room-c'] as const;
const A = 0;
const B = 1;
const C = 2;
const ROOM = ['kitchen', 'kitchen', 'hall'] as const;
const LIGHT_OF: Record<string, string> = { kitchen: 'kitchen_ceiling', hall: 'hall_lamp' };
const topicOf = (room: string) => `zigbee2mqtt/${LIGHT_OF[room]}/set`;
const TRIALS = 20;
const SILENCE_MS = 500;
/** the nearest mic hears the sentence at gain 1, the others at these */
const FARTHER = [0.5, 0.25];
const SILERO = sharedFile('for-tests-silero-v6.2.0-ggml.bin');
const FAKE_ARECORD = path.resolve('test/e2e/fake-arecord.mjs');

/**
 * Opt-in (HELIX_SLOW_TESTS=1): about 2 minutes of real time for 20 sentences on three daemons,
 * and on a loaded 2-core machine the late mics' announcements miss the window (18 of 20 loudest
 * in CI here), so it is run by hand and in `npm run test:slow`, not in every CI run.
 */
const optIn = process.env.HELIX_SLOW_TESTS === '1' ? null : 'slow: set HELIX_SLOW_TESTS=1';

const missing =
  optIn ??
  (SILERO ? null : 'needs ../shared/data/for-tests-silero-v6.2.0-ggml.bin') ??
  missingFor([
    ...AGENT_HOST_BINS,
    ['mosquitto_sub', ['--help']],
    ['stdbuf', ['--version']],
    ['espeak-ng', ['--version']],
    ['sox', ['--version']],
    ['pocketsphinx_batch', []],
  ]);

interface PeerFacts {
  name: string;
  state: string;
  capabilities: { mic: unknown; stt: unknown; docker: unknown };
  warmPool?: Array<{ agent: string; idle: number }>;
}

/** A small deterministic generator for the offsets (the same trials every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

function scaled(pcm: Pcm16, gain: number): Buffer {
  const out = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++)
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(pcm[i]! * gain))), i * 2);
  return out;
}

describe.skipIf(missing !== null)(
  `many mics in three rooms' nodes${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let dir = '';
    let mesh: MeshHarness;
    let dockerd: PrivateDockerd | null = null;
    let broker: ChildProcess | null = null;
    let watch: MqttWatch | null = null;
    const micDir = (i: number) => path.join(dir, `mic-${i}`);
    const speech: Record<string, Pcm16> = {};

    /** The sentence at every mic: gain per node, heard `offsets[i]` ms after `at`. */
    function say(text: string, gains: readonly number[], offsets: readonly number[], at: number) {
      const pcm = speech[text]!;
      gains.forEach((g, i) => {
        const file = path.join(micDir(i), `${Math.round(at + offsets[i]!)}.raw`);
        writeFileSync(`${file}.tmp`, scaled(pcm, g));
        renameSync(`${file}.tmp`, file);
      });
    }

    /** Node i's own newest trace (a command it acted on), or null before its first. */
    async function ownTrace(i: number): Promise<Trace | null> {
      try {
        return await controlCall<Trace>(mesh.info(i).stateDir, '/v1/trace?last=mine', {
          timeoutMs: 5000,
        });
      } catch {
        return null;
      }
    }

    const ownIds = async () =>
      Promise.all([A, B, C].map(async (i) => (await ownTrace(i))?.traceId));

    /**
     * Every node that ran the intent of a sentence since `before` (their own newest trace ids
     * then; a node that yielded late has a trace, but no run in it): waits
     * until one has, then `settleMs` more for a second one (the others decide within 150 ms of
     * their end of speech, so a second actor would have finished by then too).
     */
    async function actedSince(
      before: readonly (string | undefined)[],
      { timeoutMs, settleMs, quietMs }: { timeoutMs: number; settleMs: number; quietMs: number },
    ): Promise<{ node: string; trace: Trace }[]> {
      const deadline = Date.now() + timeoutMs;
      // no control-socket calls while the mics hear the sentence and the nodes arbitrate
      await new Promise((r) => setTimeout(r, quietMs));
      let settleUntil = Infinity;
      for (;;) {
        const now = await Promise.all([A, B, C].map((i) => ownTrace(i)));
        // acted: ran the intent (a mic that yielded late to a better one has no run hop)
        const acted = now.flatMap((t, i) =>
          t && t.traceId !== before[i] && t.hops.some((h) => h.stage === 'run')
            ? [{ node: NAMES[i]!, trace: t }]
            : [],
        );
        if (acted.length > 0 && settleUntil === Infinity) settleUntil = Date.now() + settleMs;
        if (Date.now() >= Math.min(deadline, settleUntil)) return acted;
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    /** From now until the mics' end of speech has been detected and arbitrated (ms). */
    const quietFor = (text: string) => 150 + speech[text]!.length / 16 + SILENCE_MS + 300;

    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'helix-room-'));
      chmodSync(dir, 0o755); // mosquitto drops to its own user and reads its config here
      const bin = path.join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(FAKE_ARECORD, path.join(bin, 'arecord'));
      chmodSync(FAKE_ARECORD, 0o755);
      for (const i of [A, B, C]) mkdirSync(micDir(i));
      for (const text of ['turn on the lights', 'turn them off']) {
        const u = await makeUtterance(dir, text, { leadS: 0.05, tailS: 0.05 });
        speech[text] = (await readWavFile(u.path)).pcm;
      }
      const noDocker = { docker_socket: path.join(dir, 'no-docker.sock') };
      mesh = new MeshHarness({
        nodes: 3,
        subnet: SUBNET,
        statusVia: 'control',
        logLevel: 'info',
        config: {
          lights: { rooms: { kitchen: [LIGHT_OF.kitchen!], hall: [LIGHT_OF.hall!] } },
          // a loaded two-core CI machine: a slow probe or a late heartbeat must not take the STT
          // node out of the mesh's view in the middle of the trials (that is not what is tested)
          capabilities: { probe_timeout_ms: 20_000 },
          membership: { heartbeat_ms: 1000, suspect_after_ms: 10_000, dead_after_ms: 30_000 },
          voice: {
            enabled: true,
            device: 'helix-test-mic',
            tts: 'none',
            vad_model: SILERO!,
            silence_ms: SILENCE_MS,
          },
        },
        node: [
          {
            name: NAMES[A],
            config: {
              node: { room: ROOM[A] },
              stt: { engine: 'none' },
              capabilities: noDocker,
            },
          },
          {
            name: NAMES[B],
            config: {
              stt: { engine: 'phrase' },
              capabilities: noDocker,
            },
          },
          {
            name: NAMES[C],
            config: {
              node: { room: ROOM[C] },
              stt: { engine: 'none' },
              capabilities: {
                docker_socket: path.join(dir, 'dockerd', 'docker.sock'),
              },
              mqtt: { url: `mqtt://127.0.0.1:${MQTT_PORT}` },
            },
          },
        ],
      });
      const started = Date.now();
      try {
        await mesh.start();
        for (const i of [A, B, C]) {
          const env = mesh.info(i).env;
          env.PATH = `${bin}:${env.PATH ?? ''}`;
          env.HXT_MIC_DIR = micDir(i);
          env.HXT_MIC_SEED = String(17 + i);
        }
        dockerd = await startDockerd(path.join(dir, 'dockerd'), {
          netns: mesh.info(C).namespace,
          timeoutMs: 45_000,
        });
        broker = await startBroker(mesh, C, dir);
        watch = await MqttWatch.start(mesh, C, 'zigbee2mqtt/#');
        mesh.startNode(A);
        await mesh.waitForStatus(A, { timeoutMs: 30_000, intervalMs: 200 });
        mesh.startNode(B);
        mesh.startNode(C);
        await mesh.waitFor(
          async () => {
            for (const i of [A, B, C]) mesh.requireRunning(i);
            const problems: string[] = [];
            for (const i of [A, B, C]) {
              const view = await mesh.status(i);
              const by = new Map(view.nodes.map((n) => [n.name, n as unknown as PeerFacts]));
              for (const n of NAMES) {
                const p = by.get(n);
                if (p?.state !== 'alive')
                  problems.push(`${NAMES[i]} sees ${n} ${p?.state ?? 'absent'}`);
                else if (!p.capabilities.mic) problems.push(`${NAMES[i]} sees no mic on ${n}`);
              }
              if (!by.get(NAMES[B])?.capabilities.stt) problems.push('room-b has no STT yet');
              if (!by.get(NAMES[C])?.warmPool?.some((w) => w.agent === 'lights' && w.idle > 0))
                problems.push('room-c has no idle warm lights container yet');
            }
            if (problems.length) throw new Error(problems.join('; '));
            return true;
          },
          { timeoutMs: 80_000, intervalMs: 300, what: 'the three rooms to be ready' },
        );
        // room-b's room is the mesh setting (`helix-node node room`), not helix.toml
        const set = await mesh.cli(A, ['node', 'room', NAMES[B], ROOM[B]]);
        expect(set.code, set.stderr).toBe(0);
        await mesh.waitFor(
          async () => {
            const { settings } = await controlCall<SettingsList>(
              mesh.info(B).stateDir,
              '/v1/settings',
              {
                timeoutMs: 5000,
              },
            );
            if (!settings.some((e) => /^nodes\..+\.room$/.test(e.key) && e.value === ROOM[B]))
              throw new Error('room-b does not hold its room yet');
            return true;
          },
          { timeoutMs: 15_000, intervalMs: 300, what: "room-b's room setting" },
        );
      } catch (err) {
        mesh?.printLogs({ tailLines: 40 });
        throw err;
      }
      console.log(
        `[rooms] three nodes with mics, dockerd, broker, warm lights ready in ${secs(Date.now() - started)}`,
      );
    }, 150_000);

    afterEach((ctx) => {
      if (ctx.task.result?.state === 'fail') mesh?.printLogs({ tailLines: 60 });
    });

    afterAll(async () => {
      if (mesh) {
        await Promise.all(
          mesh.runningNodes().map(async (i) => {
            mesh.kill(i, 'SIGTERM');
            if ((await mesh.exited(i, { timeoutMs: 15_000 })) === 'timeout') {
              mesh.kill(i, 'SIGKILL');
              await mesh.exited(i, { timeoutMs: 5000 });
            }
          }),
        );
      }
      await watch?.stop().catch(() => undefined);
      if (broker && broker.exitCode === null) {
        const exited = new Promise((resolve) => broker!.once('exit', resolve));
        broker.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (broker.exitCode === null) broker.kill('SIGKILL');
      }
      await dockerd?.stop().catch(() => undefined);
      await mesh?.cleanup();
      if (dir && process.env.HXT_KEEP !== '1') {
        try {
          rmSync(dir, { recursive: true, force: true });
        } catch (err) {
          console.error(`could not remove ${dir}: ${(err as Error).message}`);
        }
      }
    }, 60_000);

    it('20 sentences heard by three mics: one node acts on each, the loudest, with one light message for its room', async () => {
      const random = rng(10);
      const rows: {
        loudest: string;
        acted: string[];
        replies: string[];
        /** what each acting node's arbitration saw: the mics and their SNR, best first */
        heardBy: string[];
        from: number;
        messages: string[];
        offsets: number[];
      }[] = [];
      const started = Date.now();
      for (let t = 0; t < TRIALS; t++) {
        const loudest = t % 3;
        const gains = [0, 1, 2].map((i) =>
          i === loudest ? 1 : FARTHER[(i - loudest + 2) % 3 === 0 ? 0 : 1]!,
        );
        const offsets = [0, 1, 2].map(() => Math.round(random() * 80));
        const from = watch!.messages.length;
        const before = await ownIds();
        say('turn on the lights', gains, offsets, Date.now() + 150);
        const acted = await actedSince(before, {
          timeoutMs: 10_000,
          settleMs: 800,
          quietMs: quietFor('turn on the lights'),
        });
        rows.push({
          loudest: NAMES[loudest]!,
          acted: acted.map((a) => a.node),
          replies: acted.map((a) => `${a.node}: ${a.trace.reply}`),
          heardBy: acted.map(
            (a) =>
              `${a.node} heard by ${(a.trace.heardBy ?? []).map((h) => `${h.node.slice(-6)} ${h.room ?? ''} ${h.snrDb.toFixed(1)} dB`).join(', ')}`,
          ),
          from,
          messages: [],
          offsets,
        });
      }
      // a late second message of the last sentence would show now
      await new Promise((r) => setTimeout(r, 1000));
      rows.forEach((r, i) => {
        const to = rows[i + 1]?.from ?? watch!.messages.length;
        r.messages = watch!.messages.slice(r.from, to).map((m) => m.topic);
      });
      const perSentence = rows.map((r) => r.messages.length);
      const wins = rows.filter((r) => r.acted.length === 1 && r.acted[0] === r.loudest).length;
      console.log(
        `[rooms] ${TRIALS} sentences in ${secs(Date.now() - started)}: the loudest mic alone acted in ${wins}; ` +
          `light messages per sentence ${perSentence.join(' ')}; ` +
          rows
            .map((r) => `${r.loudest}->${r.acted.join('+') || 'none'} [${r.offsets.join(',')}]`)
            .join(' '),
      );
      const failed = rows.flatMap((r) => r.replies).filter((x) => !/^room-.: Turned on/.test(x));
      if (failed.length) console.log(`[rooms] replies that did not switch: ${failed.join(' | ')}`);
      const lost = rows.filter((r) => r.acted.length !== 1 || r.acted[0] !== r.loudest);
      if (lost.length)
        console.log(
          `[rooms] not the loudest alone: ${lost.map((r) => `${r.loudest}: ${r.heardBy.join('; ') || 'none acted'}`).join(' | ')}`,
        );
      // exactly one node acted on each sentence, and one light message reached the broker
      expect(rows.map((r) => r.acted.length)).toEqual(rows.map(() => 1));
      expect(perSentence).toEqual(rows.map(() => 1));
      expect(wins).toBeGreaterThanOrEqual(TRIALS - 1);
      // room-aware: the one message is for the light of the room whose mic acted
      for (const r of rows) {
        const room = ROOM[NAMES.indexOf(r.acted[0] as (typeof NAMES)[number])]!;
        expect(r.messages).toEqual([topicOf(room)]);
      }
      // a trace says where its room came from and who heard it
      const trace = (await ownTrace(
        NAMES.indexOf(rows.at(-1)!.acted[0] as (typeof NAMES)[number]),
      ))!;
      expect(trace.room).toMatchObject({ from: 'mic' });
      expect(trace.heardBy?.map((h) => h.node).sort()).toEqual([...NAMES].sort());
    }, 300_000);

    it('a follow-up heard best by another node of the room acts on the lights of the command before', async () => {
      await new Promise((r) => setTimeout(r, 1000)); // the last trial's command is done
      const from = watch!.messages.length;
      // "turn on the lights", nearest room-a: the kitchen
      let before = await ownIds();
      say('turn on the lights', [1, 0.5, 0.25], [40, 0, 80], Date.now() + 150);
      const firstActed = await actedSince(before, {
        timeoutMs: 10_000,
        settleMs: 800,
        quietMs: quietFor('turn on the lights'),
      });
      expect(firstActed.map((a) => a.node)).toEqual([NAMES[A]]);
      const first = firstActed[0]!.trace;
      expect(first.ok, first.reply).toBe(true);
      expect(first.room).toMatchObject({ name: 'kitchen', from: 'mic' });
      // the follow-up is heard best by room-b, which did not act on the first
      before = await ownIds();
      say('turn them off', [0.5, 1, 0.25], [0, 60, 20], Date.now() + 150);
      const acted = await actedSince(before, {
        timeoutMs: 10_000,
        settleMs: 800,
        quietMs: quietFor('turn them off'),
      });
      expect(acted.map((a) => a.node)).toEqual([NAMES[B]]);
      const next = acted[0]!.trace;
      expect(next.ok, next.reply).toBe(true);
      expect(next.intent).toMatchObject({
        agent: 'lights',
        intent: 'off',
        args: { room: 'kitchen' },
      });
      expect(next.context).toMatchObject({ node: NAMES[A], traceId: first.traceId, from: 'room' });
      expect(next.room).toMatchObject({ name: 'kitchen', from: 'context' });
      const messages = watch!.messages.slice(from);
      expect(messages.map((m) => m.topic)).toEqual([topicOf('kitchen'), topicOf('kitchen')]);
      expect(JSON.parse(messages[1]!.payload)).toMatchObject({ state: 'OFF' });
    }, 60_000);
  },
);
