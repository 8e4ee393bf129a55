/**
 * Full-payload packet captures on the hub side of node links, and the TCP byte streams in them,
 * for the checks that nothing crosses the LAN in plaintext. tcpdump writes a pcap file; the
 * parser here reads classic pcap (Ethernet, IPv4, TCP), which is what tcpdump writes for a veth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { IP_BIN, type MeshHarness } from '../harness/index.js';

/** One direction of one TCP connection: its payload bytes in capture order. */
export interface TcpStream {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  payload: Buffer;
}

/** The TCP streams in a pcap file (retransmitted segments are dropped by sequence number). */
export function tcpStreams(file: string): TcpStream[] {
  const buf = readFileSync(file);
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20);
  if (linkType !== 1) throw new Error(`${file}: link type ${linkType}, expected Ethernet (1)`);
  const streams = new Map<string, TcpStream & { parts: Buffer[]; seen: Set<number> }>();
  let off = 24;
  while (off + 16 <= buf.length) {
    const capLen = u32(off + 8);
    const frame = buf.subarray(off + 16, off + 16 + capLen);
    off += 16 + capLen;
    if (frame.length < 14 + 20 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip[9] !== 6) continue;
    const totalLen = ip.readUInt16BE(2);
    const tcp = ip.subarray(ihl, totalLen);
    if (tcp.length < 20) continue;
    const dataOff = (tcp[12]! >> 4) * 4;
    const payload = tcp.subarray(dataOff);
    if (payload.length === 0) continue;
    const src = [...ip.subarray(12, 16)].join('.');
    const dst = [...ip.subarray(16, 20)].join('.');
    const sport = tcp.readUInt16BE(0);
    const dport = tcp.readUInt16BE(2);
    const seq = tcp.readUInt32BE(4);
    const key = `${src}:${sport}>${dst}:${dport}`;
    let s = streams.get(key);
    if (!s) {
      s = { src, sport, dst, dport, payload: Buffer.alloc(0), parts: [], seen: new Set() };
      streams.set(key, s);
    }
    if (s.seen.has(seq)) continue;
    s.seen.add(seq);
    s.parts.push(Buffer.from(payload));
  }
  return [...streams.values()].map(({ src, sport, dst, dport, parts }) => ({
    src,
    sport,
    dst,
    dport,
    payload: Buffer.concat(parts),
  }));
}

/** tcpdump -w on the hub end of each node's link, full packets, until stop(). */
export class PayloadCapture {
  private constructor(
    private readonly procs: Array<{ child: ChildProcess; file: string; err: string[] }>,
  ) {}

  static async start(
    mesh: MeshHarness,
    nodes: number[],
    dir: string,
    filter = 'tcp',
  ): Promise<PayloadCapture> {
    const procs: Array<{ child: ChildProcess; file: string; err: string[] }> = [];
    const capture = new PayloadCapture(procs);
    try {
      for (const i of nodes) {
        const link = mesh.netns.node(i).hubLink;
        const file = path.join(dir, `node${i}.pcap`);
        const child = spawn(
          IP_BIN,
          [
            ...['netns', 'exec', mesh.netns.hubNamespace, 'tcpdump', '-i', link, '-nn'],
            // whole packets, written as they arrive (-U), handed over at once (no block delay)
            ...['-s', '0', '-U', '--immediate-mode', '-w', file, filter],
          ],
          { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
        );
        const p = { child, file, err: [] as string[] };
        procs.push(p);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`tcpdump on ${link} did not start: ${p.err.join('')}`)),
            15_000,
          );
          child.stderr!.setEncoding('utf8');
          child.stderr!.on('data', (d: string) => {
            p.err.push(d);
            if (/listening on/.test(p.err.join(''))) {
              clearTimeout(timer);
              resolve();
            }
          });
          child.on('exit', () => {
            clearTimeout(timer);
            reject(new Error(`tcpdump on ${link} exited: ${p.err.join('')}`));
          });
        });
      }
    } catch (err) {
      await capture.stop();
      throw err;
    }
    return capture;
  }

  /** Stops every tcpdump and returns the pcap files. */
  async stop(): Promise<string[]> {
    await Promise.all(
      this.procs.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => {
              if (child.pid) process.kill(-child.pid, 'SIGKILL');
            }, 5000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (child.pid) process.kill(-child.pid, 'SIGINT');
          }),
      ),
    );
    return this.procs.map((p) => p.file);
  }
}
