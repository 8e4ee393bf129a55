/**
 * The first lines `helix-node join` prints once the node is up: what this node is, where to look
 * at it, and what it lacks, each lack with its fix in a few words (from `doctor`). On a terminal
 * they are lines for a person (bannerLines); in JSON logs the same facts are one record
 * (bannerRecord). Pure: run-daemon.ts gathers the facts.
 */
import { FIX, hasOllamaModel, type DoctorCheck } from '../capabilities/index.js';
import type { Config } from '../config/index.js';
import type { Capabilities } from '../types.js';
import { paint, safeText } from './output.js';

/** Something this node cannot do, and the fix in a few words. */
export interface Lack {
  /** the doctor check it came from ("docker", "stt-model", …) */
  check: string;
  what: string;
  fix?: string;
}

/** A place to look at or reach this node. */
export interface Where {
  label: string;
  value: string;
}

export interface BannerFacts {
  version: string;
  name: string;
  /** the short id (last characters of the peer id) */
  id: string;
  mesh: string;
  room?: string;
  /** OCI platform ("linux/arm64") */
  platform: string;
  address: string;
  ports: { rpc: number; cluster: number };
  /** how peers are found: "tailnet example.ts.net", "mDNS on the LAN", "2 static peers" */
  discovery: string[];
  /** other nodes alive now */
  peers: number;
  /** the web dashboard's address, when this node serves one */
  dashboard?: string;
  /** other places: state dir, config file */
  where: Where[];
  lacks: Lack[];
}

const LABEL_WIDTH = 10;

/** The banner as lines for a terminal (no trailing newline; colours only with `color`). */
export function bannerLines(facts: BannerFacts, opts: { color: boolean }): string[] {
  const s = (t: string) => safeText(t);
  const row = (label: string, value: string) =>
    `  ${paint(opts, 'dim', label.padEnd(LABEL_WIDTH))} ${value}`;
  const lines = [
    `${paint(opts, 'bold', `helix-node ${s(facts.version)}`)} is up: ${paint(opts, 'bold', s(facts.name))} ${paint(opts, 'dim', `(${s(facts.id)})`)} in mesh ${s(facts.mesh)}`,
    row('room', facts.room ? s(facts.room) : 'none yet (helix-node rooms set)'),
    row('platform', s(facts.platform)),
    row(
      'address',
      `${s(facts.address)} ${paint(opts, 'dim', `(gRPC ${facts.ports.rpc}, routes ${facts.ports.cluster})`)}`,
    ),
    row('peers', describePeers(facts)),
  ];
  const where: Where[] = [
    ...(facts.dashboard ? [{ label: 'dashboard', value: facts.dashboard }] : []),
    ...facts.where,
  ];
  for (const w of where) lines.push(row(w.label, s(w.value)));
  if (facts.lacks.length === 0) lines.push(row('lacks', paint(opts, 'green', 'nothing')));
  facts.lacks.forEach((lack, i) => {
    const fix = lack.fix ? ` ${paint(opts, 'dim', '→')} ${s(lack.fix)}` : '';
    const what = `${paint(opts, 'yellow', s(lack.what))}${fix}`;
    lines.push(i === 0 ? row('lacks', what) : `  ${' '.repeat(LABEL_WIDTH)} ${what}`);
  });
  lines.push(paint(opts, 'dim', 'Ctrl-C leaves the mesh; `helix-node status` shows every node.'));
  return lines;
}

function describePeers(facts: BannerFacts): string {
  const n = facts.peers === 0 ? 'none yet' : `${facts.peers} alive`;
  if (facts.discovery.length === 0)
    return `${n}; discovery is off (add discovery.static_peers, or join with an invite)`;
  return `${n}; found through ${facts.discovery.join(', ')}`;
}

/** The same facts as one structured log record (JSON log format). */
export function bannerRecord(facts: BannerFacts): Record<string, unknown> {
  const { where, ...rest } = facts;
  return {
    ...rest,
    where: Object.fromEntries(where.map((w) => [w.label, w.value])),
  };
}

/** What a person reads while the node starts (the parts can take seconds on a Pi). */
export function startingLine(
  facts: { version: string; stateDir: string; configPath: string | null; invite: boolean },
  opts: { color: boolean },
): string {
  const config = facts.configPath ? `config ${facts.configPath}` : 'no helix.toml, defaults';
  const doing = facts.invite ? 'joining with the invite code' : 'looking for the mesh';
  return `${paint(opts, 'bold', `helix-node ${facts.version}`)} starting ${paint(opts, 'dim', `(state ${safeText(facts.stateDir)}, ${safeText(config)})`)}; ${doing}…`;
}

/** What each doctor check's absence means for this node, in a few words. */
const WHAT: Record<string, (c: DoctorCheck) => string> = {
  'nats-server': () => 'a nats-server that needs an upgrade',
  docker: (c) =>
    /permission/.test(c.detail)
      ? 'no permission to use Docker: agents run on other nodes'
      : 'no Docker: agents run on other nodes',
  tailscale: () => 'no tailnet: peers only from the LAN, invites and static peers',
  ollama: (c) =>
    /model .* is missing/.test(c.detail)
      ? 'no router model in Ollama'
      : /start/.test(c.fix ?? '')
        ? 'Ollama is not running'
        : 'no Ollama on this node',
  arecord: () => 'no microphone',
  'stt-model': () => 'no speech-to-text model: peers transcribe',
  'vad-model': () => 'no voice-activity model: this node cannot listen',
  go: () => 'no Go toolchain: agent images come from peers',
};

/** A fix that fits in a few words, for a check whose exact command is long. */
const SHORT_FIX: Record<string, (c: DoctorCheck) => string> = {
  docker: (c) =>
    /permission/.test(c.detail) ? 'usermod -aG docker "$USER"' : 'apt-get install docker.io',
  tailscale: (c) =>
    c.fix?.startsWith('curl') ? 'install it: tailscale.com/download' : 'tailscale up',
  ollama: () => 'install it: ollama.com/download',
  arecord: (c) => (c.fix ? c.fix : 'plug in a microphone'),
};

const FEW_WORDS = 48;

/**
 * What the node lacks, from doctor's checks: every check that failed, and the optional parts that
 * are missing where doctor still says OK (no microphone, no VAD model while voice is off).
 */
export function lacksFrom(checks: DoctorCheck[]): Lack[] {
  const lacks: Lack[] = [];
  for (const c of checks) {
    const noMic = c.name === 'arecord' && /no capture device/.test(c.detail);
    if (c.ok && !noMic && !(c.name === 'vad-model' && c.fix)) continue;
    const what = WHAT[c.name]?.(c) ?? `${c.name}: ${c.detail}`;
    // doctor's exact command, without its "# other systems" note, when it is short enough
    const exact = c.fix?.replace(/\s+#.*$/, '');
    const fix =
      exact && exact.length <= FEW_WORDS && !noMic
        ? exact
        : (SHORT_FIX[c.name]?.(noMic ? { ...c, fix: undefined } : c) ??
          (exact ? 'see `helix-node doctor`' : undefined));
    lacks.push({ check: c.name, what, ...(fix ? { fix } : {}) });
  }
  return lacks;
}

/**
 * What the node lacks from its own capability probes and tailnet state, with nothing probed again:
 * for the JSON banner (a service manager or a test reads it on every start, so it costs nothing),
 * where lacksFrom runs doctor for a person at a terminal and can tell causes apart.
 */
export function lacksFromCapabilities(
  caps: Capabilities,
  o: { tailnet: { kind: string }; config: Pick<Config, 'stt' | 'router'> },
): Lack[] {
  const lacks: Lack[] = [];
  const add = (
    check: string,
    fix: string,
    what = WHAT[check]!({ name: check, ok: false, detail: '' }),
  ) => lacks.push({ check, what, fix });
  if (!caps.docker) add('docker', SHORT_FIX.docker!({ name: 'docker', ok: false, detail: '' }));
  if (o.tailnet.kind === 'not-running') add('tailscale', FIX.tailscaleUp);
  if (o.tailnet.kind === 'unavailable') add('tailscale', 'install it: tailscale.com/download');
  if (!caps.ollama) add('ollama', 'install it: ollama.com/download');
  else if (!hasOllamaModel(caps.ollama.models, o.config.router.model))
    add('ollama', FIX.ollamaPull(o.config.router.model), 'no router model in Ollama');
  if (!caps.mic) add('arecord', 'plug in a microphone');
  if (!caps.stt && o.config.stt.engine !== 'none')
    add('stt-model', o.config.stt.engine === 'phrase' ? FIX.pocketsphinx : FIX.sttModel);
  if (!caps.go) add('go', FIX.go);
  return lacks;
}
