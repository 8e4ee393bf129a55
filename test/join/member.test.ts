/** Only members get NATS routes: a peer must prove the mesh secret for its own address first. */
import { afterAll, describe, expect, it } from 'vitest';
import { JoinService, MemberGate, verifyMember } from '../../node/join/index.js';
import { RpcClients, RpcServer, routeGrpcLogs } from '../../node/rpc/index.js';
import { silentLogger } from '../../node/log.js';
import { meshSecret, tempDir } from '../rpc/helpers.js';
import { freePort } from '../support/ports.js';

routeGrpcLogs(silentLogger);
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function memberAt(address: string, secret: Buffer, selfAddress = address) {
  const { dir, remove } = tempDir('member');
  cleanups.push(remove);
  const port = await freePort();
  const server = new RpcServer({ addresses: [address], port, secret, shutdownTimeoutMs: 500 });
  new JoinService({
    self: { id: `id-${address}`, name: `node-${address}` },
    selfAddress,
    stateDir: dir,
    meshId: 'mesh-test',
    secret,
    allowedTags: [],
    members: () => [],
  }).register(server);
  await server.start();
  cleanups.push(() => server.stop());
  return { address, port };
}

describe('proving membership before routing', () => {
  const secret = meshSecret();
  const clients = new RpcClients({ nodeId: 'asker', secret });
  cleanups.push(() => clients.close());
  const verify = (address: string, rpcPort: number, s = secret) =>
    verifyMember({ clients, address, rpcPort, secret: s, selfId: 'asker', timeoutMs: 3000 });

  it('a member proves the secret for its own address', async () => {
    const m = await memberAt('127.0.3.30', secret);
    expect(await verify(m.address, m.port)).toEqual({
      id: 'id-127.0.3.30',
      name: 'node-127.0.3.30',
      meshId: 'mesh-test',
    });
  });

  it('a node of another mesh cannot (its Ping refuses our proof, and it cannot sign)', async () => {
    const other = await memberAt('127.0.3.31', meshSecret());
    expect(await verify(other.address, other.port)).toBeNull();
  });

  it('a proof made for another address does not count (a relay cannot answer for a member)', async () => {
    const relay = await memberAt('127.0.3.32', secret, '127.0.3.99');
    expect(await verify(relay.address, relay.port)).toBeNull();
  });

  it('nothing listening is simply not a member', async () => {
    expect(await verify('127.0.3.33', await freePort())).toBeNull();
  });
});

describe('MemberGate', () => {
  it('passes mesh-learned sources at once and others only once proved; retries the unproved', async () => {
    const members = new Set(['10.0.0.2']);
    const asked: string[] = [];
    let changes = 0;
    const gate = new MemberGate({
      verify: async (c) => {
        asked.push(c.address);
        return members.has(c.address) ? { id: c.address, name: c.address, meshId: 'm' } : null;
      },
      onChange: () => (changes += 1),
      retryMs: 20,
    });
    gate.start();
    try {
      const candidates = [
        { address: '10.0.0.1', source: 'advert' },
        { address: '10.0.0.2', source: 'tailscale' },
        { address: '10.0.0.3', source: 'static' },
      ];
      expect(gate.filter(candidates).map((c) => c.address)).toEqual(['10.0.0.1']);
      await new Promise((r) => setTimeout(r, 10));
      expect(gate.filter(candidates).map((c) => c.address)).toEqual(['10.0.0.1', '10.0.0.2']);
      expect(changes).toBe(1);
      members.add('10.0.0.3'); // a peer that joins the mesh later
      await new Promise((r) => setTimeout(r, 100));
      expect(gate.filter(candidates).map((c) => c.address)).toEqual([
        '10.0.0.1',
        '10.0.0.2',
        '10.0.0.3',
      ]);
      expect(asked).not.toContain('10.0.0.1');
    } finally {
      gate.stop();
    }
  });
});
