/**
 * Found, not typed (issue 9, "How it is checked"): one node on a fresh state, with zigbee2mqtt
 * (the stand-in, speaking the 2.x bridge schema) on Debian's mosquitto at the default broker
 * address, and no rooms in helix.toml:
 * - `helix-node rooms` lists zigbee2mqtt's groups as rooms, with their light members;
 * - `say "turn on the kitchen lights"` publishes `/set` to every light of the kitchen group, in
 *   each device's own property ("state_l2" for an endpoint), and to nothing else in it (the
 *   kettle plug is a switch, not a light);
 * - dimming sends a brightness only to the lights that dim, and the reply says which do not;
 * - an unknown room is answered with the rooms that exist;
 * - a light paired later joins its group's room without a restart, and speech hears its name;
 * - `settings list` shows no found-home internals.
 * The node's broker, dockerd and the stand-in live in its network namespace; all are stopped
 * and the namespace removed afterwards. Bounded: set-up 100 s, each step 60 s.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { controlStream, type CommandStreamLine } from '../../node/control/index.js';
import { startBroker } from '../e2e/lab.js';
import { MeshHarness } from '../harness/index.js';
import { startDockerd, type PrivateDockerd } from '../support/docker.js';
import { waitFor } from '../support/wait.js';
import { dualDimmer } from '../home/fixtures/zigbee2mqtt.js';
import { AGENT_HOST_BINS, missingFor, secs } from './helpers.js';

const SUBNET = '100.64.74';
const NODE = 0;

const missing = missingFor(AGENT_HOST_BINS);

interface RoomsJson {
  rooms: {
    name: string;
    source: string | null;
    lights: string[] | null;
    details: { name: string; dims: boolean }[];
  }[];
}

interface SetLine {
  topic: string;
  payload: Record<string, unknown>;
}

describe.skipIf(missing !== null)(
  `zigbee2mqtt's rooms and lights on a fresh node${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let dir = '';
    let mesh: MeshHarness;
    let dockerd: PrivateDockerd | null = null;
    let broker: ChildProcess | null = null;
    let z2m: ChildProcess | null = null;
    const sets: SetLine[] = [];

    const rooms = async (): Promise<RoomsJson> => {
      const r = await mesh.cli(NODE, ['rooms', '--json'], { timeoutMs: 20_000 });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as RoomsJson;
    };

    async function say(text: string) {
      const lines: CommandStreamLine[] = [];
      for await (const line of controlStream<CommandStreamLine>(
        mesh.info(NODE).stateDir,
        '/v1/say',
        { method: 'POST', body: { text }, timeoutMs: 30_000 },
      ))
        lines.push(line);
      const result = lines.find((l) => l.type === 'result');
      return result?.type === 'result' ? result : undefined;
    }

    /** The `/set` messages the stand-in answers from index `from` on, after a short settle. */
    async function setsFrom(from: number, n: number): Promise<SetLine[]> {
      await waitFor(() => sets.length >= from + n, {
        timeoutMs: 10_000,
        what: `${n} /set messages at the stand-in`,
      });
      await new Promise((r) => setTimeout(r, 300)); // and no more than n
      return sets.slice(from).sort((a, b) => a.topic.localeCompare(b.topic));
    }

    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'helix-z2m-home-'));
      chmodSync(dir, 0o755);
      mesh = new MeshHarness({
        nodes: 1,
        subnet: SUBNET,
        statusVia: 'control',
        logLevel: 'info',
        config: { stt: { engine: 'none' }, voice: { tts: 'none' } },
        // helix.toml says nothing of rooms or the broker: the default mqtt://127.0.0.1:1883
        node: [
          {
            name: 'hall-pi',
            config: { capabilities: { docker_socket: path.join(dir, 'dockerd', 'docker.sock') } },
          },
        ],
      });
      try {
        await mesh.start();
        dockerd = await startDockerd(path.join(dir, 'dockerd'), {
          netns: mesh.info(NODE).namespace,
          timeoutMs: 45_000,
        });
        broker = await startBroker(mesh, NODE, dir);
        z2m = mesh.exec(
          NODE,
          process.execPath,
          ['--import', 'tsx', 'test/support/fake-zigbee2mqtt-main.ts', 'mqtt://127.0.0.1:1883'],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
        let buf = '';
        let ready = false;
        z2m.stdout?.setEncoding('utf8').on('data', (d: string) => {
          buf += d;
          for (let nl; (nl = buf.indexOf('\n')) >= 0;) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line === 'ready') ready = true;
            else if (line.startsWith('{')) sets.push(JSON.parse(line) as SetLine);
          }
        });
        z2m.stderr?.setEncoding('utf8').on('data', (d: string) => process.stderr.write(d));
        await waitFor(() => ready, { timeoutMs: 30_000, what: 'the zigbee2mqtt stand-in' });
        mesh.startNode(NODE);
        await mesh.waitFor(
          async () => {
            mesh.requireRunning(NODE);
            const view = await mesh.status(NODE);
            const self = view.nodes[0] as unknown as {
              warmPool?: Array<{ agent: string; idle: number }>;
            };
            if (!self?.warmPool?.some((w) => w.agent === 'lights' && w.idle > 0))
              throw new Error('no idle warm lights container yet');
            return view;
          },
          { timeoutMs: 70_000, intervalMs: 300, what: 'the node with a warm lights agent' },
        );
      } catch (err) {
        mesh.printLogs({ tailLines: 60 });
        throw err;
      }
    }, 100_000);

    afterEach((ctx) => {
      if (ctx.task.result?.state === 'fail') mesh?.printLogs({ tailLines: 60 });
    });

    afterAll(async () => {
      if (mesh?.isRunning(NODE)) {
        mesh.kill(NODE, 'SIGTERM');
        if ((await mesh.exited(NODE, { timeoutMs: 15_000 })) === 'timeout')
          mesh.kill(NODE, 'SIGKILL');
      }
      for (const child of [z2m, broker]) {
        if (!child || child.exitCode !== null) continue;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await dockerd?.stop().catch(() => undefined);
      await mesh?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it('lists zigbee2mqtt groups as rooms with their lights, without any helix.toml edit', async () => {
      const started = Date.now();
      const r = await waitFor(
        async () => {
          const x = await rooms();
          return x.rooms.some((room) => room.name === 'kitchen' && room.source === 'zigbee2mqtt')
            ? x
            : null;
        },
        { timeoutMs: 20_000, intervalMs: 200, what: '`rooms` to list the zigbee2mqtt groups' },
      );
      console.log(`[z2m-home] rooms listed ${secs(Date.now() - started)} after the node was ready`);
      const byName = new Map(r.rooms.map((x) => [x.name, x]));
      // groups' friendly names, as words; the default bind group is not a room
      expect([...byName.keys()].sort()).toEqual(['garage', 'kitchen', 'living room']);
      expect(byName.get('kitchen')?.lights?.sort()).toEqual(['dimmer_2ch', 'kitchen_counter']);
      expect(
        byName
          .get('kitchen')
          ?.details.map((l) => [l.name, l.dims])
          .sort(),
      ).toEqual([
        ['dimmer 2ch l2', true],
        ['kitchen counter', false],
      ]);
      expect(byName.get('garage')?.lights).toEqual([]);

      // what the node found is not a setting anyone sets or sees in the list
      const list = await mesh.cli(NODE, ['settings', 'list', '--json'], { timeoutMs: 20_000 });
      expect(list.stdout).not.toContain('home.found');
      const set = await mesh.cli(NODE, ['settings', 'set', 'home.found.zigbee2mqtt', '{}'], {
        timeoutMs: 20_000,
      });
      expect(set.code).toBe(64);
      expect(set.stderr).toMatch(/written by them; change rooms with `helix-node rooms set/);
    });

    it('"turn on the kitchen lights" publishes to every light of the kitchen group', async () => {
      const from = sets.length;
      const result = await say('turn on the kitchen lights');
      expect(result, JSON.stringify(result)).toMatchObject({
        ok: true,
        reply: 'Turned on the kitchen lights.',
      });
      expect(await setsFrom(from, 2)).toEqual([
        { topic: 'zigbee2mqtt/dimmer_2ch/set', payload: { state_l2: 'ON' } },
        { topic: 'zigbee2mqtt/kitchen_counter/set', payload: { state: 'ON' } },
      ]);
    });

    it('dims only the lights that dim, and says which do not', async () => {
      const from = sets.length;
      const result = await say('dim the kitchen lights to 50 percent');
      expect(result).toMatchObject({
        ok: true,
        reply:
          'Dimmed the kitchen lights to 50 percent. The kitchen counter only switches on and off.',
      });
      // 50 % of the dimmer's 0-254 is 127; the on/off-only counter light gets nothing
      expect(await setsFrom(from, 1)).toEqual([
        { topic: 'zigbee2mqtt/dimmer_2ch/set', payload: { state_l2: 'ON', brightness_l2: 127 } },
      ]);
    });

    it('answers a room zigbee2mqtt does not have with the ones it has', async () => {
      const from = sets.length;
      const result = await say('turn on the attic lights');
      expect(result).toMatchObject({
        ok: false,
        reply: "I don't know a room called attic; the rooms are garage, kitchen and living room.",
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(sets.length).toBe(from);
    });

    it('a light paired later is heard by name and switched, without a restart', async () => {
      // a third dimmer, renamed so it is its own device, paired into no group, then said by name
      const late = {
        ...dualDimmer,
        ieee_address: '0x00158d000aaaaaaa',
        friendly_name: 'porch_light',
      };
      z2m!.stdin!.write(`join ${JSON.stringify(late)}\n`);
      const started = Date.now();
      const from = sets.length;
      const result = await waitFor(
        async () => {
          const r = await say('turn on the porch light l1');
          return r?.ok ? r : null;
        },
        { timeoutMs: 15_000, intervalMs: 100, what: 'the paired light to be heard by name' },
      );
      console.log(
        `[z2m-home] a paired light was switchable by name ${secs(Date.now() - started)} after pairing`,
      );
      expect(result).toMatchObject({ reply: 'Turned on the porch light l1.' });
      expect(await setsFrom(from, 1)).toEqual([
        { topic: 'zigbee2mqtt/porch_light/set', payload: { state_l1: 'ON' } },
      ]);
    });
  },
);
