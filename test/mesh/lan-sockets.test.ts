import { describe, expect, it } from 'vitest';
import { useMeshHarness } from '../harness/vitest.js';
import { WILDCARD_HOSTS, daemonMesh, meshAvailable, parseSs, startMesh } from './helpers.js';

/**
 * Point 8: "No listener binds 0.0.0.0", UDP included: with LAN discovery on, the mDNS socket is
 * bound to the group address 224.0.0.251, never to every interface.
 */
describe.runIf(meshAvailable)('a node on a plain LAN (mDNS on)', () => {
  const mesh = useMeshHarness(() => daemonMesh({ nodes: 1, subnet: '100.64.66', tailnet: false }), {
    tailLines: 20,
  });

  it('opens no UDP socket on every interface', async () => {
    await startMesh(mesh(), [0], { timeoutMs: 30_000 });
    await mesh().waitFor(() => /mDNS discovery started/.test(mesh().log(0)), {
      timeoutMs: 10_000,
      what: 'mDNS to start',
    });
    const udp = await mesh().run(0, 'ss', ['-lunpH'], { timeoutMs: 10_000 });
    expect(udp.code, udp.stderr).toBe(0);
    expect(parseSs(udp.stdout).filter((l) => WILDCARD_HOSTS.has(l.host))).toEqual([]);
  }, 60_000);
});
