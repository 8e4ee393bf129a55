import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-cli-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'node/cli/main.ts', ...args], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('helix-node CLI conventions', () => {
  it('prints help with every mesh command and exits 0', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['join', 'status', 'invite', 'doctor', 'service'])
      expect(r.stdout).toContain(c);
  });

  it('exits 64 on an unknown command or option', () => {
    expect(cli(['frobnicate']).code).toBe(64);
    expect(cli(['status', '--bogus']).code).toBe(64);
  });

  it('says how to start the node when status finds none running (exit 69), in JSON too', () => {
    const r = cli(['status', '--state-dir', stateDir]);
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/no helix-node is running with state dir .*helix-node join/);
    const j = cli(['status', '--json', '--state-dir', stateDir]);
    expect(j.code).toBe(69);
    expect(JSON.parse(j.stdout).error.message).toMatch(/helix-node join/);
  });

  it('rejects a bad config value with the key and exit 78 where the command reads the config', () => {
    const file = path.join(stateDir, 'bad.toml');
    writeFileSync(file, '[mesh]\nrpc_port = "seven"\n');
    const r = cli(['doctor', '--config', file, '--state-dir', stateDir]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('mesh.rpc_port');
    // status only asks the running node (which validated its file when it started)
    const s = cli(['status', '--config', file, '--state-dir', stateDir]);
    expect(s.code).toBe(69);
    expect(s.stderr).toMatch(/no helix-node is running/);
  });

  it("finds the state dir from helix.toml's node.state_dir without validating the rest", () => {
    const dir = path.join(stateDir, 'elsewhere');
    const file = path.join(stateDir, 'other.toml');
    writeFileSync(file, '[node]\nstate_dir = "elsewhere"\n');
    const r = cli(['status', '--config', file]);
    expect(r.code).toBe(69);
    expect(r.stderr).toContain(dir);
  });

  it('service install --dry-run prints a systemd unit running join with this state dir', () => {
    const r = cli(['service', 'install', '--dry-run', '--state-dir', stateDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\[Unit\]/m);
    expect(r.stdout).toMatch(/ExecStart=.*helix-node\.js join --state-dir/);
    // the daemon's small young generation and its collections (node/cli/service.ts DAEMON_NODE_FLAGS, issue 12)
    expect(r.stdout).toMatch(
      /ExecStart=\S*node --max-semi-space-size=1 --single-threaded --expose-gc (--max-opt=0 --compact-on-every-full-gc )?\S*helix-node\.js join/,
    );
    expect(r.stdout).toContain(stateDir);
    expect(r.stdout).toMatch(/WantedBy=/);
  });

  it('service install caps V8 at its interpreter for a node without voice, speech-to-text or Docker, and only for one', () => {
    const bare = path.join(stateDir, 'bare.toml');
    writeFileSync(bare, '[capabilities]\ndocker_socket = "/nonexistent/docker.sock"\n');
    const voice = path.join(stateDir, 'voice.toml');
    writeFileSync(
      voice,
      '[capabilities]\ndocker_socket = "/nonexistent/docker.sock"\n[voice]\nenabled = true\n',
    );
    const full = path.join(stateDir, 'full.toml');
    writeFileSync(
      full,
      '[node]\njit = "full"\n[capabilities]\ndocker_socket = "/nonexistent/docker.sock"\n',
    );
    const unit = (config: string) => {
      const r = cli([
        'service',
        'install',
        '--dry-run',
        '--json',
        '--config',
        config,
        '--state-dir',
        stateDir,
      ]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { unit: string; v8: string };
    };
    const b = unit(bare);
    expect(b.v8).toBe('interpreter');
    expect(b.unit).toMatch(
      /ExecStart=\S*node --max-semi-space-size=1 --single-threaded --expose-gc --max-opt=0 --compact-on-every-full-gc \S*helix-node\.js join/,
    );
    for (const config of [voice, full]) {
      const u = unit(config);
      expect(u.v8).toBe('full');
      expect(u.unit).not.toContain('--max-opt');
    }
  });

  it('doctor reports each dependency with a fix for what is missing', () => {
    const r = cli(['doctor', '--json', '--state-dir', stateDir], {
      HELIX_DISCOVERY_TAILSCALE_BIN: '/nonexistent/tailscale',
    });
    const { checks } = JSON.parse(r.stdout) as {
      checks: Array<{ name: string; ok: boolean; fix?: string }>;
    };
    const names = checks.map((c) => c.name);
    for (const n of ['nats-server', 'docker', 'tailscale', 'ollama', 'arecord', 'stt-model'])
      expect(names).toContain(n);
    expect(checks.find((c) => c.name === 'nats-server')!.ok).toBe(true);
    const ts = checks.find((c) => c.name === 'tailscale')!;
    expect(ts.ok).toBe(false);
    expect(ts.fix).toMatch(/tailscale/);
    expect(r.code).toBe(0);
  });
});
