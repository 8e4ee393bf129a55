/**
 * startVoiceServices as the daemon wires it: a real nats-server, a real gRPC server and control
 * socket, the stand-in Ollama as router.ollama_url, and the mic loop over a file source with the
 * real Silero VAD. Checks that every piece is reachable the way other nodes and the CLI reach it.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgents } from '../../node/agents/index.js';
import type { LoadedAgent } from '../../node/agentspec/index.js';
import { parseConfig } from '../../node/config/index.js';
import {
  controlCall,
  controlStream,
  ControlServer,
  controlSocketPath,
  type CommandStreamLine,
} from '../../node/control/index.js';
import { registerVoiceControlRoutes } from '../../node/control/routes/index.js';
import { silentLogger } from '../../node/log.js';
import {
  createRouteRemote,
  createRunIntent,
  startVoiceServices,
  traceSubject,
  type Trace,
  type VoiceServices,
} from '../../node/pipeline/index.js';
import { RpcClients, RpcServer } from '../../node/rpc/index.js';
import { transcribeWith } from '../../node/transcribe/index.js';
import { pcmSource, readWavFile } from '../../node/voice/index.js';
import { BusHarness, newSecret } from '../bus/helpers.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import { repoRoot, sharedFile } from '../voice/shared-data.js';
import { DictationEngine, peerView } from './support/mesh.js';
import { tempDir } from './support/net.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const HOST = '127.0.6.51';
const JFK = sharedFile('jfk.wav');
const SILERO = sharedFile('for-tests-silero-v6.2.0-ggml.bin');

describe.skipIf(!JFK || !SILERO)(
  'voice services wired as in the daemon (needs ../shared/data)',
  () => {
    const harness = new BusHarness();
    const state = tempDir('voice-svc');
    const secret = newSecret();
    let fake: FakeOllama;
    let rpc: RpcServer;
    let control: ControlServer;
    let voice: VoiceServices;
    let agents: LoadedAgent[];
    const clients = new RpcClients({ nodeId: 'id-desk', secret });
    const engine = new DictationEngine();
    const seenOnBus: Trace[] = [];

    beforeAll(async () => {
      fake = await startFakeOllama({ models: [{ name: 'llama3:latest' }] });
      const node = await harness.started(HOST, secret);
      const bus = await harness.bus(node, 'desk');
      bus.subscribe('helix.v1.trace.*', (m) =>
        seenOnBus.push(JSON.parse(new TextDecoder().decode(m.data)) as Trace),
      );
      agents = await loadAgents([path.join(repoRoot, 'agents')]);
      const port = await freePort();
      rpc = new RpcServer({ addresses: [HOST], port, secret, shutdownTimeoutMs: 300 });
      const self = peerView({
        name: 'desk',
        host: HOST,
        port,
        self: true,
        caps: {
          stt: { engine: 'dictation', model: 'test' },
          ollama: { url: fake.url, models: ['llama3:latest'], loaded: [] },
        },
      });
      const view = () => [self];
      const runIntent = createRunIntent({
        selfId: self.id,
        view,
        clients,
        agent: (n) => agents.find((a) => a.manifest.name === n),
      });
      const jfk = (await readWavFile(JFK!)).pcm;
      voice = await startVoiceServices({
        config: parseConfig({
          router: { ollama_url: fake.url, timeout_ms: 3000 },
          voice: { enabled: true, vad_model: SILERO, tts: 'none' },
          lights: { rooms: { kitchen: ['k1'] } },
        }),
        stateDir: state.dir,
        identity: { id: self.id, name: 'desk' },
        rpc,
        clients,
        view,
        bus,
        agents: {
          agents: new Map(agents.map((a) => [a.manifest.name, a])),
          runIntent: (req, opts) =>
            runIntent(
              {
                agent: req.agent,
                intent: req.intent,
                args: (req.args ?? {}) as Record<string, string>,
                confidence: 1,
              },
              { traceId: req.traceId ?? 'x', signal: opts?.signal },
            ),
        },
        stt: engine,
        logger: silentLogger,
        audioSource: pcmSource(jfk, { realtime: false }),
      });
      await rpc.start();
      control = new ControlServer(controlSocketPath(state.dir), silentLogger);
      registerVoiceControlRoutes(control, voice.control);
      await control.start();
    });
    afterAll(async () => {
      await voice?.stop();
      await control?.stop();
      clients.close();
      await rpc?.stop();
      await fake?.close();
      await harness.cleanup();
      state.remove();
    });

    it('serves Transcriber and Router to other nodes', async () => {
      const target = `${HOST}:${rpc.port}`;
      const pcm = new Int16Array(4000).map((_, i) => Math.round(5000 * Math.sin(i / 5)));
      engine.learn(pcm, 'what timers are running');
      const t = await transcribeWith(clients.transcriber(target), pcm, {
        traceId: 'svc-1',
        target,
      });
      expect(t.text).toBe('what timers are running');

      fake.scriptChat({
        content: JSON.stringify({ agent: 'timer', intent: 'list', args: {}, confidence: 0.9 }),
      });
      const routed = await createRouteRemote(clients)(
        peerView({ name: 'desk', host: HOST, port: rpc.port }),
        'anything on the clock?',
        { traceId: 'svc-2' },
      );
      expect(routed).toMatchObject({ kind: 'intent', intent: { agent: 'timer', intent: 'list' } });
    });

    it('answers `say` through the control socket and publishes its trace on the bus', async () => {
      const lines: CommandStreamLine[] = [];
      // no agent host is up in this test: the run fails, and the reply says so
      for await (const l of controlStream<CommandStreamLine>(state.dir, '/v1/say', {
        method: 'POST',
        body: { text: 'turn on the kitchen lights' },
      }))
        lines.push(l);
      const result = lines.at(-1) as Extract<CommandStreamLine, { type: 'result' }>;
      expect(result).toMatchObject({
        type: 'result',
        ok: false,
        failedStage: 'run',
        intent: { agent: 'lights', intent: 'on' },
      });
      expect(result.reply).toMatch(/^I can't run lights anywhere/);
      await waitFor(() => seenOnBus.find((t) => t.traceId === result.traceId), {
        timeoutMs: 15_000,
        what: 'trace on the bus',
      });
      const trace = await controlCall<Trace>(state.dir, `/v1/trace?id=${result.traceId}`);
      expect(trace.hops.map((h) => h.stage)).toEqual(['intent', 'run', 'reply']);
      expect(traceSubject(trace.traceId)).toBe(`helix.v1.trace.${result.traceId}`);
    });

    it('listens on the mic source with the VAD when voice.enabled', async () => {
      expect(voice.voice).not.toBeNull();
      const results: string[] = [];
      voice.startListening((r) => results.push(r.traceId));
      const lines: CommandStreamLine[] = [];
      for await (const l of controlStream<CommandStreamLine>(state.dir, '/v1/listen', {
        method: 'POST',
        body: { timeoutMs: 20_000 },
      }))
        lines.push(l);
      const result = lines.at(-1) as Extract<CommandStreamLine, { type: 'result' }>;
      // JFK's words are not a command this node knows
      expect(result).toMatchObject({
        ok: false,
        failedStage: 'stt',
        reply: "I didn't hear any words.",
      });
      await waitFor(() => results.includes(result.traceId), {
        timeoutMs: 15_000,
        what: 'loop result',
      });
      const trace = await controlCall<Trace>(state.dir, `/v1/trace?id=${result.traceId}`);
      expect(trace.hops[0]).toMatchObject({ stage: 'vad', node: 'desk' });
    });
  },
);
