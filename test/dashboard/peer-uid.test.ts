/**
 * peer-uid.ts: the uid of a loopback connection's client end, read from /proc/net/tcp.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { loopbackPeerUid, trustedLocalUser } from '../../node/dashboard/peer-uid.js';

const TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1E64 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A2F0 0100007F:1E64 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1E64 0100007F:A2F0 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
`;

describe('loopbackPeerUid', () => {
  it('finds the client end (its port local, the server port remote), not the server end', () => {
    const read = (p: string) => (p.endsWith('tcp') ? TABLE : '');
    expect(loopbackPeerUid(0xa2f0, 0x1e64, read)).toBe(1000);
    expect(loopbackPeerUid(0xa2f1, 0x1e64, read)).toBeNull();
  });

  it('is null when the table cannot be read (the caller then denies)', () => {
    const read = () => {
      throw new Error('ENOENT');
    };
    expect(loopbackPeerUid(1, 2, read)).toBeNull();
    expect(trustedLocalUser(null, 1000)).toBe(false);
    expect(trustedLocalUser(0, 1000)).toBe(true);
    expect(trustedLocalUser(1000, 1000)).toBe(true);
    expect(trustedLocalUser(1001, 1000)).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')(
    'reads this process’s own uid for a real connection',
    async () => {
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
      const client = net.connect(port, '127.0.0.1');
      const socket = await accepted;
      expect(loopbackPeerUid(socket.remotePort!, port)).toBe(process.getuid!());
      client.destroy();
      socket.destroy();
      server.close();
    },
  );
});
