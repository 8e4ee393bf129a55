import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema, loadConfig, locateConfig, parseConfig } from '../../node/config/index.js';
import { MAX_CONFIG_BYTES } from '../../node/config/locate.js';
import { ConfigError } from '../../node/errors.js';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'helix-config-'));
  tmpDirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('config', () => {
  it('the example helix.toml documents exactly the defaults', () => {
    const fromFile = loadConfig({ configPath: path.join(repoRoot, 'helix.toml'), env: {} }).config;
    expect(fromFile).toEqual(parseConfig({}));
  });

  it('the example helix.toml mentions every key of every section', () => {
    const text = readFileSync(path.join(repoRoot, 'helix.toml'), 'utf8');
    const missing: string[] = [];
    for (const [section, schema] of Object.entries(ConfigSchema.shape)) {
      if (!text.includes(`[${section}`)) missing.push(`[${section}]`);
      const inner = (
        schema as unknown as {
          def: { innerType: { shape?: object; def?: { in?: { shape?: object } } } };
        }
      ).def.innerType;
      const shape = inner.shape ?? inner.def?.in?.shape ?? {};
      for (const key of Object.keys(shape)) {
        const mentioned =
          new RegExp(`^#? ?${key} = `, 'm').test(text) || text.includes(`[${section}.${key}]`);
        if (!mentioned) missing.push(`${section}.${key}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it.each([
    [{ mesh: { rpc_port: 'x' } }, 'mesh.rpc_port', /expected number/],
    [{ mesh: { rpc_port: 70000 } }, 'mesh.rpc_port', /65535/],
    [{ mesh: { bogus: 1 } }, 'mesh.bogus', /allowed: address, rpc_port, cluster_port/],
    [{ bogus: {} }, 'bogus', /allowed: node, mesh/],
    [{ mesh: { address: '0.0.0.0.1' } }, 'mesh.address', /IPv4/i],
    [
      { membership: { suspect_after_ms: 20000 } },
      'membership.suspect_after_ms',
      /less than dead_after_ms/,
    ],
    [{ discovery: { static_peers: ['a b'] } }, 'discovery.static_peers.0', /host or IP/],
    [{ discovery: { tailscale_tag: 'helix' } }, 'discovery.tailscale_tag', /tag:/],
    [{ stt: { engine: 'foo' } }, 'stt.engine', /whisper/],
    [{ node: { name: '-bad name' } }, 'node.name', /letters, digits/],
    [
      { agents: { platform: 'linux/s390x' } },
      'agents.platform',
      /use one of linux\/amd64, linux\/arm64, linux\/arm\/v7/,
    ],
  ])('rejects %j naming the key, the value and what is allowed', (tree, key, allowed) => {
    let caught: unknown;
    try {
      parseConfig(tree);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.key).toBe(key);
    expect(err.message).toContain(key);
    expect(err.message).toMatch(allowed);
    expect(err.exitCode).toBe(78);
  });

  it("reads agents.platform in its normal form; empty is the engine's own", () => {
    expect(parseConfig({}).agents.platform).toBe('');
    expect(parseConfig({ agents: { platform: 'aarch64' } }).agents.platform).toBe('linux/arm64');
    expect(parseConfig({ agents: { platform: 'armhf' } }).agents.platform).toBe('linux/arm/v7');
  });

  it('merges file < environment < flags', () => {
    const dir = tmp();
    const file = path.join(dir, 'helix.toml');
    writeFileSync(file, '[mesh]\nrpc_port = 7001\ncluster_port = 7002\n[log]\nlevel = "warn"\n');
    const { config, configPath } = loadConfig({
      configPath: file,
      env: {
        HELIX_MESH_CLUSTER_PORT: '7003',
        HELIX_LOG_LEVEL: 'debug',
        HELIX_DISCOVERY_STATIC_PEERS: '["100.64.0.9"]',
      },
      overrides: { 'log.level': 'error' },
    });
    expect(configPath).toBe(file);
    expect(config.mesh.rpc_port).toBe(7001);
    expect(config.mesh.cluster_port).toBe(7003);
    expect(config.discovery.static_peers).toEqual(['100.64.0.9']);
    expect(config.log.level).toBe('error');
  });

  it('rejects an unknown HELIX_ variable and a TOML syntax error with its line', () => {
    expect(() => loadConfig({ env: { HELIX_NOPE_X: '1' } })).toThrow(
      /HELIX_NOPE_X.*HELIX_<SECTION>_<KEY>/,
    );
    const dir = tmp();
    const file = path.join(dir, 'helix.toml');
    writeFileSync(file, '[mesh]\nrpc_port = = 1\n');
    expect(() => loadConfig({ configPath: file, env: {} })).toThrow(/not valid TOML at line 2/);
  });

  it('fails clearly when --config names a missing file', () => {
    expect(() => loadConfig({ configPath: '/nonexistent/helix.toml', env: {} })).toThrow(
      /does not exist/,
    );
  });

  // issue 11: every file reader takes regular files only (a FIFO hung the reader, /dev/zero
  // grew it without bound: readFileSync believes the size of 0)
  it('refuses a directory, a FIFO and a device as --config at once, saying what each is', () => {
    const dir = tmp();
    const fifo = path.join(dir, 'helix.toml');
    execFileSync('mkfifo', [fifo]);
    for (const [file, kind] of [
      [dir, 'a directory'],
      [fifo, 'a FIFO \\(named pipe\\)'],
      ['/dev/zero', 'a character device'],
    ] as const) {
      expect(() => loadConfig({ configPath: file, env: {} })).toThrow(ConfigError);
      expect(() => locateConfig({ configPath: file, env: {} })).toThrow(
        new RegExp(`this is ${kind}, not a regular file; pass a helix.toml file`),
      );
    }
    const big = path.join(dir, 'big.toml');
    writeFileSync(big, `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    expect(() => loadConfig({ configPath: big, env: {} })).toThrow(/over the 1048576-byte limit/);
  });

  it('takes the state dir from the flag, the environment, or the file', () => {
    const dir = tmp();
    const file = path.join(dir, 'helix.toml');
    writeFileSync(file, '[node]\nstate_dir = "state"\n');
    expect(loadConfig({ configPath: file, env: {} }).stateDir).toBe(path.join(dir, 'state'));
    expect(loadConfig({ configPath: file, env: { HELIX_STATE_DIR: '/x/y' } }).stateDir).toBe(
      '/x/y',
    );
    expect(loadConfig({ configPath: file, stateDir: '/a/b', env: {} }).stateDir).toBe('/a/b');
  });

  it('locates the same state dir as loadConfig without validating (the CLI fast path)', () => {
    const dir = tmp();
    const file = path.join(dir, 'helix.toml');
    // rpc_port is invalid: loadConfig refuses the file, locateConfig only finds the state dir
    writeFileSync(file, '[node]\nstate_dir = "state"\n[mesh]\nrpc_port = "seven"\n');
    expect(locateConfig({ configPath: file, env: {} }).stateDir).toBe(path.join(dir, 'state'));
    expect(() => loadConfig({ configPath: file, env: {} })).toThrow(ConfigError);
    const cases: Array<{ env: NodeJS.ProcessEnv; stateDir?: string }> = [
      { env: {} },
      { env: { HELIX_STATE_DIR: '/x/y' } },
      { env: { HELIX_NODE_STATE_DIR: '/n/s' } },
      { env: { HELIX_NODE_STATE_DIR: '/n/s', HELIX_STATE_DIR: '/x/y' } },
      { env: { HELIX_NODE_STATE_DIR: '/n/s' }, stateDir: '/a/b' },
    ];
    writeFileSync(file, '[node]\nstate_dir = "state"\n');
    for (const c of cases) {
      const opts = { configPath: file, env: c.env, stateDir: c.stateDir };
      expect(locateConfig(opts).stateDir, JSON.stringify(c)).toBe(loadConfig(opts).stateDir);
    }
    expect(locateConfig({ configPath: file, env: { HELIX_NODE_STATE_DIR: '/n/s' } }).stateDir).toBe(
      '/n/s',
    );
  });
});

describe('describeError', () => {
  it('names each cause once, skipping causes the message already quotes', async () => {
    const { describeError } = await import('../../node/errors.js');
    const inner = new Error('7 PERMISSION_DENIED: invite already used');
    const quoted = new Error('join refused: 7 PERMISSION_DENIED: invite already used', {
      cause: inner,
    });
    expect(describeError(new Error('helix-node could not join', { cause: quoted }))).toBe(
      'helix-node could not join (cause: join refused: 7 PERMISSION_DENIED: invite already used)',
    );
    expect(describeError(new Error('a', { cause: new Error('b') }))).toBe('a (cause: b)');
  });
});
