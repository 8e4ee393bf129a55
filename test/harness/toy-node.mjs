#!/usr/bin/env node
/**
 * A toy mesh node for the harness's own tests: UDP heartbeats to its peers' mesh addresses, a
 * view with alive/suspect/dead by silence, and a `status --json` in the daemon's shape. It lets the
 * harness's waits, kills, pauses and partitions be tested on real sockets without the daemon.
 *
 *   toy-node.mjs join   --state-dir D --name N --address A --peers A1,A2 [--suspect-ms 600] [--dead-ms 1500]
 *   toy-node.mjs status --json --state-dir D
 *
 * The id persists in D/id (a restart keeps it); the view is written to D/view.json every 100 ms and
 * `status` refuses a view older than a second (the node is dead or paused).
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { clearInterval, setInterval, setTimeout } from 'node:timers';

const PORT = 7946;
const [mode, ...rest] = process.argv.slice(2);
const flags = {};
for (let i = 0; i < rest.length; i++) {
  const m = /^--([a-z-]+)$/.exec(rest[i]);
  if (!m) continue;
  const next = rest[i + 1];
  if (next === undefined || next.startsWith('--')) flags[m[1]] = true;
  else flags[m[1]] = rest[++i];
}
const stateDir = flags['state-dir'];
if (!stateDir) {
  process.stderr.write('toy-node: --state-dir is required\n');
  process.exit(64);
}
const viewPath = path.join(stateDir, 'view.json');

if (mode === 'status') {
  try {
    if (Date.now() - statSync(viewPath).mtimeMs > 1000) throw new Error('stale view');
    process.stdout.write(readFileSync(viewPath, 'utf8') + '\n');
  } catch (err) {
    process.stderr.write(`toy-node: the node does not answer (${err.message})\n`);
    process.exit(69);
  }
} else if (mode === 'join') {
  join();
} else {
  process.stderr.write(`toy-node: unknown command ${mode}; use join or status\n`);
  process.exit(64);
}

function join() {
  const idPath = path.join(stateDir, 'id');
  if (!existsSync(idPath)) writeFileSync(idPath, randomBytes(8).toString('hex'));
  const id = readFileSync(idPath, 'utf8').trim();
  const name = flags.name;
  const address = flags.address;
  const peers = String(flags.peers || '')
    .split(',')
    .filter(Boolean);
  const suspectMs = Number(flags['suspect-ms'] ?? 600);
  const deadMs = Number(flags['dead-ms'] ?? 1500);
  const seen = new Map(); // id -> { name, address, lastSeen, state }

  const socket = dgram.createSocket('udp4');
  socket.on('message', (buf) => {
    try {
      const msg = JSON.parse(buf.toString());
      if (msg.id !== id)
        seen.set(msg.id, {
          name: msg.name,
          address: msg.address,
          lastSeen: Date.now(),
          left: !!msg.bye,
        });
    } catch {
      // a malformed datagram is dropped
    }
  });
  socket.bind(PORT, address, () =>
    process.stdout.write(`toy-node ${name} (${id}) on ${address}:${PORT}\n`),
  );

  const send = (bye = false) => {
    const buf = Buffer.from(JSON.stringify({ id, name, address, bye }));
    for (const p of peers) socket.send(buf, PORT, p, () => {});
  };
  const writeView = () => {
    const now = Date.now();
    const nodes = [
      { id, name, state: 'alive', addresses: [address], capabilities: {}, load: {}, rttMs: null },
    ];
    for (const [pid, p] of seen) {
      const age = now - p.lastSeen;
      const state = p.left ? 'left' : age > deadMs ? 'dead' : age > suspectMs ? 'suspect' : 'alive';
      nodes.push({
        id: pid,
        name: p.name,
        state,
        addresses: [p.address],
        capabilities: {},
        load: {},
        rttMs: 0.1,
      });
    }
    const tmp = `${viewPath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ self: { id, name }, nodes }));
    renameSync(tmp, viewPath);
  };
  const timer = setInterval(() => {
    send();
    writeView();
  }, 100);
  const leave = () => {
    clearInterval(timer);
    send(true);
    setTimeout(() => process.exit(0), 50);
  };
  process.on('SIGTERM', leave);
  process.on('SIGINT', leave);
}
