/**
 * Mesh-wide settings, thin over the daemon's control routes (node/control/routes/settings.ts):
 *   helix-node settings list | get KEY | set KEY VALUE | delete KEY
 *   helix-node rooms [set ROOM --lights a,b | rm ROOM]
 *   helix-node node room NODE ROOM
 *   helix-node node rename [NODE] NEW
 * A change made on any node reaches every node of the mesh (docs/settings.md). --json prints the
 * daemon's objects; a key or value the store refuses exits 64 with its message.
 */
import type { Command } from 'commander';
import {
  controlCall,
  type HomeLightView,
  type HomeReport,
  type NodeRenamed,
  type SettingDeleted,
  type SettingValue,
  type SettingsList,
  type StatusReport,
} from '../../control/index.js';
import { UsageError } from '../../errors.js';
import { cliContext, showAction, type CliContext } from '../context.js';
import { paint, table } from '../output.js';

/** One room as `helix-node rooms --json` prints it (helix.rooms/v1). */
export interface RoomView {
  name: string;
  /** "settings" (set with `rooms set`), "zigbee2mqtt" (a group) or "home-assistant" (an area) */
  source: string | null;
  /** its lights' zigbee2mqtt friendly names or Home Assistant entity ids; null when a node is placed in a room that is not one */
  lights: string[] | null;
  /** its lights in full: spoken name, backend, whether they dim */
  details: HomeLightView[];
  nodes: { id: string; shortId: string; name: string | null }[];
}

export interface RoomsReport {
  schema: 'helix.rooms/v1';
  rooms: RoomView[];
}

const NODE_ROOM_KEY = /^nodes\.(.+)\.room$/;

/** VALUE as JSON when it parses (`["a"]`, `{"lights":[]}`, `true`), else the text itself. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Room names compare as spoken words: "living_room" is "living room". */
const roomKey = (name: string) =>
  name
    .replace(/[_\-./]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();

/** The house's rooms with the nodes placed in them, node names from the membership view. */
export function roomsReport(
  home: HomeReport,
  list: SettingsList,
  status: StatusReport | null,
): RoomsReport {
  const names = new Map((status?.nodes ?? []).map((n) => [n.id, n.name]));
  const rooms = new Map<string, RoomView>();
  for (const r of home.rooms)
    rooms.set(roomKey(r.name), {
      name: r.name,
      source: r.source,
      lights: r.lights.map((l) => l.address),
      details: r.lights,
      nodes: [],
    });
  for (const s of list.settings) {
    const n = NODE_ROOM_KEY.exec(s.key);
    if (!s.allowed || !n || typeof s.value !== 'string') continue;
    const key = roomKey(s.value);
    let r = rooms.get(key);
    if (!r) rooms.set(key, (r = { name: key, source: null, lights: null, details: [], nodes: [] }));
    const id = n[1]!;
    r.nodes.push({ id, shortId: id.slice(-8), name: names.get(id) ?? null });
  }
  const sorted = [...rooms.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const r of sorted) r.nodes.sort((a, b) => (a.name ?? a.id).localeCompare(b.name ?? b.id));
  return { schema: 'helix.rooms/v1', rooms: sorted };
}

/** A node of the membership view by name, short id or id; a usage error names the choices. */
export function findNode(status: StatusReport, which: string): StatusReport['nodes'][number] {
  const byId = status.nodes.filter((n) => n.id === which || n.shortId === which);
  const matches = byId.length > 0 ? byId : status.nodes.filter((n) => n.name === which);
  const known = status.nodes.map((n) => `${n.name} (${n.shortId})`).join(', ');
  if (matches.length === 0)
    throw new UsageError(`no node ${JSON.stringify(which)} in the mesh; the nodes are: ${known}`);
  if (matches.length > 1)
    throw new UsageError(
      `${matches.length} nodes are called ${JSON.stringify(which)}; give a short id: ${matches
        .map((n) => `${n.name} (${n.shortId})`)
        .join(', ')}`,
    );
  return matches[0]!;
}

/** A line per lights backend this node runs that is not connected, saying what to do. */
function backendLines(home: HomeReport): string[] {
  const out: string[] = [];
  for (const [name, b] of Object.entries(home.backends ?? {})) {
    if (b.state === 'failed' || b.state === 'connecting')
      out.push(`note: ${name} at ${b.address ?? '?'}: ${b.error ?? 'connecting'}`);
  }
  return out;
}

const show = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

const setSetting = (ctx: CliContext, key: string, value: unknown) =>
  controlCall<SettingValue>(ctx.stateDir, '/v1/settings/set', {
    method: 'POST',
    body: { key, value },
  });

const deleteSetting = (ctx: CliContext, key: string) =>
  controlCall<SettingDeleted>(ctx.stateDir, '/v1/settings/delete', {
    method: 'POST',
    body: { key },
  });

function renderSettings(ctx: CliContext, list: SettingsList): string {
  if (list.settings.length === 0)
    return 'no settings yet; set one with: helix-node settings set KEY VALUE';
  const rows = list.settings.map((s) => [
    s.key,
    s.allowed ? show(s.value) : `${show(s.value)} ${paint(ctx.o, 'yellow', '(not allowed here)')}`,
    s.writer.slice(-8),
    new Date(s.writtenAt).toISOString(),
  ]);
  return table(['KEY', 'VALUE', 'BY', 'WRITTEN'], rows);
}

export function registerSettingsCommands(program: Command): void {
  const settings = program
    .command('settings')
    .description('mesh-wide settings: set on any node, seen by every node');

  settings
    .command('list')
    .description('every setting with its value (secrets show as "••• set"), writer and time')
    .action(showAction<SettingsList>('/v1/settings', renderSettings));

  settings
    .command('get')
    .argument('<key>', 'e.g. lights.backend, rooms.kitchen')
    .description('one setting (a secret shows as "••• set"); prints nothing when it is not set')
    .action(async (key: string, _opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const v = await controlCall<SettingValue>(
        ctx.stateDir,
        `/v1/settings/get?key=${encodeURIComponent(key)}`,
      );
      if (ctx.o.json) ctx.o.printJson(v);
      else if (v.set) ctx.o.out(show(v.value));
      else ctx.o.err(`${key} is not set`);
    });

  settings
    .command('set')
    .argument('<key>', 'e.g. lights.backend')
    .argument('<value>', 'JSON when it parses (["a","b"], {"lights":[]}), else text')
    .description('set a setting for the whole mesh')
    .action(async (key: string, value: string, _opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const v = await setSetting(ctx, key, parseValue(value));
      ctx.o.print(v, () => `${key} = ${show(v.value)}`);
    });

  settings
    .command('delete')
    .argument('<key>')
    .description('remove a setting from the whole mesh')
    .action(async (key: string, _opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const d = await deleteSetting(ctx, key);
      ctx.o.print(d, () => (d.deleted ? `deleted ${key}` : `${key} was not set`));
    });

  const rooms = program
    .command('rooms')
    .description('rooms with their lights and the nodes placed in them (mesh-wide)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const [home, list, status] = await Promise.all([
        controlCall<HomeReport>(ctx.stateDir, '/v1/home'),
        controlCall<SettingsList>(ctx.stateDir, '/v1/settings'),
        controlCall<StatusReport>(ctx.stateDir, '/v1/status'),
      ]);
      const report = roomsReport(home, list, status);
      if (ctx.o.json) return ctx.o.printJson(report);
      if (report.rooms.length === 0) {
        ctx.o.out(
          'no rooms yet; add one with: helix-node rooms set ROOM --lights LIGHT,LIGHT, or connect zigbee2mqtt (helix-node settings set mqtt.url mqtt://HOST:1883) or Home Assistant (home_assistant.url and home_assistant.token)',
        );
        return;
      }
      const none = paint(ctx.o, 'dim', '-');
      const light = (l: HomeLightView) =>
        l.dims ? l.address : `${l.address} ${paint(ctx.o, 'dim', '(on/off only)')}`;
      const rows = report.rooms.map((r) => [
        paint(ctx.o, 'bold', r.name),
        r.lights === null
          ? paint(ctx.o, 'yellow', '(no lights set)')
          : r.details.map(light).join(', ') || none,
        r.source ?? none,
        r.nodes.map((n) => n.name ?? n.shortId).join(', ') || none,
      ]);
      ctx.o.out(table(['ROOM', 'LIGHTS', 'FROM', 'NODES'], rows));
      for (const b of backendLines(home)) ctx.o.err(b);
    });

  rooms
    .command('set')
    .argument('<room>', 'the name people say: lower case, spaces allowed ("living room")')
    .requiredOption(
      '--lights <names>',
      'comma-separated zigbee2mqtt friendly names or Home Assistant entity ids',
    )
    .description('add a room or replace its lights, for the whole mesh')
    .action(async (room: string, opts: { lights: string }, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const lights = opts.lights
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      const v = await setSetting(ctx, `rooms.${room}`, { lights });
      ctx.o.print(v, () => `${room}: ${lights.join(', ') || 'no lights'}`);
    });

  rooms
    .command('rm')
    .argument('<room>')
    .description(
      'remove a room from the whole mesh; a room found in zigbee2mqtt or Home Assistant is hidden',
    )
    .action(async (room: string, _opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const home = await controlCall<HomeReport>(ctx.stateDir, '/v1/home');
      const found = home.rooms.find((r) => roomKey(r.name) === roomKey(room));
      if (found && found.source !== 'settings') {
        const v = await setSetting(ctx, `rooms.${room}`, { lights: [], hidden: true });
        ctx.o.print(
          v,
          () =>
            `hid ${found.name} (a ${found.source} room); \`helix-node settings delete rooms.${room}\` shows it again`,
        );
        return;
      }
      const d = await deleteSetting(ctx, `rooms.${room}`);
      ctx.o.print(d, () => (d.deleted ? `removed ${room}` : `there is no room ${room}`));
    });

  const node = program.command('node').description('this mesh’s nodes, set mesh-wide');
  node
    .command('room')
    .argument('<node>', 'the node by name or short id (`helix-node status`)')
    .argument('<room>', 'the room its mic and speaker are in')
    .description('place a node in a room')
    .action(async (which: string, room: string, _opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const [status, home] = await Promise.all([
        controlCall<StatusReport>(ctx.stateDir, '/v1/status'),
        controlCall<HomeReport>(ctx.stateDir, '/v1/home'),
      ]);
      const n = findNode(status, which);
      const v = await setSetting(ctx, `nodes.${n.id}.room`, room);
      if (ctx.o.json) return ctx.o.printJson({ ...v, node: { id: n.id, name: n.name } });
      ctx.o.out(`${n.name} (${n.shortId}) is in ${room}`);
      const known = home.rooms.find((r) => roomKey(r.name) === roomKey(room));
      if (!known || known.lights.length === 0)
        ctx.o.err(
          `note: room ${room} has no lights yet; add them with: helix-node rooms set ${JSON.stringify(room)} --lights LIGHT,LIGHT`,
        );
    });

  node
    .command('rename')
    .argument('<node-or-name>', 'NEW (renames this node), or the node by name or id prefix')
    .argument('[new]', 'the new name, when a node is given')
    .description('rename this node, or any node of the mesh; names are unique in the mesh')
    .action(async (first: string, second: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const body = second === undefined ? { name: first } : { node: first, name: second };
      const r = await controlCall<NodeRenamed>(ctx.stateDir, '/v1/nodes/rename', {
        method: 'POST',
        body,
      });
      ctx.o.print(r, () =>
        r.previous === r.name
          ? `${r.name} (${r.shortId}) already has that name`
          : `${r.previous} (${r.shortId}) is now ${r.name}`,
      );
    });
}
