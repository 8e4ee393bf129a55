/**
 * Self-tests of the mesh harness: namespaces, links, partitions, the stand-in tailscale, process
 * control and cleanup. Nodes run nats-server (a real clustered process) instead of the daemon, so
 * these tests hold the harness to account on its own. Needs root; addresses 100.64.50.0/24.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MeshHarness, REPO_ROOT } from './mesh.js';
import { NodeExitedError, waitFor } from '../support/wait.js';
import { IP_BIN, listHxtNamespaces, NetnsLab, sweepStale } from './netns.js';
import { FAKE_TAILSCALE } from './tailnet.js';
import { natsServerCommand, toyNodeCommand } from './toy.js';
import { useMeshHarness } from './vitest.js';

const natsAvailable = spawnSync('nats-server', ['--version'], { timeout: 5000 }).status === 0;
const natsCommand = natsServerCommand();

/** Peer servers node i has a route to (nats-server 2.10 pools several connections per peer). */
async function numRoutes(mesh: MeshHarness, i: number): Promise<number> {
  const body = await mesh.netns.httpGet(i, 'http://127.0.0.1:8222/routez', { timeoutMs: 1500 });
  const routes = (JSON.parse(body) as { routes: Array<{ remote_id: string }> | null }).routes ?? [];
  return new Set(routes.map((r) => r.remote_id)).size;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The fields of tailscale's ipnstate.Status / PeerStatus that consumers read, with their wire types.
const Time = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
const PeerStatus = z.object({
  ID: z.string(),
  PublicKey: z.string().regex(/^nodekey:[0-9a-f]{64}$/),
  HostName: z.string(),
  DNSName: z.string(),
  OS: z.string(),
  UserID: z.number().int(),
  TailscaleIPs: z.array(z.string()).nullable(),
  Tags: z.array(z.string().startsWith('tag:')).min(1).optional(),
  Addrs: z.array(z.string()).nullable(),
  CurAddr: z.string(),
  Relay: z.string(),
  RxBytes: z.number().int(),
  TxBytes: z.number().int(),
  Created: Time,
  LastWrite: Time,
  LastSeen: Time,
  LastHandshake: Time,
  Online: z.boolean(),
  ExitNode: z.boolean(),
  ExitNodeOption: z.boolean(),
  Active: z.boolean(),
  InNetworkMap: z.boolean(),
  InMagicSock: z.boolean(),
  InEngine: z.boolean(),
});
const UserProfile = z.object({
  ID: z.number().int(),
  LoginName: z.string(),
  DisplayName: z.string(),
  ProfilePicURL: z.string(),
});
const Status = z.object({
  Version: z.string(),
  TUN: z.boolean(),
  BackendState: z.enum([
    'NoState',
    'NeedsLogin',
    'NeedsMachineAuth',
    'Stopped',
    'Starting',
    'Running',
  ]),
  AuthURL: z.string(),
  TailscaleIPs: z.array(z.string()).nullable(),
  Self: PeerStatus,
  Health: z.array(z.string()).nullable(),
  MagicDNSSuffix: z.string(),
  CurrentTailnet: z
    .object({ Name: z.string(), MagicDNSSuffix: z.string(), MagicDNSEnabled: z.boolean() })
    .nullable(),
  CertDomains: z.array(z.string()).nullable(),
  Peer: z.record(z.string(), PeerStatus).nullable(),
  User: z.record(z.string().regex(/^\d+$/), UserProfile).nullable(),
  ClientVersion: z.object({ RunningLatest: z.boolean() }).nullable(),
});
const WhoIs = z.object({
  Node: z.object({
    ID: z.number().int(),
    StableID: z.string(),
    Name: z.string().endsWith('.'),
    User: z.number().int(),
    Key: z.string().startsWith('nodekey:'),
    Addresses: z.array(z.string()),
    Tags: z.array(z.string()).optional(),
    Online: z.boolean(),
  }),
  UserProfile,
  CapMap: z.record(z.string(), z.unknown()).nullable(),
});

describe('network namespaces', () => {
  const mesh = useMeshHarness(() => new MeshHarness({ nodes: 3, command: natsCommand }));

  it('gives each node its own namespace with its 100.64.50.x address and loopback up', () => {
    for (const n of mesh().nodes) {
      expect(n.namespace).toMatch(/^hxt[a-z0-9]+-\d$/);
      expect(n.address).toBe(`100.64.50.${n.index + 1}`);
      const addrs = spawnSync(IP_BIN, ['-n', n.namespace, '-o', '-4', 'addr', 'show'], {
        encoding: 'utf8',
      }).stdout;
      expect(addrs).toContain(`inet ${n.address}/10`);
      expect(addrs).toMatch(/\blo\s+inet 127\.0\.0\.1\/8/);
    }
    expect(listHxtNamespaces()).toEqual(
      expect.arrayContaining([...mesh().nodes.map((n) => n.namespace), mesh().netns.hubNamespace]),
    );
  });

  it('lets every node reach every other node over the bridge', async () => {
    for (const from of mesh().nodes) {
      for (const to of mesh().nodes) {
        if (from.index !== to.index)
          expect(
            await mesh().netns.reach(from.index, to.address),
            `${from.name} -> ${to.name}`,
          ).toBe(true);
      }
    }
  });

  it('blocks traffic to and from a partitioned node and restores it on heal', async () => {
    const m = mesh();
    m.partition(1);
    expect(m.netns.isLinkUp(1)).toBe(false);
    expect(await m.netns.reach(0, m.info(1).address, { timeoutMs: 800 })).toBe(false);
    expect(await m.netns.reach(1, m.info(2).address, { timeoutMs: 800 })).toBe(false);
    // the rest of the mesh is unaffected
    expect(await m.netns.reach(0, m.info(2).address)).toBe(true);
    m.heal(1);
    expect(m.netns.isLinkUp(1)).toBe(true);
    await waitFor(() => m.netns.reach(0, m.info(1).address), {
      intervalMs: 200,
      timeoutMs: 10_000,
      what: 'node1 reachable after heal',
    });
    expect(await m.netns.reach(1, m.info(0).address)).toBe(true);
  });

  it('keeps a namespace out of the host network', async () => {
    // nothing on the host's interfaces is on-link in a node namespace: only lo and the veth
    const links = spawnSync(IP_BIN, ['-n', mesh().info(0).namespace, '-o', 'link', 'show'], {
      encoding: 'utf8',
    }).stdout;
    const names = links
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(':')[1]?.trim().split('@')[0]);
    expect(names.sort()).toEqual([mesh().netns.node(0).link, 'lo'].sort());
  });
});

describe('stand-in tailscale', () => {
  const mesh = useMeshHarness(
    () =>
      new MeshHarness({
        nodes: 4,
        command: natsCommand,
        node: [
          {},
          { tags: ['tag:helix'] },
          { user: { id: 2002, loginName: 'bob@example.com' } },
          { online: false },
        ],
      }),
  );

  async function tailscale(i: number, ...args: string[]) {
    return mesh().run(i, 'tailscale', args, { timeoutMs: 10_000 });
  }

  it('is first on a node PATH and prints status JSON in the shape of ipnstate.Status', async () => {
    const res = await tailscale(0, 'status', '--json');
    expect(res.code).toBe(0);
    const st = Status.parse(JSON.parse(res.stdout));
    expect(st.BackendState).toBe('Running');
    expect(st.Self.HostName).toBe('node0');
    expect(st.Self.DNSName).toBe('node0.tailnet-hxt.ts.net.');
    expect(st.TailscaleIPs?.[0]).toBe('100.64.50.1');
    expect(st.Self.TailscaleIPs?.[1]).toMatch(/^fd7a:115c:a1e0:/);
    expect(st.CurrentTailnet?.MagicDNSSuffix).toBe(st.MagicDNSSuffix);
    // Peer is keyed by each peer's public key and lists every other node, never itself
    const peers = Object.entries(st.Peer ?? {});
    expect(peers.map(([, p]) => p.HostName).sort()).toEqual(['node1', 'node2', 'node3']);
    for (const [key, p] of peers) {
      expect(key).toBe(p.PublicKey);
      expect(p.DNSName.endsWith('.tailnet-hxt.ts.net.')).toBe(true);
      expect(st.User?.[String(p.UserID)]).toBeDefined();
    }
  });

  it('omits Tags on untagged nodes, lists other owners and marks offline peers', async () => {
    const st = Status.parse(JSON.parse((await tailscale(0, 'status', '--json')).stdout));
    const byName = new Map(Object.values(st.Peer ?? {}).map((p) => [p.HostName, p]));
    const raw = JSON.parse((await tailscale(0, 'status', '--json')).stdout) as {
      Self: object;
      Peer: Record<string, object>;
    };
    expect('Tags' in raw.Self).toBe(false);
    expect(byName.get('node1')?.Tags).toEqual(['tag:helix']);
    expect(byName.get('node2')?.UserID).toBe(2002);
    expect(st.User?.['2002']?.LoginName).toBe('bob@example.com');
    expect(byName.get('node3')?.Online).toBe(false);
    expect(byName.get('node0')).toBeUndefined();
    // every node agrees on each node's key
    const fromNode2 = Status.parse(JSON.parse((await tailscale(2, 'status', '--json')).stdout));
    expect(Object.values(fromNode2.Peer ?? {}).find((p) => p.HostName === 'node0')?.PublicKey).toBe(
      st.Self.PublicKey,
    );
  });

  it('answers ip -4 with the node address', async () => {
    const res = await tailscale(1, 'ip', '-4');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('100.64.50.2\n');
  });

  it('answers whois --json for a known address and fails like tailscale for an unknown one', async () => {
    const known = await tailscale(0, 'whois', '--json', '100.64.50.3');
    expect(known.code).toBe(0);
    const who = WhoIs.parse(JSON.parse(known.stdout));
    expect(who.UserProfile.LoginName).toBe('bob@example.com');
    expect(who.Node.Name).toBe('node2.tailnet-hxt.ts.net.');
    expect(who.Node.Tags).toBeUndefined();

    const tagged = WhoIs.parse(
      JSON.parse((await tailscale(0, 'whois', '--json', '100.64.50.2:7700')).stdout),
    );
    expect(tagged.Node.Tags).toEqual(['tag:helix']);
    expect(tagged.UserProfile.LoginName).toBe('tagged-devices');

    const unknown = await tailscale(0, 'whois', '--json', '100.64.99.99');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('peer not found');
    expect(unknown.stdout).toBe('');
  });

  it('rejects an unknown subcommand with a usage line', async () => {
    const res = await tailscale(0, 'frobnicate');
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/unknown subcommand/);
    expect(res.stderr).toMatch(/USAGE/);
  });

  it('reports a backend that is not running, live, after setTailnet', async () => {
    const m = mesh();
    m.setTailnet(0, { backendState: 'NeedsLogin' });
    try {
      const json = await tailscale(0, 'status', '--json');
      expect(json.code).toBe(0);
      const st = Status.parse(JSON.parse(json.stdout));
      expect(st.BackendState).toBe('NeedsLogin');
      expect(st.Peer).toBeNull();
      expect(st.TailscaleIPs).toBeNull();
      const text = await tailscale(0, 'status');
      expect(text.code).toBe(1);
      expect(text.stdout).toContain('Logged out.');
      const ip = await tailscale(0, 'ip', '-4');
      expect(ip.code).toBe(1);
      expect(ip.stderr).toContain('no current Tailscale IPs; state: NeedsLogin');
    } finally {
      m.setTailnet(0, { backendState: 'Running' });
    }
    expect(
      Status.parse(JSON.parse((await tailscale(0, 'status', '--json')).stdout)).BackendState,
    ).toBe('Running');
  });

  it('fails like a stopped tailscaled when no world is configured', () => {
    const res = spawnSync(process.execPath, [FAKE_TAILSCALE, 'status', '--json'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      timeout: 10_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(
      "failed to connect to local tailscaled; it doesn't appear to be running",
    );
  });

  it('is absent from the PATH of a node that is not on the tailnet', async () => {
    const off = new MeshHarness({
      nodes: 2,
      tailnet: false,
      command: natsCommand,
      subnet: '100.64.50',
    });
    await off.start();
    try {
      const res = await off.run(0, 'sh', ['-c', 'command -v tailscale || echo none']);
      expect(res.stdout.trim()).toBe('none');
      expect(off.world(0).peers).toEqual([]);
    } finally {
      await off.cleanup();
    }
  });
});

describe.skipIf(!natsAvailable)('nodes as processes (nats-server cluster)', () => {
  const mesh = useMeshHarness(() => new MeshHarness({ nodes: 3, command: natsCommand }));

  it('starts a process per namespace and the cluster forms over the 100.64 addresses', async () => {
    const m = mesh();
    for (const n of m.nodes) m.startNode(n.index);
    for (const n of m.nodes) {
      await waitFor(async () => (await numRoutes(m, n.index)) === 2, {
        intervalMs: 200,
        timeoutMs: 20_000,
        what: `${n.name} to have 2 routes`,
      });
    }
    const routez = JSON.parse(await m.netns.httpGet(0, 'http://127.0.0.1:8222/routez?subs=0')) as {
      routes: Array<{ ip: string }>;
    };
    expect([...new Set(routez.routes.map((r) => r.ip))].sort()).toEqual([
      '100.64.50.2',
      '100.64.50.3',
    ]);
    expect(m.log(0)).toMatch(/Listening for route connections on 100\.64\.50\.1:6222/);
  });

  it('drops the routes of a node killed with SIGKILL and restarts it', async () => {
    const m = mesh();
    const pid = m.pid(2)!;
    m.kill(2, 'SIGKILL');
    const exit = await m.exited(2, { timeoutMs: 10_000 });
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(alive(pid)).toBe(false);
    expect(m.isRunning(2)).toBe(false);
    for (const i of [0, 1])
      await waitFor(async () => (await numRoutes(m, i)) === 1, {
        intervalMs: 200,
        timeoutMs: 20_000,
        what: `node${i} to drop node2's route`,
      });
    m.startNode(2);
    for (const i of [0, 1, 2])
      await waitFor(async () => (await numRoutes(m, i)) === 2, {
        intervalMs: 200,
        timeoutMs: 30_000,
        what: `node${i} to have 2 routes again`,
      });
  });

  it('pauses a node (SIGSTOP) so it stops answering, and resumes it (SIGCONT)', async () => {
    const m = mesh();
    m.pause(1);
    // SIGSTOP takes effect when the kernel next schedules the process, not when kill() returns.
    const procState = (): string => {
      const stat = readFileSync(`/proc/${m.pid(1)}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    };
    await waitFor(async () => procState() === 'T', {
      intervalMs: 200,
      timeoutMs: 2_000,
      what: `node1 (pid ${m.pid(1)}) to show state T (stopped)`,
    });
    await expect(
      m.netns.httpGet(1, 'http://127.0.0.1:8222/varz', { timeoutMs: 800 }),
    ).rejects.toThrow();
    m.resume(1);
    await waitFor(async () => (await numRoutes(m, 1)) >= 1, {
      intervalMs: 200,
      timeoutMs: 10_000,
      what: 'node1 to answer after SIGCONT',
    });
  });

  it('cuts a partitioned node off from its peers while it keeps running', async () => {
    const m = mesh();
    m.partition(0);
    try {
      expect(m.isRunning(0)).toBe(true);
      expect(await m.netns.reach(1, m.info(0).address, { timeoutMs: 800 })).toBe(false);
      // loopback inside the partitioned node still works
      expect(await numRoutes(m, 0)).toBeGreaterThanOrEqual(0);
    } finally {
      m.heal(0);
    }
    await waitFor(() => m.netns.reach(1, m.info(0).address), {
      intervalMs: 200,
      timeoutMs: 10_000,
      what: 'node0 reachable after heal',
    });
  });

  it('stops a node with SIGTERM and leaves nothing running in its namespace', async () => {
    const m = mesh();
    const result = await m.stopNode(1, { timeoutMs: 10_000 });
    expect(result.forced).toBe(false);
    expect(result.leftovers).toEqual([]);
    expect(m.netns.pids(1)).toEqual([]);
  });
});

describe('views, kills, pauses and partitions (toy nodes)', () => {
  const mesh = useMeshHarness(() => new MeshHarness({ nodes: 3, command: toyNodeCommand() }));
  const all = [0, 1, 2];

  it('converges: every node sees every other alive', async () => {
    const m = mesh();
    for (const i of all) m.startNode(i);
    const views = await m.waitForConvergence({ timeoutMs: 20_000 });
    expect([...views.keys()]).toEqual(all);
    for (const [i, v] of views) {
      expect(v?.self.name).toBe(m.info(i).name);
      expect(v?.nodes.map((n) => n.name).sort()).toEqual(['node0', 'node1', 'node2']);
    }
  });

  it('sees a node killed with SIGKILL go dead, and alive with the same id after a restart', async () => {
    const m = mesh();
    const before = await m.status(1);
    m.kill(1, 'SIGKILL');
    await m.waitForState([0, 2], 1, 'dead', { timeoutMs: 20_000 });
    await expect(m.status(1)).rejects.toThrow(/status of node 1 \(node1\) failed/);
    m.startNode(1);
    const views = await m.waitForState([0, 2], 1, 'alive', { timeoutMs: 20_000 });
    const idSeenBy0 = views.get(0)?.nodes.find((n) => n.name === 'node1')?.id;
    expect(idSeenBy0).toBe(before.self.id);
    await m.waitForConvergence({ timeoutMs: 20_000 });
  });

  it('sees a paused node go silent and come back after SIGCONT', async () => {
    const m = mesh();
    m.pause(2);
    await m.waitForState([0, 1], 2, 'dead', { timeoutMs: 20_000 });
    expect(await m.tryStatus(2)).toBeNull();
    m.resume(2);
    await m.waitForConvergence({ timeoutMs: 20_000 });
  });

  it('splits a partitioned node from the rest and rejoins it on heal', async () => {
    const m = mesh();
    m.partition(0);
    try {
      await m.waitForState([1, 2], 0, 'dead', { timeoutMs: 20_000 });
      // the partitioned node keeps running and sees the others dead
      await m.waitForState([0], 1, 'dead', { timeoutMs: 20_000 });
    } finally {
      m.heal(0);
    }
    await m.waitForConvergence({ timeoutMs: 20_000 });
  });

  it('sees a node stopped with SIGTERM as left', async () => {
    const m = mesh();
    const stopped = await m.stopNode(2);
    expect(stopped).toMatchObject({ code: 0, forced: false, leftovers: [] });
    await m.waitForState([0, 1], 2, 'left', { timeoutMs: 20_000 });
  });

  it('ends a wait at once when a node it depends on has exited', async () => {
    const m = mesh();
    await expect(m.waitForConvergence({ timeoutMs: 60_000, members: all })).rejects.toThrow(
      NodeExitedError,
    );
    await expect(m.waitForStatus(2, { timeoutMs: 60_000 })).rejects.toThrow(
      /node 2 \(node2\) exited \(code 0/,
    );
  });

  it('writes each node its own helix.toml with its mesh address', () => {
    const m = mesh();
    for (const n of m.nodes) {
      const toml = readFileSync(n.configPath, 'utf8');
      expect(toml).toContain(`address = "${n.address}"`);
      expect(toml).toContain(`name = "${n.name}"`);
      expect(m.configTree(n.index)).toMatchObject({
        mesh: { address: n.address },
        discovery: { mdns: false },
      });
    }
  });
});

describe('cleanup', () => {
  // Made in beforeAll, not at collection: a run filtered with -t collects this block without
  // running its hooks, and would leave the dir behind.
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hxt-selftest-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it.skipIf(!natsAvailable)('leaves no namespace, no process and no temp dir behind', async () => {
    const m = new MeshHarness({ nodes: 3, command: natsCommand });
    await m.start();
    for (const n of m.nodes) m.startNode(n.index);
    m.pause(2);
    await waitFor(async () => (await numRoutes(m, 0)) >= 1, {
      intervalMs: 200,
      timeoutMs: 20_000,
      what: 'a route on node0',
    });
    const pids = m.nodes.flatMap((n) => m.netns.pids(n.index));
    expect(pids.length).toBeGreaterThanOrEqual(3);
    const namespaces = [...m.nodes.map((n) => n.namespace), m.netns.hubNamespace];
    const dir = path.dirname(m.info(0).dir);
    await m.cleanup();
    const left = listHxtNamespaces();
    for (const ns of namespaces) expect(left).not.toContain(ns);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(spawnSync(IP_BIN, ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout).not.toMatch(
      new RegExp(`hxt${m.netns.runId}`),
    );
  });

  /** A separate process that builds a lab, starts `sleep` in it, says "ready" and waits. */
  function labProcess(): ReturnType<typeof spawn> {
    const script = path.join(tmp, 'lab.mts');
    writeFileSync(
      script,
      `import { NetnsLab } from ${JSON.stringify(path.join(REPO_ROOT, 'test/harness/netns.ts'))};
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
const lab = NetnsLab.create({ nodes: 2 });
const dir = path.join(os.tmpdir(), \`hxt-\${lab.runId}-selftest\`);
mkdirSync(dir);
lab.removeOnCleanup(dir);
lab.exec(0, 'sleep', ['300']);
setTimeout(() => console.log(JSON.stringify({ ns: lab.nodes.map((n) => n.namespace).concat(lab.hubNamespace), pids: lab.pids(0), dir })), 300);
setInterval(() => {}, 1000);
`,
    );
    return spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  }

  async function readyOf(
    child: ReturnType<typeof spawn>,
  ): Promise<{ ns: string[]; pids: number[]; dir: string }> {
    let out = '';
    return waitFor(
      () => {
        out += child.stdout?.read()?.toString() ?? '';
        return out.includes('\n')
          ? (JSON.parse(out.split('\n')[0]!) as { ns: string[]; pids: number[]; dir: string })
          : null;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: 'the lab process to be ready' },
    );
  }

  it('removes its namespaces, processes and temp dir when its process gets SIGTERM', async () => {
    const child = labProcess();
    const { ns, pids, dir } = await readyOf(child);
    expect(listHxtNamespaces()).toEqual(expect.arrayContaining(ns));
    expect(pids.length).toBe(1);
    expect(existsSync(dir)).toBe(true);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const left = listHxtNamespaces();
    for (const n of ns) expect(left).not.toContain(n);
    expect(existsSync(dir)).toBe(false);
    await waitFor(() => !alive(pids[0]!), {
      intervalMs: 200,
      timeoutMs: 5000,
      what: 'sleep to die',
    });
  });

  it('sweeps the namespaces, processes and temp dir a crashed run left behind', async () => {
    const child = labProcess();
    const { ns, pids, dir } = await readyOf(child);
    child.kill('SIGKILL'); // no exit handler runs: this is the crash
    await new Promise((r) => child.once('exit', r));
    expect(listHxtNamespaces()).toEqual(expect.arrayContaining(ns));
    expect(alive(pids[0]!)).toBe(true);
    expect(existsSync(dir)).toBe(true);
    const removed = sweepStale();
    expect(removed).toEqual(expect.arrayContaining(ns));
    const left = listHxtNamespaces();
    for (const n of ns) expect(left).not.toContain(n);
    expect(existsSync(dir)).toBe(false);
    await waitFor(() => !alive(pids[0]!), {
      intervalMs: 200,
      timeoutMs: 5000,
      what: 'the orphaned sleep to die',
    });
  });

  it('does not sweep the namespaces of a live run', () => {
    const lab = NetnsLab.create({ nodes: 1 });
    try {
      sweepStale();
      expect(listHxtNamespaces()).toContain(lab.node(0).namespace);
    } finally {
      lab.cleanupSync();
    }
  });

  it('refuses more than 10 nodes', () => {
    expect(() => new MeshHarness({ nodes: 11 })).toThrow(/1 to 10/);
    expect(() => NetnsLab.create({ nodes: 0 })).toThrow(/1 to 10/);
  });

  it('rejects a config override the schema does not allow, and leaves nothing behind', async () => {
    const m = new MeshHarness({
      nodes: 2,
      command: toyNodeCommand(),
      config: { mesh: { adress: 'x' } },
    });
    await expect(m.start()).rejects.toThrow(/helix.toml for node 0 is invalid/);
    expect(listHxtNamespaces().filter((n) => n.startsWith(`hxt${m.netns.runId}`))).toEqual([]);
  });
});
