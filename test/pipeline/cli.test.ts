/**
 * The voice commands end to end through the control socket: a commander program with
 * registerVoiceCommands talks to a ControlServer with registerVoiceControlRoutes, whose pipeline
 * makes real gRPC hops (support/mesh.ts). Output is captured from process.stdout/stderr.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { findOnPath } from '../../node/capabilities/index.js';
import { registerVoiceCommands } from '../../node/cli/commands/voice.js';
import { ControlServer, controlSocketPath } from '../../node/control/index.js';
import { silentLogger } from '../../node/log.js';
import { registerVoiceControlRoutes } from '../../node/control/routes/index.js';
import { encodeWav16, int16ToFloat } from '../../node/voice/index.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import { HOST, meshSecret, tempDir } from './support/net.js';
import { speech, startMesh, type TestMesh } from './support/mesh.js';
import { freePort } from '../support/ports.js';

const espeak = await findOnPath('espeak-ng');

interface Run {
  code: number;
  out: string;
  err: string;
  error?: Error;
}

describe.skipIf(!espeak)(
  'helix-node say | transcribe | listen | trace | models (needs espeak-ng)',
  () => {
    const state = tempDir('voice-cli');
    let fake: FakeOllama;
    let mesh: TestMesh;
    let control: ControlServer;
    let wav = '';

    async function cli(...args: string[]): Promise<Run> {
      const program = new Command('helix-node')
        .option('--state-dir <dir>')
        .option('--config <file>')
        .option('--json')
        .option('--no-color')
        .option('--log-level <level>')
        .exitOverride();
      registerVoiceCommands(program);
      let out = '';
      let err = '';
      const o = vi
        .spyOn(process.stdout, 'write')
        .mockImplementation((s) => ((out += String(s)), true));
      const e = vi
        .spyOn(process.stderr, 'write')
        .mockImplementation((s) => ((err += String(s)), true));
      process.exitCode = undefined;
      let error: Error | undefined;
      try {
        await program.parseAsync([
          'node',
          'helix-node',
          '--state-dir',
          state.dir,
          '--no-color',
          ...args,
        ]);
      } catch (x) {
        error = x as Error;
      } finally {
        o.mockRestore();
        e.mockRestore();
      }
      const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
      process.exitCode = undefined;
      return { code, out, err, error };
    }

    beforeAll(async () => {
      fake = await startFakeOllama({ models: [{ name: 'llama3:latest', loaded: true }] });
      mesh = await startMesh({
        secret: meshSecret(),
        hosts: { kitchen: HOST, desk: '127.0.6.2', laptop: '127.0.6.3' },
        ports: { kitchen: await freePort(), desk: await freePort(), laptop: await freePort() },
        ollamaUrl: fake.url,
      });
      const pcm = await speech('turn on the kitchen lights');
      mesh.engine.learn(pcm, 'turn on the kitchen lights');
      wav = path.join(state.dir, 'kitchen.wav');
      writeFileSync(wav, encodeWav16(int16ToFloat(pcm), 16000));
      control = new ControlServer(controlSocketPath(state.dir), silentLogger);
      registerVoiceControlRoutes(control, {
        pipeline: mesh.pipeline(),
        traces: mesh.traces,
        selfId: mesh.kitchen.id,
        voice: null,
        routerModel: 'llama3',
      });
      // the part of `status` that `models` reads: the mesh view
      control.route('GET', '/v1/status', async () => ({ nodes: mesh.view }));
      await control.start();
    });
    afterAll(async () => {
      await control?.stop();
      await mesh?.stop();
      await fake?.close();
      state.remove();
    });
    afterEach(() => {
      process.exitCode = undefined;
    });

    it('say runs the command and prints the reply, with every hop on stderr', async () => {
      const r = await cli('say', 'turn', 'on', 'the', 'kitchen', 'lights');
      expect(r.error).toBeUndefined();
      expect(r.code).toBe(0);
      expect(r.out).toBe('lights.on {"room":"kitchen"}\n');
      expect(r.err).toMatch(/ok {2}intent +pi-kitchen .*fast matcher/);
      expect(r.err).toMatch(/ok {2}run +laptop/);
      expect(r.err).toMatch(/trace [0-9a-f]{16}/);
    });

    it('say exits 1 and prints what went wrong when the command is not understood', async () => {
      fake.scriptChat({
        content: JSON.stringify({ agent: 'none', intent: 'none', args: {}, confidence: 0.1 }),
      });
      const r = await cli('say', 'blorp', 'the', 'frobnicator');
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/^I didn't catch that: 'blorp the frobnicator'/);
    });

    it('trace shows every hop of the last command, and finds a trace by its first characters', async () => {
      const said = await cli('--json', 'say', 'turn off the bedroom lights');
      const result = JSON.parse(said.out.trim().split('\n').at(-1)!) as {
        traceId: string;
        ok: boolean;
      };
      expect(result.ok).toBe(true);

      const last = await cli('trace', '--last');
      expect(last.out).toContain(`trace ${result.traceId}  owner pi-kitchen  text`);
      expect(last.out).toMatch(/STAGE +NODE +START +DURATION/);
      expect(last.out).toMatch(/\nintent +pi-kitchen +[\d.]+ ms +[\d.]+ ms +ok +fast matcher/);
      expect(last.out).toMatch(/\nrun +laptop +/);

      const byPrefix = await cli('--json', 'trace', result.traceId.slice(0, 6));
      expect(JSON.parse(byPrefix.out)).toMatchObject({ traceId: result.traceId, ok: true });

      const missing = await cli('trace', 'ffffffffffff');
      expect(missing.error?.message).toMatch(/no trace ffffffffffff on this node/);
    });

    it('transcribe sends a WAV file to the named node and prints the transcript', async () => {
      const r = await cli('transcribe', wav, '--on', 'desk');
      expect(r.code).toBe(0);
      expect(r.out).toBe('turn on the kitchen lights\n');
      expect(r.err).toMatch(/ok {2}stt +desk/);

      const json = await cli('--json', 'transcribe', wav);
      const lines = json.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.at(-1)).toMatchObject({
        type: 'result',
        ok: true,
        node: 'desk',
        transcript: 'turn on the kitchen lights',
        language: 'en',
      });
    });

    it('transcribe says clearly when the file is not there', async () => {
      const r = await cli('transcribe', path.join(state.dir, 'nope.wav'));
      expect(r.error?.message).toMatch(/cannot read audio file .*nope\.wav: no such file/);
    });

    // issue 11: /dev/zero grew the daemon without bound, a FIFO held a file thread, a
    // directory gave a raw EISDIR; each is refused at once now, saying what it is.
    it('transcribe refuses a directory, /dev/zero and a FIFO at once, saying what each is', async () => {
      const fifo = path.join(state.dir, 'audio.fifo');
      execFileSync('mkfifo', [fifo]);
      const started = Date.now();
      for (const [file, kind] of [
        [state.dir, 'a directory'],
        ['/dev/zero', 'a character device'],
        [fifo, 'a FIFO \\(named pipe\\)'],
      ] as const) {
        const r = await cli('transcribe', file);
        expect((r.error as { exitCode?: number } | undefined)?.exitCode).toBe(65);
        expect(r.error?.message).toMatch(
          new RegExp(`is ${kind}, not a regular file; pass a WAV file of the utterance`),
        );
      }
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('listen --once on a node that does not listen says how to turn the mic on', async () => {
      const r = await cli('listen', '--once');
      expect(r.error?.message).toMatch(/set voice\.enabled = true/);
      const usage = await cli('listen');
      expect(usage.error?.message).toMatch(/helix-node listen --once/);
    });

    it('models list shows what can be pulled; pull offline fails at once saying so', async () => {
      const list = await cli('--json', 'models', 'list');
      const listed = JSON.parse(list.out) as {
        models: Array<{ name: string; installed: boolean }>;
        router: { model: string; nodes: Array<{ node: string; has: boolean; loaded: boolean }> };
      };
      expect(listed.models.find((m) => m.name === 'base.en')).toMatchObject({ installed: false });
      // the router model as the mesh view has it: desk's Ollama holds llama3 and has it loaded
      expect(listed.router).toEqual({
        model: 'llama3',
        nodes: [{ node: 'desk', url: fake.url, has: true, loaded: true }],
      });
      const shown = await cli('models', 'list');
      expect(shown.out).toMatch(
        /router LLM llama3:\nNODE +OLLAMA +STATE\ndesk +http:\S+ +installed, loaded/,
      );

      const pull = await cli(
        'models',
        'pull',
        'whisper-base.en',
        '--mirror',
        'https://models.invalid',
      );
      expect(pull.error?.name).toBe('ModelHostUnreachableError');
      expect(pull.error?.message).toMatch(/this machine looks offline/);

      const unknown = await cli('models', 'pull', 'large-v9');
      expect(unknown.error?.message).toMatch(/unknown model "large-v9"; known models: tiny\.en/);
    });

    it('models check flags a corrupted model file and exits 65', async () => {
      const dir = path.join(state.dir, 'models');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'ggml-tiny.en.bin'), 'lmgg but not really a model');
      const r = await cli('models', 'check');
      expect(r.code).toBe(65);
      expect(r.out).toMatch(
        /BAD {2}tiny\.en: corrupt or not the published file: size \d+ bytes, expected 77704715/,
      );
      expect(r.out).toMatch(/fix: run `helix-node models pull tiny\.en --force`/);
      expect(r.out).toMatch(/OK +router llama3: on desk \(loaded\)/);
    });
  },
);
