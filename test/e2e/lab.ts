/**
 * The voice-to-action lab shared by test/e2e/voice-mesh.test.ts and bench/e2e/voice-warm.ts:
 * three real daemons (`helix-node join`) on a harness mesh, with the roles of DESIGN.md §1 split
 * over three machines so that every hop crosses the network:
 *   mic-a     the mic node: no STT engine, no Docker; utterances enter here (listen --file)
 *   stt-b     the STT peer: the pocketsphinx phrase recogniser, no Docker
 *   docker-c  the agent host: a private dockerd, `lights` warm, a mosquitto broker on its loopback
 * and the instruments around them: espeak-ng utterances, an MQTT subscriber inside docker-c's
 * namespace, packet captures on the hub side of each node's veth. Everything started here is
 * stopped by its own stop(); the harness removes the namespaces. No vitest (the bench imports it).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { controlCall, type CommandStreamLine } from '../../node/control/index.js';
import type { Trace } from '../../node/pipeline/index.js';
import { IP_BIN, MeshHarness, killGroup } from '../harness/index.js';
import { startDockerd, type PrivateDockerd } from '../support/docker.js';
import { sharedFile } from '../voice/shared-data.js';

const run = promisify(execFile);

export const MIC = 0;
export const STT = 1;
export const HOST = 2;
export const NODE_NAMES = ['mic-a', 'stt-b', 'docker-c'] as const;
/** mesh.rpc_port on every node: all gRPC (Transcriber, AgentHost, ...) goes to this port */
export const RPC_PORT = 7700;
/** the broker's port on docker-c's loopback (each namespace has its own ports) */
export const MQTT_PORT = 1883;
export const LIGHT = 'kitchen_ceiling';
export const LIGHT_TOPIC = `zigbee2mqtt/${LIGHT}/set`;
export const SILERO_MODEL = sharedFile('for-tests-silero-v6.2.0-ggml.bin');

/** Why this machine cannot run the lab, or null when it can. */
export function labUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, dockerd)';
  if (!SILERO_MODEL) return 'needs ../shared/data/for-tests-silero-v6.2.0-ggml.bin';
  const tools: Array<[string, string[]]> = [
    ['nats-server', ['--version']],
    ['dockerd', ['--version']],
    ['go', ['version']],
    ['mosquitto', ['-h']],
    ['mosquitto_sub', ['--help']],
    ['tcpdump', ['--version']],
    ['espeak-ng', ['--version']],
    ['sox', ['--version']],
    ['pocketsphinx_batch', []],
  ];
  for (const [bin, args] of tools) {
    const res = spawnSync(bin, args, { stdio: 'ignore', timeout: 10_000 });
    // several of these print usage and exit non-zero; only a missing program counts
    if ((res.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      return `needs ${bin} on PATH`;
  }
  return null;
}

export interface VoiceLabOptions {
  /** three octets for the harness, e.g. "100.64.70" */
  subnet: string;
  /** daemon log level (default "info") */
  logLevel?: string;
  keepTemp?: boolean;
}

/**
 * The three nodes, their private dockerd and broker. start() brings everything up and waits until
 * mic-a sees stt-b's recogniser and docker-c's warm lights container; stop() undoes all of it.
 */
export class VoiceLab {
  readonly dir: string;
  readonly mesh: MeshHarness;
  private dockerd: PrivateDockerd | null = null;
  private broker: ChildProcess | null = null;
  watch: MqttWatch | null = null;

  constructor(readonly opts: VoiceLabOptions) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'helix-e2e-'));
    // mosquitto drops to its own user and must read its config here
    chmodSync(this.dir, 0o755);
    const common = {
      mesh: { rpc_port: RPC_PORT },
      // the grammar (stt-b), the fast matcher (mic-a) and the agent (docker-c) all need the room
      lights: { rooms: { kitchen: [LIGHT] } },
      mqtt: { url: `mqtt://127.0.0.1:${MQTT_PORT}` },
      voice: { tts: 'none', vad_model: SILERO_MODEL ?? '' },
    };
    // A socket path that does not exist: that node has no Docker (capabilities.docker is null).
    const noDocker = { docker_socket: path.join(this.dir, 'no-docker.sock') };
    this.mesh = new MeshHarness({
      nodes: 3,
      subnet: opts.subnet,
      statusVia: 'control',
      logLevel: opts.logLevel ?? 'info',
      keepTemp: opts.keepTemp,
      config: common,
      node: [
        { name: NODE_NAMES[MIC], config: { stt: { engine: 'none' }, capabilities: noDocker } },
        { name: NODE_NAMES[STT], config: { stt: { engine: 'phrase' }, capabilities: noDocker } },
        {
          name: NODE_NAMES[HOST],
          config: {
            stt: { engine: 'none' },
            capabilities: { docker_socket: path.join(this.dockerDir, 'docker.sock') },
          },
        },
      ],
    });
  }

  private get dockerDir(): string {
    return path.join(this.dir, 'dockerd');
  }

  get docker(): PrivateDockerd {
    if (!this.dockerd) throw new Error('the lab has not started');
    return this.dockerd;
  }

  /** Namespaces, docker-c's dockerd and broker, the subscriber, then the three daemons. */
  async start({ timeoutMs = 90_000 }: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.mesh.start();
    this.dockerd = await startDockerd(this.dockerDir, {
      netns: this.mesh.info(HOST).namespace,
      timeoutMs: Math.min(45_000, deadline - Date.now()),
    });
    this.broker = await startBroker(this.mesh, HOST, this.dir);
    this.watch = await MqttWatch.start(this.mesh, HOST, 'zigbee2mqtt/#');
    // mic-a creates the mesh; the others join it through the fake tailnet
    this.mesh.startNode(MIC);
    await this.mesh.waitForStatus(MIC, { timeoutMs: deadline - Date.now(), intervalMs: 200 });
    this.mesh.startNode(STT);
    this.mesh.startNode(HOST);
    await this.waitReady(deadline - Date.now());
  }

  /** Until mic-a sees all three alive, stt-b with STT, docker-c with an idle warm lights container. */
  async waitReady(timeoutMs: number): Promise<void> {
    await this.mesh.waitFor(
      async () => {
        for (const i of [MIC, STT, HOST]) this.mesh.requireRunning(i);
        const view = await this.mesh.status(MIC);
        const by = new Map(view.nodes.map((n) => [n.name, n as unknown as PeerFacts]));
        const [a, b, c] = NODE_NAMES.map((n) => by.get(n));
        const missing: string[] = [];
        for (const [name, p] of [
          [NODE_NAMES[MIC], a],
          [NODE_NAMES[STT], b],
          [NODE_NAMES[HOST], c],
        ] as const) {
          if (p?.state !== 'alive') missing.push(`${name} ${p?.state ?? 'absent'}`);
        }
        if (b && !b.capabilities.stt) missing.push('stt-b has no STT yet');
        if (c && !c.warmPool?.some((w) => w.agent === 'lights' && w.idle > 0))
          missing.push('docker-c has no idle warm lights container yet');
        if (missing.length) throw new Error(missing.join('; '));
        return view;
      },
      { timeoutMs, intervalMs: 300, what: 'the voice mesh to be ready' },
    );
  }

  async stop(): Promise<void> {
    // Daemons first, so docker-c removes its own warm containers while its engine still runs.
    // (Not mesh.stopAll: it kills whatever else runs in the namespaces, dockerd included.)
    await Promise.all(
      this.mesh.runningNodes().map(async (i) => {
        this.mesh.kill(i, 'SIGTERM');
        if ((await this.mesh.exited(i, { timeoutMs: 10_000 })) === 'timeout')
          this.mesh.kill(i, 'SIGKILL');
      }),
    );
    await this.watch?.stop();
    if (this.broker) await stopChild(this.broker, 'SIGTERM');
    await this.dockerd?.stop().catch(() => undefined);
    await this.mesh.cleanup();
    if (this.opts.keepTemp || process.env.HXT_KEEP === '1') return;
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch (err) {
      // an engine that had to be killed can leave overlay mounts under its data root
      console.error(`could not remove ${this.dir}: ${(err as Error).message}`);
    }
  }

  /** `helix-node listen --once --file WAV --json` on mic-a: the streamed events and the result. */
  async listen(wav: string, { timeoutMs = 60_000 }: { timeoutMs?: number } = {}) {
    const res = await this.mesh.cli(
      MIC,
      ['--json', 'listen', '--once', '--timeout', '30', '--file', wav],
      { timeoutMs },
    );
    const lines = res.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as CommandStreamLine);
    const result = lines.find((l) => l.type === 'result');
    return { ...res, lines, result: result?.type === 'result' ? result : undefined };
  }

  /**
   * mic-a's trace `id`, straight from its control socket (what `helix-node trace ID --json`
   * prints, without starting a CLI process on a loaded machine).
   */
  async trace(id: string): Promise<Trace> {
    return controlCall<Trace>(
      this.mesh.info(MIC).stateDir,
      `/v1/trace?id=${encodeURIComponent(id)}`,
      {
        timeoutMs: 10_000,
      },
    );
  }
}

/** What the lab reads from a status view entry beyond the harness's schema. */
interface PeerFacts {
  name: string;
  state: string;
  capabilities: { stt: { engine: string } | null; docker: unknown };
  warmPool?: Array<{ agent: string; idle: number }>;
}

// ---- docker-c's engine --------------------------------------------------------------------------

// ---- speech -------------------------------------------------------------------------------------

export interface Utterance {
  path: string;
  text: string;
  voice: string;
  speed: number;
  /** bytes of the spoken part alone as 16 kHz 16-bit mono (what a mic node would stream) */
  speechBytes: number;
}

/**
 * `text` spoken by espeak-ng, as a 16 kHz mono 16-bit WAV with silence around it (a mic hears
 * some before and after; the VAD needs the silence after to end the utterance).
 */
export async function makeUtterance(
  dir: string,
  text: string,
  {
    voice = 'en-us',
    speed = 160,
    leadS = 0.4,
    tailS = 1.0,
  }: { voice?: string; speed?: number; leadS?: number; tailS?: number } = {},
): Promise<Utterance> {
  const base = `${text.replace(/\W+/g, '-')}-${voice.replace(/\W+/g, '_')}-${speed}`;
  const raw = path.join(dir, `${base}.raw.wav`);
  const out = path.join(dir, `${base}.wav`);
  await run('espeak-ng', ['-v', voice, '-s', String(speed), '-w', raw, text], { timeout: 30_000 });
  await run(
    'sox',
    [raw, '-r', '16000', '-c', '1', '-b', '16', out, 'pad', `${leadS}`, `${tailS}`],
    {
      timeout: 30_000,
    },
  );
  const { stdout } = await run('soxi', ['-s', raw], { timeout: 10_000 });
  const { stdout: rate } = await run('soxi', ['-r', raw], { timeout: 10_000 });
  rmSync(raw, { force: true });
  const speechBytes = Math.round((Number(stdout.trim()) * 16_000) / Number(rate.trim())) * 2;
  return { path: out, text, voice, speed, speechBytes };
}

// ---- MQTT ---------------------------------------------------------------------------------------

/** mosquitto on node i's loopback, anonymous, no persistence; resolves once it listens. */
export async function startBroker(
  mesh: MeshHarness,
  i: number,
  dir: string,
): Promise<ChildProcess> {
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [`listener ${MQTT_PORT} 127.0.0.1`, 'allow_anonymous true', 'persistence false', ''].join('\n'),
  );
  chmodSync(conf, 0o644);
  const child = mesh.exec(i, 'mosquitto', ['-c', conf]);
  const ready = waitForOutput(child, /mosquitto version \S+ running/, 15_000, 'mosquitto');
  // keep reading its log (one line per connection), so a full pipe never blocks it
  child.stdout?.resume();
  child.stderr?.resume();
  await ready;
  return child;
}

export interface MqttMessage {
  /** when the subscriber received it (epoch ms, from mosquitto_sub's %U) */
  atMs: number;
  topic: string;
  payload: string;
}

/** mosquitto_sub inside node i's namespace; every message with its receive time. */
export class MqttWatch {
  readonly messages: MqttMessage[] = [];
  private waiters = new Set<() => void>();

  private constructor(private readonly child: ChildProcess) {
    let buf = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        // -F '%U %t %p': "<unix seconds.nanoseconds> <topic> <payload>"
        const m = /^(\d+\.\d+) (\S+) (.*)$/.exec(line);
        if (!m) continue;
        this.messages.push({ atMs: Number(m[1]) * 1000, topic: m[2]!, payload: m[3]! });
        for (const w of this.waiters) w();
      }
    });
  }

  static async start(mesh: MeshHarness, i: number, topic: string): Promise<MqttWatch> {
    // stdbuf: mosquitto_sub's debug lines are block-buffered on a pipe
    const child = mesh.exec(i, 'stdbuf', [
      '-oL',
      'mosquitto_sub',
      '-h',
      '127.0.0.1',
      '-p',
      String(MQTT_PORT),
      '-t',
      topic,
      '-q',
      '1',
      '-d',
      '-F',
      '%U %t %p',
    ]);
    const watch = new MqttWatch(child);
    child.stderr?.resume();
    await waitForOutput(child, /received SUBACK/, 15_000, 'mosquitto_sub');
    return watch;
  }

  /** The first message after index `from` that `match` accepts; rejects after timeoutMs. */
  async next(
    match: (m: MqttMessage) => boolean,
    { from = 0, timeoutMs }: { from?: number; timeoutMs: number },
  ): Promise<MqttMessage> {
    const find = () => this.messages.slice(from).find(match);
    const found = find();
    if (found) return found;
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = find();
        if (!m) return;
        done();
        resolve(m);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching MQTT message within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 'SIGTERM');
  }
}

// ---- packet capture -----------------------------------------------------------------------------

export interface Packet {
  /** epoch ms */
  atMs: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** TCP payload bytes (from the IP header's length, so snapping the capture loses nothing) */
  bytes: number;
}

/** One line of `tcpdump -tt -nn -q`: "1712345678.123456 IP 100.64.70.1.43210 > 100.64.70.2.7700: tcp 2048". */
export function parseTcpdumpLine(line: string): Packet | null {
  const m =
    /^(\d+\.\d+) IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): tcp (\d+)$/.exec(
      line.trim(),
    );
  if (!m) return null;
  return {
    atMs: Number(m[1]) * 1000,
    src: m[2]!,
    sport: Number(m[3]),
    dst: m[4]!,
    dport: Number(m[5]),
    bytes: Number(m[6]),
  };
}

export interface CaptureResult {
  /** per node index: the packets on its link (to and from it) */
  links: Map<number, Packet[]>;
  /** packets tcpdump reported dropped by the kernel, summed over the links */
  dropped: number;
}

/**
 * tcpdump on the hub end of each node's veth (the hub namespace holds the bridge: this is the
 * wire each node is plugged into), one process per link, with a capture filter. Every packet a
 * node sends or receives crosses its own link exactly once, so "what node i received" is the
 * packets on link i whose destination is node i's address.
 */
export class WireCapture {
  private constructor(
    private readonly procs: Map<number, { child: ChildProcess; out: string[]; err: string[] }>,
  ) {}

  static async start(mesh: MeshHarness, nodes: number[], filter: string): Promise<WireCapture> {
    const procs = new Map<number, { child: ChildProcess; out: string[]; err: string[] }>();
    const capture = new WireCapture(procs);
    try {
      for (const i of nodes) {
        const link = mesh.netns.node(i).hubLink;
        const child = spawn(
          IP_BIN,
          [
            'netns',
            'exec',
            mesh.netns.hubNamespace,
            'tcpdump',
            '-i',
            link,
            '-nn',
            '-q',
            '-tt',
            '-l',
            // Hand each packet over as it arrives. Without it the kernel delivers packets in
            // blocks (TPACKET_V3, up to a second apart), and the packets of the last block are
            // lost, uncounted, when SIGINT stops tcpdump: the run request to docker-c, sent last,
            // went missing from every capture that way in a CI run.
            '--immediate-mode',
            '-s',
            '128',
            filter,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
        );
        const p = { child, out: [] as string[], err: [] as string[] };
        procs.set(i, p);
        collectLines(child.stdout!, p.out);
        collectLines(child.stderr!, p.err);
        await waitForOutput(child, /listening on/, 15_000, `tcpdump on ${link}`);
      }
    } catch (err) {
      await capture.stop();
      throw err;
    }
    return capture;
  }

  /** Stops every tcpdump (SIGINT: it prints its counters) and returns the packets per link. */
  async stop(): Promise<CaptureResult> {
    const links = new Map<number, Packet[]>();
    let dropped = 0;
    await Promise.all(
      [...this.procs].map(async ([i, p]) => {
        await stopChild(p.child, 'SIGINT');
        links.set(
          i,
          p.out.map(parseTcpdumpLine).filter((x): x is Packet => x !== null),
        );
        const m = /(\d+) packets? dropped by kernel/.exec(p.err.join('\n'));
        dropped += m ? Number(m[1]) : 0;
      }),
    );
    this.procs.clear();
    return { links, dropped };
  }
}

/** Sum of TCP payload bytes of the packets that match. */
export function payloadBytes(packets: readonly Packet[], match: (p: Packet) => boolean): number {
  return packets.filter(match).reduce((n, p) => n + p.bytes, 0);
}

// ---- processes ----------------------------------------------------------------------------------

function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    into.push(...parts);
  });
  stream.on('end', () => {
    if (buf) into.push(buf);
  });
}

/** Resolves when the child prints a line matching `pattern` (stdout or stderr); rejects on exit or timeout. */
function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer | string) => {
      seen += d.toString();
      if (pattern.test(seen)) finish();
    };
    const onExit = (code: number | null) => {
      finish(new Error(`${what} exited (${code}) before it was ready: ${seen.trim().slice(-500)}`));
    };
    const timer = setTimeout(
      () => finish(new Error(`${what} was not ready within ${timeoutMs} ms: ${seen.slice(-500)}`)),
      timeoutMs,
    );
    function finish(err?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Signal a child we spawned (by default its process group) and wait for it; SIGKILL (the group) after `graceMs`. */
async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals,
  graceMs = 5000,
  { group = true }: { group?: boolean } = {},
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // 'close', not 'exit': close comes after the child's stdout has been read to the end (tcpdump
  // prints its last packets as it exits, and 'exit' can come first).
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  if (group) killGroup(child, signal);
  else child.kill(signal);
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
