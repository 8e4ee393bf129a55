/**
 * NATS routes over TLS with the mesh CA (issue 11 point 7), on real nats-servers: members route
 * and carry messages; a server with the right route password but a certificate from another CA,
 * or none, gets no route. Addresses 127.0.1.17-127.0.1.19 (each has its own temp state dir).
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { ensureNodeTls } from '../../node/identity/index.js';
import type { ClusterTlsFiles } from '../../node/bus/index.js';
import { BusHarness, collect, newSecret, publishUntil, routedIds, serverId } from './helpers.js';
import { waitFor } from '../support/wait.js';

const h = new BusHarness();
afterEach(() => h.cleanup());

/** Certificates for a node at `host` from the CA of `secret`, as the daemon makes them. */
async function clusterTls(host: string, secret: Uint8Array): Promise<ClusterTlsFiles> {
  const { tls } = await ensureNodeTls(await h.tempDir(), secret, {
    nodeId: `node-${host}`,
    addresses: [host],
  });
  return { certFile: tls.files.cert, keyFile: tls.files.key, caFile: tls.files.ca };
}

describe('NATS routes over TLS with the mesh CA', () => {
  test('members route to each other over TLS and messages cross; the config names the CA and verify', async () => {
    const secret = newSecret();
    const a = await h.started('127.0.1.17', secret, [], {
      clusterTls: await clusterTls('127.0.1.17', secret),
    });
    const b = await h.started('127.0.1.18', secret, [a.cluster], {
      clusterTls: await clusterTls('127.0.1.18', secret),
    });
    const [idA, idB] = await Promise.all([serverId(a), serverId(b)]);
    await waitFor(
      async () => {
        // nats-server 2.10 pools several routes per peer: one id each
        expect([...new Set(await routedIds(a))]).toEqual([idB]);
        expect([...new Set(await routedIds(b))]).toEqual([idA]);
        return true;
      },
      { timeoutMs: 15_000, what: 'a and b to route to each other' },
    );
    const conf = readFileSync(a.sup.confPath, 'utf8');
    expect(conf).toMatch(
      /tls \{\n\s+cert_file: ".*node-cert\.pem"\n\s+key_file: ".*node-key\.pem"\n\s+ca_file: ".*mesh-ca\.pem"\n\s+verify: true/,
    );
    const routez = (await a.sup.routez()) as unknown as {
      routes: Array<{ tls_required?: boolean }>;
    };
    expect(routez.routes.every((r) => r.tls_required !== false)).toBe(true);
    const [busA, busB] = await Promise.all([h.bus(a, 'a'), h.bus(b, 'b')]);
    const atB = collect(busB, 'helix.test.tls');
    await publishUntil(busA, 'helix.test.tls', 'over tls', () => atB.messages.includes('over tls'));
  }, 40_000);

  test('a server with the route password but a certificate from another CA, or none, gets no route', async () => {
    const secret = newSecret();
    const a = await h.started('127.0.1.17', secret, [], {
      clusterTls: await clusterTls('127.0.1.17', secret),
    });
    // Same mesh secret for the route password, but its certificate comes from a foreign CA.
    const foreign = await h.started('127.0.1.18', secret, [a.cluster], {
      clusterTls: await clusterTls('127.0.1.18', newSecret()),
    });
    // Same route password, no TLS at all.
    const plain = await h.started('127.0.1.19', secret, [a.cluster]);
    const [busA, busF, busP] = await Promise.all([
      h.bus(a, 'a'),
      h.bus(foreign, 'foreign'),
      h.bus(plain, 'plain'),
    ]);
    const atF = collect(busF, 'helix.test.secret');
    const atP = collect(busP, 'helix.test.secret');
    // nats-server retries a route every second: give both several tries.
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      busA.publish('helix.test.secret', new TextEncoder().encode('members only'));
      expect(await routedIds(a)).toEqual([]);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await routedIds(foreign)).toEqual([]);
    expect(await routedIds(plain)).toEqual([]);
    expect(atF.messages).toEqual([]);
    expect(atP.messages).toEqual([]);
  }, 40_000);
});
