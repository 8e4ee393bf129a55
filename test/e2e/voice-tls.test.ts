/**
 * Issue 11 point 7: the three-node voice mesh off a tailnet is encrypted on the LAN link. The lab
 * of voice-mesh.test.ts (mic-a -> Transcriber on stt-b -> AgentHost.Run on docker-c, NATS routes
 * between all three) runs one spoken command while tcpdump writes every TCP packet on each
 * node's link (hub side, full length). The TCP streams are then searched for what a plaintext
 * mesh would show: the utterance's PCM samples, the transcript and agent names (protobuf), the
 * HTTP/2 preface, the NATS route protocol and subjects, node names in adverts (JSON). A
 * plaintext marker sent by the test itself to the rpc port is found, so the search does see
 * payloads. Bounded: set-up at most 62 s, the test at most 40 s.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  HOST,
  MIC,
  NODE_NAMES,
  RPC_PORT,
  STT,
  VoiceLab,
  labUnavailable,
  makeUtterance,
  type Utterance,
} from './lab.js';
import { PayloadCapture, tcpStreams, type TcpStream } from './pcap.js';

const SUBNET = '100.64.104';
const CLUSTER_PORT = 6222;
const unavailable = labUnavailable();

/** 24-byte runs of the utterance's samples from the middle of its speech (never silence). */
function pcmNeedles(u: Utterance): Buffer[] {
  const wav = readFileSync(u.path);
  const data = wav.indexOf('data') + 8;
  const speechStart = data + 0.4 * 32_000;
  return [0.2, 0.35, 0.5, 0.65, 0.8].map((f) => {
    const at = speechStart + Math.floor((u.speechBytes * f) / 2) * 2;
    return wav.subarray(at, at + 24);
  });
}

/** A NATS route connection starts with the server's INFO line in plaintext, then TLS. */
function afterRouteInfo(s: TcpStream): Buffer {
  if (s.sport !== CLUSTER_PORT || !s.payload.subarray(0, 5).equals(Buffer.from('INFO '))) {
    return s.payload;
  }
  const end = s.payload.indexOf('\r\n');
  return s.payload.subarray(end + 2);
}

describe.skipIf(unavailable !== null)(
  `the voice mesh on a LAN is encrypted${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let lab: VoiceLab;
    let utterance: Utterance;

    beforeAll(async () => {
      lab = new VoiceLab({ subnet: SUBNET });
      try {
        await lab.start({ timeoutMs: 55_000 });
      } catch (err) {
        lab.mesh.printLogs({ tailLines: 40 });
        throw err;
      }
      utterance = await makeUtterance(lab.dir, 'turn on the kitchen lights');
    }, 62_000);

    afterEach((ctx) => {
      if (ctx.task.result?.state === 'fail') lab?.mesh.printLogs({ tailLines: 60 });
    });

    afterAll(async () => {
      await lab?.stop();
    }, 60_000);

    it('a spoken command crosses three nodes with no audio, JSON, protobuf or NATS text on the wire', async () => {
      const address = (i: number) => lab.mesh.info(i).address;
      const capture = await PayloadCapture.start(lab.mesh, [MIC, STT, HOST], lab.dir);
      let files: string[];
      let heard: Awaited<ReturnType<VoiceLab['listen']>>;
      const marker = `hxt-plaintext-marker-${Date.now()}`;
      try {
        heard = await lab.listen(utterance.path);
        // The control: plaintext the test itself sends to stt-b's rpc port (the server drops it).
        await lab.mesh.run(
          MIC,
          'bash',
          ['-c', `echo ${marker} > /dev/tcp/${address(STT)}/${RPC_PORT}; sleep 0.3`],
          { timeoutMs: 10_000 },
        );
        // a few heartbeats more on the routes
        await new Promise((r) => setTimeout(r, 1500));
      } finally {
        files = await capture.stop();
      }
      expect(heard.code, heard.stderr).toBe(0);
      // mic-a created the mesh and issued its own certificate; the others sent a CSR with Join
      // and kept what the member signed.
      expect(lab.mesh.log(MIC)).toMatch(
        /"reason":"no certificate yet".*issued this node a mesh certificate/,
      );
      for (const i of [STT, HOST])
        expect(lab.mesh.log(i)).toMatch(/stored the mesh certificate the member issued/);
      expect(heard.result).toMatchObject({
        ok: true,
        // the recogniser may hear "light": the command language takes either
        transcript: expect.stringMatching(/^turn on the kitchen lights?$/),
        reply: 'Turned on the kitchen lights.',
      });

      const streams = files.flatMap((f) => tcpStreams(f));
      const on = (port: number) => streams.filter((s) => s.sport === port || s.dport === port);
      const bytes = (list: TcpStream[]) => list.reduce((n, s) => n + s.payload.length, 0);
      console.log(
        `[tls] captured ${streams.length} TCP streams: ${bytes(on(RPC_PORT))} bytes on the rpc port, ${bytes(on(CLUSTER_PORT))} on NATS routes`,
      );
      // The audio did cross the wire (as ciphertext): the rpc streams carry at least its size.
      expect(bytes(on(RPC_PORT))).toBeGreaterThan(utterance.speechBytes);
      expect(bytes(on(CLUSTER_PORT))).toBeGreaterThan(1000);
      expect(streams.some((s) => s.payload.includes(marker))).toBe(true);

      const texts = [
        'turn on the kitchen light', // transcript, "light" or "lights" (protobuf, run request, trace)
        'kitchen_ceiling', // the light, in the agent's args and the MQTT topic
        'Turned on the kitchen lights', // the agent's reply
        'PRI * HTTP/2.0', // the h2c preface of plaintext gRPC
        'helix.v1.', // NATS subjects (adverts, run events, settings)
        'RS+', // NATS route subscription protocol
        'RMSG ',
        'CONNECT {',
        ...NODE_NAMES, // node names in adverts (JSON) and in Ping replies
      ];
      const needles = pcmNeedles(utterance);
      for (const s of streams) {
        const label = `${s.src}:${s.sport} -> ${s.dst}:${s.dport}`;
        if (s.payload.includes(marker)) continue;
        const body = afterRouteInfo(s);
        for (const t of texts) expect(body.includes(t), `"${t}" in ${label}`).toBe(false);
        for (const n of needles) expect(body.includes(n), `audio samples in ${label}`).toBe(false);
      }
      // Connections opened during the capture start with a TLS handshake record (after a route's
      // INFO); those opened before it show TLS application records from their first byte seen.
      const tlsStart = streams.filter((s) =>
        afterRouteInfo(s)
          .subarray(0, 2)
          .equals(Buffer.from([0x16, 0x03])),
      );
      expect(tlsStart.length).toBeGreaterThan(0);
      // What is left in plaintext: nats-server's INFO line opening each route (its protocol sends
      // it before the TLS upgrade): server name, cluster name, version, no message.
      const infos = streams
        .filter((s) => s.sport === CLUSTER_PORT && s.payload.subarray(0, 5).toString() === 'INFO ')
        .map((s) => s.payload.subarray(0, s.payload.indexOf('\r\n')).toString());
      for (const info of infos)
        expect(JSON.parse(info.slice(5))).toMatchObject({ tls_required: true });
      console.log(
        `[tls] route INFO lines seen in plaintext: ${infos.length}${infos[0] ? `; e.g. ${infos[0]}` : ''}`,
      );
    }, 40_000);
  },
);
