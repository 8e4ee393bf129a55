/**
 * `helix-node join` as a person and as a service manager see it (issue 13): under a real
 * pseudo-terminal (util-linux `script`) it prints readable, coloured lines — a starting line,
 * log lines, the banner — and leaves on Ctrl-C typed into the terminal; into a pipe every line on
 * stderr is JSON, the banner one record (its lacks from the node's own probes: no doctor run on
 * every service start), and pino-pretty is never loaded. (NO_COLOR, FORCE_COLOR
 * and --no-color are decided by colourWanted, tested in log-format.test.ts.) One node on loopback, discovery off, no Docker (a socket path that
 * does not exist), so nothing is built and each run takes a few seconds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cliEntry } from '../harness/mesh.js';
import { freePorts } from '../support/ports.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const recorder = path.join(repoRoot, 'test', 'support', 'load-recorder.mjs');
const hasScript = spawnSync('script', ['--version']).status === 0;
const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-term-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const running = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of running) {
    child.kill('SIGINT');
    await exited(child, 10_000).catch(() => child.kill('SIGKILL'));
  }
  running.clear();
});

// eslint-disable-next-line no-control-regex -- colour codes are what is looked for
const SGR = /\u001b\[[0-9;]*m/g;

/** A node of its own: state dir, ports, no discovery, no Docker, no Ollama, no broker. */
async function nodeConfig(name: string): Promise<string> {
  const [rpc, cluster, client, monitor, ollama, mqtt] = await freePorts(6);
  const home = path.join(dir, name);
  const file = path.join(dir, `${name}.toml`);
  writeFileSync(
    file,
    [
      `[node]\nname = "${name}"\nstate_dir = "${home}"`,
      `[mesh]\naddress = "127.0.0.1"\nrpc_port = ${rpc}\ncluster_port = ${cluster}`,
      `[discovery]\ntailscale = false\nmdns = false`,
      `[bus]\nclient_port = ${client}\nmonitor_port = ${monitor}`,
      `[registry]\nenabled = false`,
      `[capabilities]\ndocker_socket = "${path.join(dir, 'no-docker.sock')}"\nprobe_timeout_ms = 1000`,
      `[router]\nollama_url = "http://127.0.0.1:${ollama}"`,
      `[mqtt]\nurl = "mqtt://127.0.0.1:${mqtt}"`,
    ].join('\n\n') + '\n',
  );
  return file;
}

/** The environment of a person's shell: no HELIX_* settings, no colour preferences unless given. */
function env(extra: Record<string, string>, loadLog: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('HELIX_') && !['NO_COLOR', 'FORCE_COLOR'].includes(k)) e[k] = v;
  return { ...e, TERM: 'xterm-256color', HX_LOAD_LOG: loadLog, ...extra };
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Collects `stream` and resolves when `pattern` shows (rejects after timeoutMs with what came). */
function collect(child: ChildProcess, stream: NodeJS.ReadableStream) {
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return {
    text: () => text,
    until: (pattern: RegExp, timeoutMs: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(text)) done();
        };
        const timer = setTimeout(
          () => done(new Error(`no ${pattern} within ${timeoutMs} ms; got:\n${text.slice(-2000)}`)),
          timeoutMs,
        );
        const onExit = () =>
          done(new Error(`exited before ${pattern}; got:\n${text.slice(-2000)}`));
        function done(err?: Error) {
          clearTimeout(timer);
          stream.off('data', check);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve();
        }
        stream.on('data', check);
        child.once('exit', onExit);
        check();
      }),
  };
}

const loadedPinoPretty = (loadLog: string) =>
  readFileSync(loadLog, 'utf8').includes('/node_modules/pino-pretty/');

/** `join` under a pseudo-terminal; Ctrl-C typed into it once the banner is out. */
async function joinOnTerminal(name: string, extraEnv: Record<string, string>) {
  const config = await nodeConfig(name);
  const loadLog = path.join(dir, `${name}.loads`);
  const [program, ...args] = cliEntry(repoRoot);
  // `exec`: script runs the command with $SHELL -c, and dash (CI's /bin/sh when SHELL is unset)
  // stays as the parent and dies of the terminal's SIGINT itself (exit 130) whatever join does.
  const command =
    'exec ' +
    [program!, '--import', recorder, ...args, 'join', '--config', config]
      .map((a) => `'${a}'`)
      .join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: repoRoot,
    env: env(extraEnv, loadLog),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  const out = collect(child, child.stdout!);
  await out.until(/Ctrl-C leaves the mesh/, 30_000);
  child.stdin!.write('\u0003');
  const code = await exited(child, 15_000);
  running.delete(child);
  return { code, text: out.text().replaceAll('\r\n', '\n'), loadLog };
}

describe.skipIf(!hasScript)('helix-node join on a terminal', () => {
  it('prints readable, coloured lines and the banner, and leaves on Ctrl-C', async () => {
    const { code, text, loadLog } = await joinOnTerminal('term-colour', {});
    expect(code, text).toBe(0);
    const plain = text.replace(SGR, '');
    const lines = plain.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(
      /^helix-node \S+ starting \(state .*term-colour.*\); looking for the mesh…$/,
    );
    // log lines: time, level, a sentence; never a JSON object
    expect(plain).toMatch(/^\d\d:\d\d:\d\d info {2}created a new mesh \(mesh mesh-[0-9a-f]+\)$/m);
    expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
    // the banner: what the node is, where it is, what it lacks with the fix
    expect(plain).toMatch(/^helix-node \S+ is up: term-colour \(\w+\) in mesh mesh-[0-9a-f]+$/m);
    expect(plain).toMatch(/^ {2}address {4}127\.0\.0\.1 \(gRPC \d+, routes \d+\)$/m);
    expect(plain).toMatch(/^ {2}peers {6}none yet; discovery is off/m);
    expect(plain).toMatch(/^ {2}lacks {6}.*→/m);
    expect(plain).toMatch(/no Docker: agents run on other nodes → apt-get install docker\.io/);
    expect(plain).toMatch(/Ollama .*→ /);
    expect(plain).toMatch(/^(\^C)?\d\d:\d\d:\d\d info {2}leaving the mesh \(SIGINT\)$/m);
    // coloured: levels and the banner's emphasis
    expect(text).toContain('\u001b[32minfo \u001b[0m');
    expect(text).toContain('\u001b[1mterm-colour\u001b[0m');
    expect(loadedPinoPretty(loadLog)).toBe(true);
  });
});

describe('helix-node join into a pipe', () => {
  it('writes JSON lines only, the banner as one record, without loading pino-pretty', async () => {
    const config = await nodeConfig('pipe-json');
    const loadLog = path.join(dir, 'pipe-json.loads');
    const [program, ...args] = cliEntry(repoRoot);
    const child = spawn(program!, ['--import', recorder, ...args, 'join', '--config', config], {
      cwd: repoRoot,
      env: env({}, loadLog),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    const out = collect(child, child.stdout!);
    const err = collect(child, child.stderr!);
    await err.until(/"msg":"helix-node \S+ is up: pipe-json/, 30_000);
    child.kill('SIGINT');
    // a second signal while it leaves (a service manager's, a double key press) is noted, and the
    // node still leaves cleanly with 0
    await err.until(/"msg":"leaving the mesh"/, 10_000);
    child.kill('SIGINT');
    expect(await exited(child, 15_000)).toBe(0);
    running.delete(child);
    expect(out.text()).toBe('');
    const records = err
      .text()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records[0]).toMatchObject({ level: 30, msg: 'starting' });
    const banner = records.find((r) => String(r.msg).includes('is up: pipe-json'));
    expect(banner).toMatchObject({
      name: 'pipe-json',
      address: '127.0.0.1',
      peers: 0,
      discovery: [],
      where: { state: path.join(dir, 'pipe-json') },
    });
    expect(banner!.lacks).toEqual(
      expect.arrayContaining([
        {
          check: 'docker',
          what: 'no Docker: agents run on other nodes',
          fix: 'apt-get install docker.io',
        },
      ]),
    );
    expect(records.some((r) => r.msg === 'leaving the mesh')).toBe(true);
    expect(loadedPinoPretty(loadLog)).toBe(false);
  });
});
