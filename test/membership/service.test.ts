/**
 * MembershipService over two real, clustered nats-server processes (127.0.4.x, ports from the OS).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bus } from '../../node/bus/types.js';
import { silentLogger } from '../../node/log.js';
import {
  MembershipService,
  encodeAdvert,
  heartbeatSubject,
  type MembershipTiming,
  type Transition,
} from '../../node/membership/index.js';
import type { PeerView } from '../../node/types.js';
import { MESH_ID, SECRET, advert, advertContent } from './support/advert.js';
import {
  connectTestBus,
  makeTempDir,
  routeCount,
  startNatsServer,
  type RunningNatsServer,
} from './support/nats.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const FAST: MembershipTiming = {
  heartbeat_ms: 100,
  suspect_after_ms: 300,
  dead_after_ms: 1000,
  forget_after_ms: 60_000,
};

let cleanups: (() => Promise<void>)[] = [];
const onCleanup = (fn: () => Promise<void>) => cleanups.push(fn);

afterEach(async () => {
  const errors: unknown[] = [];
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  }
  cleanups = [];
  if (errors.length > 0) throw errors[0];
});

interface Cluster {
  servers: [RunningNatsServer, RunningNatsServer];
  bus(server: 0 | 1): Promise<Bus>;
}

/** Two nats-servers on 127.0.4.1 and 127.0.4.2, routed to each other. */
async function startCluster(): Promise<Cluster> {
  const [c1, r1, m1, c2, r2, m2] = await freePorts(6);
  const temp = await makeTempDir();
  onCleanup(temp.remove);
  const specs = [
    {
      name: 'm1',
      host: '127.0.4.1',
      clientPort: c1!,
      clusterPort: r1!,
      monitorPort: m1!,
    },
    {
      name: 'm2',
      host: '127.0.4.2',
      clientPort: c2!,
      clusterPort: r2!,
      monitorPort: m2!,
    },
  ] as const;
  const servers: RunningNatsServer[] = [];
  for (const [i, spec] of specs.entries()) {
    const other = specs[1 - i]!;
    const server = await startNatsServer(
      { ...spec, routes: [`${other.host}:${other.clusterPort}`] },
      temp.dir,
    );
    onCleanup(server.stop);
    servers.push(server);
  }
  const [s1, s2] = servers as [RunningNatsServer, RunningNatsServer];
  await waitFor(async () => (await routeCount(s1)) >= 1 && (await routeCount(s2)) >= 1, {
    what: 'the two servers to route to each other',
  });
  return {
    servers: [s1, s2],
    async bus(i) {
      const bus = await connectTestBus(servers[i]!.url);
      onCleanup(async () => {
        if (!bus.connection.isClosed()) await bus.close();
      });
      return bus;
    },
  };
}

function service(
  bus: Bus,
  id: string,
  opts: { timing?: MembershipTiming; startedAt?: number } = {},
) {
  const svc = new MembershipService({
    bus,
    meshId: MESH_ID,
    secret: SECRET,
    selfId: id,
    config: opts.timing ?? FAST,
    advert: () => advertContent({ id, name: `node-${id}`, startedAt: opts.startedAt ?? 1000 }),
    logger: silentLogger,
    pingIntervalMs: 100,
    pingTimeoutMs: 500,
    tickMs: 50,
  });
  onCleanup(() => svc.stop());
  return svc;
}

function peer(svc: MembershipService, id: string): PeerView | undefined {
  return svc.view().find((p) => p.id === id);
}

function record(svc: MembershipService, id: string): string[] {
  const seen: string[] = [];
  svc.onChange((t: Transition) => {
    if (t.id === id) seen.push(`${t.from}->${t.to}(${t.reason})`);
  });
  return seen;
}

describe('MembershipService on a two-server NATS cluster', () => {
  let cluster: Cluster;
  beforeEach(async () => {
    cluster = await startCluster();
  });

  it('each node sees the other alive, with its advert and an RTT', async () => {
    const a = service(await cluster.bus(0), 'alpha');
    const b = service(await cluster.bus(1), 'bravo');
    await a.start();
    await b.start();

    const bOnA = await waitFor(
      () => {
        const p = peer(a, 'bravo');
        return p?.state === 'alive' && p.rttMs !== null ? p : undefined;
      },
      { what: 'alpha to see bravo alive with an RTT' },
    );
    const aOnB = await waitFor(
      () => {
        const p = peer(b, 'alpha');
        return p?.state === 'alive' && p.rttMs !== null ? p : undefined;
      },
      { what: 'bravo to see alpha alive with an RTT' },
    );
    expect(bOnA).toMatchObject({ name: 'node-bravo', self: false, addresses: ['100.64.0.1'] });
    expect(bOnA.rttMs).toBeGreaterThan(0);
    expect(aOnB).toMatchObject({ name: 'node-alpha', self: false });
    expect(a.view().map((p) => [p.id, p.self])).toEqual([
      ['alpha', true],
      ['bravo', false],
    ]);
    expect(Object.values(a.drops()).every((n) => n === 0)).toBe(true);
  });

  it('a node that stops cleanly is seen as left at once, not suspect first', async () => {
    // Long silence timeouts: only the bye can explain "left" within this test.
    const slow = { ...FAST, suspect_after_ms: 20_000, dead_after_ms: 30_000 };
    const a = service(await cluster.bus(0), 'alpha', { timing: slow });
    const b = service(await cluster.bus(1), 'bravo', { timing: slow });
    const bOnA = record(a, 'bravo');
    await a.start();
    await b.start();
    await waitFor(() => peer(a, 'bravo')?.state === 'alive', { what: 'alpha to see bravo' });

    await b.stop();
    await waitFor(() => peer(a, 'bravo')?.state === 'left', { what: 'alpha to see bravo left' });
    expect(bOnA).toEqual(['new->alive(advert)', 'alive->left(bye)']);
    expect(peer(a, 'bravo')?.rttMs).toBeNull();
  });

  it('a node whose server dies without a bye goes suspect, then dead', async () => {
    const a = service(await cluster.bus(0), 'alpha');
    const b = service(await cluster.bus(1), 'bravo');
    const bOnA = record(a, 'bravo');
    await a.start();
    await b.start();
    await waitFor(() => peer(a, 'bravo')?.state === 'alive', { what: 'alpha to see bravo' });

    await cluster.servers[1].kill();
    await waitFor(() => peer(a, 'bravo')?.state === 'dead', { what: 'alpha to see bravo dead' });
    expect(bOnA).toEqual([
      'new->alive(advert)',
      'alive->suspect(silence)',
      'suspect->dead(silence)',
    ]);
    // bravo's stop cannot deliver its bye now; it must still stop without throwing
    await expect(b.stop()).resolves.toBeUndefined();
  });

  it('a node that restarts with the same id is alive again with fresh data', async () => {
    const busB = await cluster.bus(1);
    const a = service(await cluster.bus(0), 'alpha');
    const bOnA = record(a, 'bravo');
    await a.start();
    const first = service(busB, 'bravo', { startedAt: 1000 });
    await first.start();
    await waitFor(() => peer(a, 'bravo')?.rttMs != null, {
      what: 'alpha to see bravo with an RTT',
    });
    await first.stop();
    await waitFor(() => peer(a, 'bravo')?.state === 'left', { what: 'alpha to see bravo left' });

    const second = service(busB, 'bravo', { startedAt: 2000 });
    await second.start();
    await waitFor(() => peer(a, 'bravo')?.state === 'alive', { what: 'alpha to see bravo back' });
    expect(bOnA).toEqual(['new->alive(advert)', 'alive->left(bye)', 'left->alive(restart)']);
  });

  it('drops forged, foreign, malformed and mislabelled adverts and keeps running', async () => {
    const a = service(await cluster.bus(0), 'alpha');
    const b = service(await cluster.bus(1), 'bravo');
    await a.start();
    await b.start();
    await waitFor(() => peer(a, 'bravo')?.state === 'alive', { what: 'alpha to see bravo' });
    await waitFor(() => peer(b, 'alpha')?.state === 'alive', { what: 'bravo to see alpha' });

    const rogue = await cluster.bus(1);
    const other = new TextEncoder().encode('not this mesh secret at all........');
    rogue.publish(heartbeatSubject('forger'), encodeAdvert(advert({ id: 'forger' }), other));
    rogue.publish(
      heartbeatSubject('outsider'),
      encodeAdvert(advert({ id: 'outsider', meshId: 'm-2' }), other),
    );
    rogue.publish(heartbeatSubject('garbage'), new TextEncoder().encode('{"advert": nope'));
    rogue.publish(heartbeatSubject('huge'), new Uint8Array(70 * 1024).fill(0x20));
    // correctly signed, but published under another node's subject
    rogue.publish(heartbeatSubject('delta'), encodeAdvert(advert({ id: 'mallory' }), SECRET));
    rogue.publish('helix.v1.node.forger.bye', new TextEncoder().encode('\u0000\u0001'));
    await rogue.flush();

    const expected = {
      forged: 1,
      'wrong-mesh': 1,
      malformed: 2,
      oversized: 1,
      'subject-mismatch': 1,
    };
    for (const svc of [a, b]) {
      await waitFor(
        () => {
          const d = svc.drops();
          return Object.entries(expected).every(([k, n]) => d[k as keyof typeof d] === n);
        },
        { what: `${svc.selfId} to count every drop` },
      );
      expect(svc.drops().schema).toBe(0);
      expect(svc.running).toBe(true);
      expect(
        svc
          .view()
          .map((p) => p.id)
          .sort(),
      ).toEqual(['alpha', 'bravo']);
    }

    // The same path accepts a correctly signed advert, so the drops above were the checks' doing.
    rogue.publish(heartbeatSubject('charlie'), encodeAdvert(advert({ id: 'charlie' }), SECRET));
    await waitFor(() => peer(a, 'charlie')?.state === 'alive', { what: 'alpha to see charlie' });
    expect(peer(b, 'bravo')?.state).toBe('alive');
  });
});
