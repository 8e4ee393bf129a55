#!/usr/bin/env node
/**
 * Network checks run inside a namespace with `ip netns exec` (no ping or curl needed):
 *   netprobe.mjs reach <host> <port> <timeoutMs>   exit 0 if the host answered (connected or refused), 1 if not
 *   netprobe.mjs get <url> <timeoutMs>             print the body of a GET; exit 1 on any failure
 *   netprobe.mjs listen <host> <port>              accept and close TCP connections until killed; prints "listening"
 * A refused connection proves the packet reached the host and came back, which is what ping would show.
 */
/* global fetch, AbortSignal */
import net from 'node:net';
import process from 'node:process';

const [mode, a, b, c] = process.argv.slice(2);

function reach(host, port, timeoutMs) {
  const socket = net.connect({ host, port: Number(port) });
  const done = (ok, why) => {
    socket.destroy();
    process.stdout.write(`${ok ? 'reachable' : 'unreachable'} ${why}\n`);
    process.exit(ok ? 0 : 1);
  };
  socket.setTimeout(Number(timeoutMs), () => done(false, 'timeout'));
  socket.on('connect', () => done(true, 'connected'));
  socket.on('error', (err) => done(err.code === 'ECONNREFUSED', err.code ?? err.message));
}

async function get(url, timeoutMs) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(Number(timeoutMs)) });
    const body = await res.text();
    process.stdout.write(body);
    process.exit(res.ok ? 0 : 1);
  } catch (err) {
    process.stderr.write(`GET ${url} failed: ${err.cause?.code ?? err.message}\n`);
    process.exit(1);
  }
}

function listen(host, port) {
  const server = net.createServer((s) => s.end());
  server.listen({ host, port: Number(port) }, () => process.stdout.write('listening\n'));
  server.on('error', (err) => {
    process.stderr.write(`listen ${host}:${port} failed: ${err.code ?? err.message}\n`);
    process.exit(1);
  });
}

switch (mode) {
  case 'reach':
    reach(a, b, c ?? '2000');
    break;
  case 'get':
    void get(a, b ?? '2000');
    break;
  case 'listen':
    listen(a, b);
    break;
  default:
    process.stderr.write(
      'usage: netprobe.mjs reach <host> <port> <timeoutMs> | get <url> <timeoutMs> | listen <host> <port>\n',
    );
    process.exit(2);
}
