/**
 * The egress network at the network layer: a real container on the egress network of an engine
 * with its own iptables, in a network namespace of its own ("the host", H), tries TCP and UDP to
 * the host's addresses (the bridge gateway, its LAN address, a public-looking address of its
 * own), a LAN peer and a tailnet peer, and the internet. Only the internet answers.
 *
 * Namespaces (deleted after, with every link and rule in them; the shared engine and the host's
 * own iptables are not touched):
 *   H: the engine, iptables on; veth 192.168.77.1/24; 93.184.216.50/32 on its loopback (a host with a
 *      public address); default route via W.
 *   W: "the LAN and the internet": veth 192.168.77.2/24 (a LAN peer); 100.100.1.1/32 (a tailnet
 *      peer) and 93.184.216.34/32 on its loopback (no dummy interfaces in this kernel), the test double of a public web server (example.com's
 *      former address: the only allowed destination, reachable only inside these namespaces).
 * A packet capture (tcpdump) on W's end of the link shows the refused connections sent nothing past
 * the policy point. Needs root, iproute2, iptables, tcpdump, dockerd and Go (images cannot be pulled: the probe is a static
 * Go binary in a FROM scratch image, ./egress-probe/main.go).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../node/agents/index.js';
import { egressChain, IptablesEgressFirewall } from '../../node/agents/docker/egress-firewall.js';
import { buildRecipe } from '../../node/agents/docker/images.js';
import { startDockerd, type PrivateDockerd } from '../support/docker.js';

const ID = `${process.pid % 100000}`;
const H = `hxe${ID}h`;
const W = `hxe${ID}w`;
const NETWORK = 'helix-test-egress-fw';
const PORT = 18080;
const PROBE_IMAGE = 'helix-test-egress-probe:1';
const IN_H = ['nsenter', `--net=/run/netns/${H}`];
const IN_W = ['nsenter', `--net=/run/netns/${W}`];

function sh(cmd: string[], what = cmd.join(' ')): string {
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${what}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

function listen(prefix: string[], name: string): { child: ChildProcess; lines: string[] } {
  const child = spawn(
    prefix[0] as string,
    [
      ...prefix.slice(1),
      process.execPath,
      '--import',
      'tsx',
      'test/agents/egress-listen-main.ts',
      String(PORT),
      name,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  child.stdout
    ?.setEncoding('utf8')
    .on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
  return { child, lines };
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the egress network reaches only the public internet', () => {
  let dir: string;
  let engine: PrivateDockerd | undefined;
  let runtime: DockerRuntime;
  const listeners: Array<{ child: ChildProcess; lines: string[] }> = [];
  let hostSide: { lines: string[] };
  let internet: { lines: string[] };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'helix-test-egress-fw-'));
    sh(['ip', 'netns', 'add', H]);
    sh(['ip', 'netns', 'add', W]);
    sh(['ip', 'link', 'add', `hxe${ID}a`, 'type', 'veth', 'peer', 'name', `hxe${ID}b`]);
    sh(['ip', 'link', 'set', `hxe${ID}a`, 'netns', H]);
    sh(['ip', 'link', 'set', `hxe${ID}b`, 'netns', W]);
    for (const [ns, cmds] of [
      [
        H,
        [
          'link set lo up',
          `addr add 192.168.77.1/24 dev hxe${ID}a`,
          `link set hxe${ID}a up`,
          'addr add 93.184.216.50/32 dev lo',
          'route add default via 192.168.77.2',
        ],
      ],
      [
        W,
        [
          'link set lo up',
          `addr add 192.168.77.2/24 dev hxe${ID}b`,
          `link set hxe${ID}b up`,
          'addr add 93.184.216.34/32 dev lo',
          'addr add 100.100.1.1/32 dev lo',
        ],
      ],
    ] as const) {
      for (const c of cmds) sh(['ip', '-n', ns, ...c.split(' ')]);
    }

    engine = await startDockerd(path.join(dir, 'dockerd'), { netns: H, iptables: true });
    // The probe image: a static Go binary, FROM scratch.
    const build = path.join(dir, 'probe');
    sh(['mkdir', '-p', build]);
    await writeFile(
      path.join(build, 'main.go'),
      await readFile('test/agents/egress-probe/main.go'),
    );
    await writeFile(path.join(build, 'go.mod'), 'module helix.local/egressprobe\n\ngo 1.19\n');
    await new Promise<void>((resolve, reject) =>
      execFile(
        'go',
        ['build', '-trimpath', '-ldflags', '-s -w', '-o', 'probe', '.'],
        {
          cwd: build,
          env: {
            ...process.env,
            CGO_ENABLED: '0',
            GOPROXY: 'off',
            GOFLAGS: '',
            GOWORK: 'off',
            GOCACHE: path.join(os.tmpdir(), 'helix-go-cache'),
          },
        },
        (err, _o, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve()),
      ),
    );
    await buildRecipe(
      engine.docker,
      {
        agent: 'egress-probe',
        tag: PROBE_IMAGE,
        platform: await new DockerRuntime({ docker: engine.docker }).platform(),
        labels: {},
        files: [
          {
            name: 'Dockerfile',
            mode: 0o644,
            content: Buffer.from(
              'FROM scratch\nCOPY probe /probe\nUSER 65534:65534\nENTRYPOINT ["/probe"]\n',
            ),
          },
          { name: 'probe', mode: 0o755, content: await readFile(path.join(build, 'probe')) },
        ],
      },
      {},
    );

    hostSide = listen(IN_H, 'the host');
    internet = listen(IN_W, 'the internet');
    listeners.push(hostSide as never, internet as never);
    await until(
      'the listeners',
      () => hostSide.lines.includes('ready') && internet.lines.includes('ready'),
    );

    runtime = new DockerRuntime({
      docker: engine.docker,
      egressNetwork: NETWORK,
      egressFirewall: new IptablesEgressFirewall({ prefix: IN_H }),
    });
  }, 180_000);

  afterAll(async () => {
    for (const l of listeners) l.child.kill('SIGKILL');
    await engine?.stop().catch(() => undefined);
    for (const ns of [H, W]) spawnSync('ip', ['netns', 'delete', ns]);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses the host (gateway, LAN and public addresses), the LAN and the tailnet, by TCP and UDP; the internet answers', async () => {
    await runtime.ensureEgressNetwork('probe');
    // Idempotent: a second call (a second run) adds nothing.
    await runtime.ensureEgressNetwork('probe');
    const net = (await engine!.docker.getNetwork(NETWORK).inspect()) as {
      Id: string;
      IPAM: { Config: Array<{ Gateway: string }> };
    };
    const gateway = net.IPAM.Config[0]!.Gateway;
    const bridge = `br-${net.Id.slice(0, 12)}`;
    const rules = sh([...IN_H, 'iptables', '-S']);
    expect(rules.split('\n').filter((l) => l.includes(`-j ${egressChain(bridge)}`))).toHaveLength(
      1,
    );
    expect(rules).toContain(`-A ${egressChain(bridge)} -d 100.64.0.0/10 -j REJECT`);
    expect(rules).toMatch(new RegExp(`-A INPUT -i ${bridge} .*-j REJECT`));

    // A packet capture on the link beyond the policy point (W's end of the veth: the LAN and the
    // internet), running while the probe runs.
    const pcap = path.join(dir, 'beyond-policy.pcap');
    const capture = spawn(
      IN_W[0] as string,
      [
        ...IN_W.slice(1),
        'tcpdump',
        '--immediate-mode',
        '-i',
        `hxe${ID}b`,
        '-nn',
        '-U',
        '-w',
        pcap,
        'ip',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let captureErr = '';
    capture.stderr?.setEncoding('utf8').on('data', (d: string) => (captureErr += d));
    await until('tcpdump', () => captureErr.includes('listening on'), 10_000);

    const refused = [gateway, '192.168.77.1', '93.184.216.50', '192.168.77.2', '100.100.1.1'];
    const targets = [...refused, '93.184.216.34'].map((a) => `${a}:${PORT}`);
    const container = await engine!.docker.createContainer({
      name: `helix-test-egress-probe-${ID}`,
      Image: PROBE_IMAGE,
      Cmd: targets,
      Tty: true,
      HostConfig: { NetworkMode: NETWORK, CapDrop: ['ALL'], ReadonlyRootfs: true },
    });
    await container.start();
    await container.wait();
    const out = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
    await container.remove({ force: true });

    for (const t of refused.map((a) => `${a}:${PORT}`))
      expect(out, out).toMatch(
        new RegExp(`tcp ${t.replace(/\./g, '\\.')} err .*(no route|unreachable|refused|timeout)`),
      );
    expect(out).toContain(`tcp 93.184.216.34:${PORT} ok`);
    // Nothing got past the policy point: the host and the LAN saw no connection and no datagram.
    await until(
      'the allowed datagram',
      () => internet.lines.includes(`udp 93.184.216.34:${PORT}`),
      5000,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(hostSide.lines.filter((l) => l !== 'ready')).toEqual([]);
    expect(internet.lines.filter((l) => l !== 'ready').sort()).toEqual(
      [`conn 93.184.216.34`, `udp 93.184.216.34:${PORT}`].sort(),
    );

    // The capture: the allowed destination's TCP and UDP crossed the link; not one packet for the
    // LAN peer or the tailnet peer did (they were refused at the policy point, before the link).
    capture.kill('SIGINT');
    await new Promise((r) => capture.once('exit', r));
    const packets = sh(['tcpdump', '-nn', '-r', pcap]).split('\n').filter(Boolean);
    const to = (addr: string) => packets.filter((l) => l.includes(`> ${addr}.${PORT}:`));
    expect(
      to('93.184.216.34').some((l) => /Flags \[S\]/.test(l)),
      packets.join('\n'),
    ).toBe(true);
    expect(
      to('93.184.216.34').some((l) => /UDP/.test(l)),
      packets.join('\n'),
    ).toBe(true);
    expect(to('192.168.77.2'), packets.join('\n')).toEqual([]);
    expect(to('100.100.1.1'), packets.join('\n')).toEqual([]);
  }, 60_000);

  it("http.fetch in the engine's namespace fetches from the internet and refuses the host's own public address", async () => {
    const out = sh([
      ...IN_H,
      process.execPath,
      '--import',
      'tsx',
      'test/agents/egress-fetch-main.ts',
      `http://93.184.216.34:${PORT}/`,
      `http://93.184.216.50:${PORT}/`,
    ]);
    const [ok, own] = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(ok).toMatchObject({ ok: true, status: 200, body: 'page from the internet' });
    expect(own).toMatchObject({
      ok: false,
      error: /93\.184\.216\.50, which is not a public address \(it is this host's own\)/,
    });
  }, 30_000);

  it('takes its rules out again', async () => {
    const net = (await engine!.docker.getNetwork(NETWORK).inspect()) as { Id: string };
    const bridge = `br-${net.Id.slice(0, 12)}`;
    await new IptablesEgressFirewall({ prefix: IN_H }).remove(bridge);
    const rules = sh([...IN_H, 'iptables', '-S']) + sh([...IN_H, 'ip6tables', '-S']);
    expect(rules).not.toContain(egressChain(bridge));
    expect(rules).not.toContain('helix egress');
  });
});
