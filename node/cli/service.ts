/** `helix-node service install`: a systemd unit so the node starts at boot. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UnitOptions {
  stateDir: string;
  configPath: string | null;
  user: string;
  system: boolean;
  /** a node without voice, speech-to-text or Docker (node/v8-tier.ts): V8's interpreter alone */
  interpreterOnly?: boolean;
}

/**
 * V8 flags for the daemon's process; the node idles most of its life, on a Pi with little memory
 * (issue 12), and bench/node/start.ts prints its idle memory with and without them:
 * - a young generation of 1 MB semi-spaces instead of up to 16 MB: some 15 MB less, at no cost
 *   measured in start-up;
 * - `--single-threaded`: no V8 worker threads (concurrent GC and compilation), whose thread
 *   arenas held another 7-10 MB (three runs each: 92-96 MB against 84-86 MB idle). The cost is
 *   that a full GC runs on the main thread; on the daemon's 20-30 MB heap that is milliseconds.
 * - `--expose-gc`: the daemon collects its heap once a minute (node/heap.ts): small semi-spaces
 *   promote an idle node's short-lived garbage, which V8 otherwise keeps for hours (69 -> 75 MB
 *   in ten idle minutes; 70 MB with the collections).
 * They cannot be set from inside the process (V8 sizes its heap when it starts), hence the unit.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--single-threaded',
  '--expose-gc',
];

/**
 * For a node whose work is the control plane only (node/v8-tier.ts `jitNeed`), the unit also:
 * - caps V8 at its interpreter from the start: 1.2-1.5 MB less than the daemon capping itself once
 *   running (60.5-60.9 against 61.7-62.3 MB idle after a restart, three runs each), since V8 sets
 *   up its compilers when the isolate starts. The daemon warns when the node gains a part that
 *   needs the compiler (`service install` again, then a restart);
 * - compacts the heap in every full collection (the once-a-minute one of node/heap.ts among
 *   them), so the pages that collection empties go back to the system: idle, such a node held
 *   59.1-59.2 MB from one to five minutes against 60.1-60.7 MB without (the same machine, side by
 *   side, 2026-12-05). The price: that collection of its 15 MB heap took 139-140 ms of main
 *   thread against 66 ms without compaction (`--trace-gc`, the same loaded machine), once a
 *   minute. A node with voice keeps V8's own choice of when to compact, as its audio work runs
 *   on that thread.
 */
export const INTERPRETER_ONLY_FLAGS: readonly string[] = [
  '--max-opt=0',
  '--compact-on-every-full-gc',
];

/** node's flags for the daemon's process, by the node's role */
export function daemonNodeFlags(interpreterOnly: boolean): string[] {
  return [...DAEMON_NODE_FLAGS, ...(interpreterOnly ? INTERPRETER_ONLY_FLAGS : [])];
}

export function binPath(): string {
  return path
    .resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'helix-node.js')
    .replace(`${path.sep}dist${path.sep}bin`, `${path.sep}bin`);
}

export function renderUnit(opts: UnitOptions): string {
  const args = ['join', '--state-dir', opts.stateDir];
  if (opts.configPath) args.push('--config', opts.configPath);
  const exec = [
    process.execPath,
    ...daemonNodeFlags(opts.interpreterOnly ?? false),
    binPath(),
    ...args,
  ]
    .map(quote)
    .join(' ');
  return `[Unit]
Description=HelixOS node (voice and agent mesh)
Documentation=file://${path.resolve(path.dirname(binPath()), '..', 'README.md')}
Wants=network-online.target
After=network-online.target tailscaled.service docker.service

[Service]
Type=simple
ExecStart=${exec}
Restart=on-failure
RestartSec=5
# the node stops its nats-server and containers on SIGTERM
KillSignal=SIGTERM
TimeoutStopSec=30
Environment=NODE_ENV=production
${opts.system ? `User=${opts.user}\n` : ''}
[Install]
WantedBy=${opts.system ? 'multi-user.target' : 'default.target'}
`;
}

export function unitPath(system: boolean): string {
  return system
    ? '/etc/systemd/system/helix-node.service'
    : path.join(os.homedir(), '.config', 'systemd', 'user', 'helix-node.service');
}

export function installUnit(unit: string, system: boolean): { path: string; next: string } {
  const file = unitPath(system);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, unit, { mode: 0o644 });
  const ctl = system ? 'systemctl' : 'systemctl --user';
  return {
    path: file,
    next: `${ctl} daemon-reload && ${ctl} enable --now helix-node${existsSync('/run/systemd/system') ? '' : '  (systemd is not running here)'}`,
  };
}

function quote(s: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`;
}
