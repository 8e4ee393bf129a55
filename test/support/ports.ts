/**
 * The one source of TCP ports for tests and benchmarks: the OS picks them (bind port 0, read it
 * back, release it), so no test depends on a fixed port or range, and a HelixOS node running on
 * the same machine (on its default ports or any others) never collides with the suite.
 *
 * Where the code under test can listen on port 0 itself and report the port, prefer that; use
 * these for processes that must be told their port before they start (nats-server, a daemon's
 * config, an address that must stay unused).
 */
import { createServer, type Server } from 'node:net';

/** Ports this process has handed out already; never handed out twice, so callers get distinct ports. */
const handedOut = new Set<number>();

function listen(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * `n` distinct ports that are free on `host` right now (all held at once, then released).
 * The default host, 0.0.0.0, gives ports free on every IPv4 address of this machine, so they
 * suit servers on any loopback address (127.0.x.y).
 */
export async function freePorts(n: number, host = '0.0.0.0'): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < n) {
      const server = await listen(host);
      held.push(server);
      const { port } = server.address() as { port: number };
      if (handedOut.has(port)) continue; // held until the end, so the OS picks another
      handedOut.add(port);
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map(close));
  }
  return ports;
}

/** One port that is free on `host` right now (see freePorts). */
export async function freePort(host = '0.0.0.0'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}
