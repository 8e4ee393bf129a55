/**
 * The HelixOS dashboard: five pages over the node's control routes (/api/v1/…), kept live by
 * GET /api/v1/events (server-sent events: status, membership transitions, traces).
 */
import type { AgentList, BuildEvent } from '../../agenthost/catalog-types.js';
import type { StatusReport } from '../../control/types.js';
import type { HomeReport } from '../../control/routes/settings.js';
import type { DoctorReport, LiveEvent } from '../../control/routes/events.js';
import type { TraceList } from '../../control/routes/voice.js';
import type { Trace } from '../../pipeline/trace.js';
import { ApiError, getJson, postJson, postStream } from './api.js';
import { clock, h, mib, ms, render, s, type Child } from './dom.js';

type Page = 'mesh' | 'commands' | 'agents' | 'home' | 'health';
const PAGES: Record<Page, string> = {
  mesh: 'Mesh',
  commands: 'Commands',
  agents: 'Agents',
  home: 'Home',
  health: 'Health',
};
type NodeView = StatusReport['nodes'][number];

const state = {
  status: null as StatusReport | null,
  traces: [] as Trace[],
  agents: null as AgentList | null,
  home: null as HomeReport | null,
  doctor: null as DoctorReport | null,
  errors: {} as Partial<Record<Page, string>>,
  filter: '',
  outcome: 'all' as 'all' | 'ok' | 'failed',
  open: new Set<string>(),
  buildLog: [] as string[],
  busy: null as string | null,
  said: null as {
    text: string;
    lines: string[];
    reply?: string;
    traceId?: string;
    ok?: boolean;
  } | null,
};

const main = document.getElementById('main')!;
const live = document.getElementById('live')!;
const conn = document.getElementById('conn')!;
const regions = {} as Record<Page, HTMLElement>;
let page: Page = 'mesh';

function announce(text: string): void {
  live.textContent = text;
}

/* ---------- Mesh ---------- */

function capabilityChips(n: NodeView): Child {
  const c = n.capabilities;
  const chips: Array<[string, boolean, string]> = [
    ['mic', c.mic !== null, c.mic ? c.mic.devices.join(', ') : 'no mic'],
    ['GPU', c.gpu.length > 0, c.gpu.map((g) => g.name).join(', ') || 'no GPU'],
    ['Docker', c.docker !== null, c.docker ? `Docker ${c.docker.version}` : 'no Docker'],
    ['STT', c.stt !== null, c.stt ? `${c.stt.engine} ${c.stt.model}` : 'no speech-to-text'],
    ['LLM', c.ollama !== null, c.ollama ? c.ollama.models.join(', ') || 'Ollama' : 'no LLM'],
  ];
  return h(
    'ul',
    { class: 'chips', 'aria-label': 'capabilities' },
    chips.map(([label, on, title]) =>
      h(
        'li',
        { class: on ? 'chip' : 'chip off', title },
        label,
        h('span', { class: 'sr-only' }, on ? '' : ' (none)'),
      ),
    ),
  );
}

function graph(nodes: NodeView[]): Child {
  const w = 480;
  const hgt = 260;
  const self = nodes.find((n) => n.self);
  const others = nodes.filter((n) => !n.self);
  // this node on top, the others around an ellipse: a triangle for three, a ring for more
  const ring = self ? [self, ...others] : others;
  const at = new Map<string, { x: number; y: number }>();
  ring.forEach((n, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, ring.length) - Math.PI / 2;
    at.set(n.id, {
      x: w / 2 + (w / 2 - 70) * Math.cos(a),
      y: hgt / 2 - 10 + (hgt / 2 - 50) * Math.sin(a),
    });
  });
  const label = nodes
    .map((n) => `${n.name} ${n.state}${n.rttMs !== null && !n.self ? `, ${ms(n.rttMs)}` : ''}`)
    .join('; ');
  return h(
    'figure',
    { class: 'graph', 'aria-label': 'links as this node sees them' },
    s(
      'svg',
      {
        viewBox: `0 0 ${w} ${hgt}`,
        role: 'img',
        'aria-label': `Links from ${self?.name ?? 'this node'}: ${label}`,
      },
      self &&
        others.map((n) => {
          const a = at.get(self.id)!;
          const b = at.get(n.id)!;
          return [
            s('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: n.state }),
            n.rttMs !== null && n.state === 'alive'
              ? s(
                  'text',
                  { x: (a.x + b.x) / 2 + 4, y: (a.y + b.y) / 2 - 4, class: 'rtt' },
                  ms(n.rttMs),
                )
              : null,
          ];
        }),
      nodes.map((n) => {
        const p = at.get(n.id)!;
        return s(
          'g',
          { 'data-node': n.name, 'data-state': n.state },
          s('circle', {
            cx: p.x,
            cy: p.y,
            r: n.self ? 16 : 12,
            class: `${n.state}${n.self ? ' self' : ''}`,
          }),
          s('text', { x: p.x, y: p.y + 30, 'text-anchor': 'middle' }, `${n.name} · ${n.state}`),
        );
      }),
    ),
  );
}

function renderMesh(el: HTMLElement): void {
  const st = state.status;
  if (!st)
    return render(
      el,
      h('h1', { tabindex: -1 }, 'Mesh'),
      h('p', { class: 'empty' }, 'Waiting for the node…'),
    );
  const alive = st.nodes.filter((n) => n.state === 'alive').length;
  render(
    el,
    h(
      'h1',
      { tabindex: -1 },
      'Mesh ',
      h(
        'span',
        { class: 'muted' },
        `${alive} of ${st.nodes.length} nodes alive · ${st.self.meshId}`,
      ),
    ),
    graph(st.nodes),
    h(
      'ul',
      { class: 'cards', 'aria-label': 'nodes' },
      st.nodes.map((n) =>
        h(
          'li',
          { class: 'card', 'data-node': n.name, 'data-state': n.state },
          h(
            'h2',
            {},
            h('span', {}, n.name, n.self ? h('span', { class: 'muted' }, ' (this node)') : null),
            h('span', { class: `badge state-${n.state}` }, n.state),
          ),
          h(
            'dl',
            { class: 'facts' },
            h('dt', {}, 'Room'),
            h('dd', {}, n.room ?? '–'),
            h('dt', {}, 'Platform'),
            h(
              'dd',
              {},
              `${n.capabilities.platform || n.capabilities.docker?.platform || 'linux'} · ${n.capabilities.cpus} CPUs`,
            ),
            h('dt', {}, 'Load'),
            h(
              'dd',
              {},
              `${n.load.loadPerCore.toFixed(2)} per core · ${n.load.runningAgents} agents running`,
            ),
            h('dt', {}, 'Memory'),
            h('dd', {}, `${mib(n.load.memFreeMiB)} free of ${mib(n.capabilities.memTotalMiB)}`),
            h('dt', {}, 'RTT'),
            h('dd', {}, n.self ? '–' : ms(n.rttMs)),
            h('dt', {}, 'Address'),
            h('dd', {}, n.addresses.join(', ')),
          ),
          capabilityChips(n),
        ),
      ),
    ),
  );
}

/* ---------- Commands ---------- */

function matches(t: Trace): boolean {
  if (state.outcome === 'ok' && !t.ok) return false;
  if (state.outcome === 'failed' && t.ok) return false;
  const q = state.filter.trim().toLowerCase();
  if (!q) return true;
  const hay = [
    t.transcript,
    t.reply,
    t.owner,
    t.intent?.agent,
    t.intent?.intent,
    t.traceId,
    ...t.hops.map((x) => x.node),
  ];
  return hay.some((x) => x?.toLowerCase().includes(q));
}

function timeline(t: Trace): Child {
  const total = Math.max(1, t.totalMs, ...t.hops.map((x) => x.startMs + x.durationMs));
  const bar = h('div', { class: 'timeline', 'aria-hidden': 'true' });
  for (const hop of t.hops) {
    const span = h('span', {
      class: `stage-${hop.stage}${hop.ok ? '' : ' failed'}`,
      title: `${hop.stage} on ${hop.node}: ${ms(hop.durationMs)}`,
    });
    span.style.left = `${(100 * hop.startMs) / total}%`;
    span.style.width = `${(100 * hop.durationMs) / total}%`;
    bar.appendChild(span);
  }
  return bar;
}

function traceItem(t: Trace): Child {
  const details = h(
    'details',
    {
      class: 'trace',
      'data-trace': t.traceId,
      ...(state.open.has(t.traceId) ? { open: true } : {}),
    },
    h(
      'summary',
      { 'data-focus': `trace-${t.traceId}` },
      h(
        'span',
        { class: `badge ${t.ok ? 'ok' : 'bad'}` },
        t.ok ? 'ok' : `failed${t.failedStage ? ` at ${t.failedStage}` : ''}`,
      ),
      h('span', { class: 'what' }, t.transcript || t.reply || '(nothing heard)'),
      h('span', { class: 'muted when' }, `${clock(t.startedAt)} · ${ms(t.totalMs)}`),
      timeline(t),
      h(
        'span',
        { class: 'hops' },
        t.hops.map((x) => `${x.stage} ${ms(x.durationMs)} on ${x.node}`).join(' → '),
      ),
    ),
    h(
      'div',
      {},
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Transcript'),
        h('dd', {}, t.transcript ?? '–'),
        h('dt', {}, 'Intent'),
        h(
          'dd',
          {},
          t.intent
            ? `${t.intent.agent}.${t.intent.intent} (${t.intent.via}, ${Math.round(t.intent.confidence * 100)}%)`
            : '–',
        ),
        h('dt', {}, 'Arguments'),
        h('dd', {}, t.intent ? h('pre', {}, JSON.stringify(t.intent.args, null, 2)) : '–'),
        h('dt', {}, 'Result'),
        h('dd', {}, t.reply || '–'),
        h('dt', {}, 'Room'),
        h('dd', {}, t.room ? `${t.room.name} (${t.room.from})` : '–'),
        h('dt', {}, 'Owner'),
        h('dd', {}, `${t.owner} · ${t.source} · trace ${t.traceId}`),
        h('dt', {}, 'Heard by'),
        h(
          'dd',
          {},
          t.heardBy?.length
            ? t.heardBy
                .map(
                  (x) =>
                    `${x.node}${x.room ? ` (${x.room})` : ''}: ${x.snrDb.toFixed(1)} dB SNR${x.won ? ', acted' : ''}`,
                )
                .join('; ')
            : 'this node only',
        ),
      ),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          {},
          h('caption', { class: 'sr-only' }, 'hops'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Stage', 'Node', 'Start', 'Duration', 'Detail'].map((x) =>
                h('th', { scope: 'col' }, x),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            t.hops.map((x) =>
              h(
                'tr',
                {},
                h('td', {}, x.stage, x.ok ? '' : ' ✗'),
                h('td', {}, x.node),
                h('td', {}, ms(x.startMs)),
                h('td', {}, ms(x.durationMs)),
                h('td', {}, x.detail ?? ''),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  details.addEventListener('toggle', () => {
    if (details.open) state.open.add(t.traceId);
    else state.open.delete(t.traceId);
  });
  return h('li', {}, details);
}

let commandsShell: { list: HTMLElement; count: HTMLElement } | null = null;

function renderCommands(el: HTMLElement): void {
  if (!commandsShell) {
    const list = h('ul', { class: 'list', 'aria-label': 'commands, newest first' });
    const count = h('span', { class: 'muted', 'aria-live': 'polite' });
    const filter = h('input', {
      id: 'cmd-filter',
      type: 'search',
      placeholder: 'words, node, agent…',
    });
    filter.addEventListener('input', () => {
      state.filter = filter.value;
      renderCommandList();
    });
    const outcome = h(
      'select',
      { id: 'cmd-outcome' },
      h('option', { value: 'all' }, 'All'),
      h('option', { value: 'ok' }, 'Succeeded'),
      h('option', { value: 'failed' }, 'Failed'),
    );
    outcome.addEventListener('change', () => {
      state.outcome = outcome.value as typeof state.outcome;
      renderCommandList();
    });
    render(
      el,
      h('h1', { tabindex: -1 }, 'Commands'),
      h(
        'div',
        { class: 'toolbar' },
        h('div', { class: 'grow' }, h('label', { for: 'cmd-filter' }, 'Filter'), filter),
        h('div', {}, h('label', { for: 'cmd-outcome' }, 'Outcome'), outcome),
        count,
      ),
      list,
    );
    commandsShell = { list, count };
  }
  renderCommandList();
}

function renderCommandList(): void {
  if (!commandsShell) return;
  const shown = state.traces.filter(matches).slice(0, 100);
  commandsShell.count.textContent = `${shown.length} of ${state.traces.length}`;
  render(
    commandsShell.list,
    shown.length
      ? shown.map(traceItem)
      : h(
          'li',
          { class: 'empty' },
          state.errors.commands ?? 'No commands yet: say one, or type one on the Home page.',
        ),
  );
}

/* ---------- Agents ---------- */

function renderAgents(el: HTMLElement): void {
  const list = state.agents;
  const nodes = state.status?.nodes ?? [];
  const head = h(
    'h1',
    { tabindex: -1 },
    'Agents ',
    list
      ? h(
          'span',
          { class: 'muted' },
          `on ${list.node}${list.platform ? ` · ${list.platform}` : ''}${list.docker ? '' : ' · Docker not answering'}`,
        )
      : null,
  );
  if (!list) return render(el, head, h('p', { class: 'empty' }, state.errors.agents ?? 'Loading…'));
  const busy = state.busy !== null;
  render(
    el,
    head,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('caption', { class: 'sr-only' }, 'agents, their images, warm pools and runs'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            [
              ['Agent', ''],
              ['Images by node', 'opt'],
              ['Warm pool', 'opt'],
              ['Runs', ''],
              ['Failures', ''],
              ['p50', ''],
              ['', ''],
            ].map(([x, c]) => h('th', { scope: 'col', class: c }, x)),
          ),
        ),
        h(
          'tbody',
          {},
          list.agents.map((a) =>
            h(
              'tr',
              { 'data-agent': a.name },
              h(
                'td',
                {},
                h('strong', {}, a.name),
                h(
                  'div',
                  { class: 'muted' },
                  `${a.tier} · ${a.image.held ? 'image here' : 'no image here'}`,
                ),
              ),
              h(
                'td',
                { class: 'opt' },
                a.platforms.length
                  ? a.platforms.map((p) =>
                      h('div', {}, `${p.node}: ${p.images.map((i) => i.platform).join(', ')}`),
                    )
                  : '–',
              ),
              h('td', { class: 'opt' }, warmPools(nodes, a.name)),
              h('td', {}, String(a.runs.runs)),
              h('td', {}, String(a.runs.failures)),
              h('td', {}, ms(a.runs.p50Ms)),
              h(
                'td',
                {},
                h(
                  'div',
                  { class: 'row' },
                  h(
                    'button',
                    {
                      type: 'button',
                      'data-focus': `build-${a.name}`,
                      disabled: busy,
                      'aria-label': `Build ${a.name}`,
                      onclick: () => void build(a.name),
                    },
                    'Build',
                  ),
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'quiet',
                      'data-focus': `rm-${a.name}`,
                      disabled: busy || !a.image.held,
                      'aria-label': `Remove ${a.name}'s image`,
                      onclick: () => void remove(a.name),
                    },
                    'Remove',
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
    h(
      'section',
      { 'aria-label': 'build progress' },
      h('h2', {}, 'Progress'),
      h(
        'pre',
        { class: 'log', role: 'log', 'aria-live': 'polite' },
        state.buildLog.length ? state.buildLog.join('\n') : 'Nothing built or removed yet.',
      ),
    ),
  );
}

/** Each node's warm containers of the agent, from the status (adverts). */
function warmPools(nodes: NodeView[], agent: string): Child {
  const rows = nodes.flatMap((n) =>
    n.warmPool
      .filter((w) => w.agent === agent)
      .map((w) => h('div', {}, `${n.name}: ${w.idle} idle, ${w.busy} busy`)),
  );
  return rows.length ? rows : '–';
}

async function loadAgents(): Promise<void> {
  try {
    state.agents = await getJson<AgentList>('/v1/agents');
    delete state.errors.agents;
  } catch (err) {
    state.errors.agents = (err as Error).message;
  }
  schedule('agents');
}

function logLine(line: string): void {
  state.buildLog.push(line);
  if (state.buildLog.length > 200) state.buildLog.shift();
  schedule('agents');
}

async function build(name: string): Promise<void> {
  state.busy = name;
  logLine(`building ${name}…`);
  try {
    await postStream('/v1/agents/build', { name }, (line) => {
      if (line.type !== 'event') return;
      const ev = line.event as BuildEvent;
      if (ev.type === 'progress') logLine(`${ev.agent}: ${ev.message}`);
      else if (ev.type === 'built')
        logLine(
          `${ev.agent}: ${ev.built ? 'built' : 'up to date'} ${ev.tag} (${(ev.sizeBytes / 1e6).toFixed(1)} MB)`,
        );
      else if (ev.type === 'failed') logLine(`${ev.agent}: failed: ${ev.message}`);
    });
    announce(`${name} built`);
  } catch (err) {
    logLine(`${name}: ${(err as Error).message}`);
  } finally {
    state.busy = null;
    await loadAgents();
  }
}

async function remove(name: string): Promise<void> {
  if (
    !window.confirm(
      `Remove ${name}'s images from this node? It is rebuilt or fetched when next needed.`,
    )
  )
    return;
  state.busy = name;
  logLine(`removing ${name}…`);
  try {
    const r = await postJson<{ removed: unknown[]; freedBytes: number }>('/v1/agents/rm', { name });
    logLine(
      `${name}: removed ${r.removed.length} image(s), freed ${(r.freedBytes / 1e6).toFixed(1)} MB`,
    );
  } catch (err) {
    logLine(`${name}: ${(err as Error).message}`);
  } finally {
    state.busy = null;
    await loadAgents();
  }
}

/* ---------- Home ---------- */

let homeShell: { rooms: HTMLElement; answer: HTMLElement } | null = null;

function renderHome(el: HTMLElement): void {
  if (!homeShell) {
    const input = h('input', {
      id: 'say-text',
      class: 'grow',
      autocomplete: 'off',
      placeholder: 'turn on the kitchen lights',
    });
    const send = h('button', { type: 'submit' }, 'Send');
    const form = h(
      'form',
      { class: 'card', 'aria-label': 'send a command' },
      h('label', { for: 'say-text' }, 'Type a command, as you would say it'),
      h('div', { class: 'row' }, input, send),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text || (state.said?.reply === undefined && state.said !== null)) return;
      send.disabled = true;
      void say(text).finally(() => {
        send.disabled = false;
        input.select();
      });
    });
    const answer = h('div', { 'aria-live': 'polite' });
    const rooms = h('div');
    render(
      el,
      h('h1', { tabindex: -1 }, 'Home'),
      form,
      answer,
      h('section', {}, h('h2', {}, 'Rooms'), rooms),
    );
    homeShell = { rooms, answer };
  }
  const home = state.home;
  render(
    homeShell.rooms,
    !home
      ? h('p', { class: 'empty' }, state.errors.home ?? 'Loading…')
      : [
          h(
            'ul',
            { class: 'cards' },
            home.rooms.map((r) =>
              h(
                'li',
                { class: 'card', 'data-room': r.name },
                h('h2', {}, h('span', {}, r.name), h('span', { class: 'muted' }, r.source)),
                r.lights.length
                  ? h(
                      'ul',
                      { class: 'chips' },
                      r.lights.map((l) =>
                        h(
                          'li',
                          { class: 'chip', title: `${l.backend}: ${l.address}` },
                          l.name,
                          l.dims ? ' · dims' : '',
                        ),
                      ),
                    )
                  : h('p', { class: 'empty' }, 'No lights'),
              ),
            ),
          ),
          home.rooms.length === 0
            ? h('p', { class: 'empty' }, 'No rooms yet: `helix-node rooms set ROOM --lights …`')
            : null,
          home.unplaced.length
            ? h('p', {}, 'In no room: ', home.unplaced.map((l) => l.name).join(', '))
            : null,
        ],
  );
  const said = state.said;
  const trace = said?.traceId ? state.traces.find((t) => t.traceId === said.traceId) : undefined;
  render(
    homeShell.answer,
    said &&
      h(
        'section',
        { class: 'card', 'data-said': said.text },
        h('h2', {}, `“${said.text}”`),
        said.reply !== undefined
          ? h('p', { class: `reply ${said.ok ? '' : 'bad'}` }, said.reply)
          : h('p', { class: 'muted' }, 'Working…'),
        said.lines.length ? h('p', { class: 'muted' }, said.lines.join(' → ')) : null,
        trace ? h('ul', { class: 'list' }, traceItem(trace)) : null,
        said.traceId
          ? h(
              'p',
              {},
              h(
                'a',
                { href: `#commands`, onclick: () => state.open.add(said.traceId!) },
                'Open in Commands',
              ),
            )
          : null,
      ),
  );
}

async function say(text: string): Promise<void> {
  state.said = { text, lines: [] };
  schedule('home');
  try {
    await postStream('/v1/say', { text }, (line) => {
      const said = state.said!;
      if (line.type === 'event') {
        const ev = line.event as {
          type: string;
          hop?: { stage: string; node: string; durationMs: number };
          message?: string;
        };
        if (ev.type === 'hop' && ev.hop)
          said.lines.push(`${ev.hop.stage} on ${ev.hop.node} ${ms(ev.hop.durationMs)}`);
      } else if (line.type === 'result') {
        said.reply = String(line.reply ?? '');
        said.ok = line.ok === true;
        said.traceId = typeof line.traceId === 'string' ? line.traceId : undefined;
        announce(said.reply);
      }
      schedule('home');
    });
  } catch (err) {
    state.said = { ...state.said!, reply: (err as Error).message, ok: false };
  }
  schedule('home');
}

async function loadHome(): Promise<void> {
  try {
    state.home = await getJson<HomeReport>('/v1/home');
    delete state.errors.home;
  } catch (err) {
    state.errors.home = (err as Error).message;
  }
  schedule('home');
}

/* ---------- Health ---------- */

function renderHealth(el: HTMLElement): void {
  const d = state.doctor;
  const again = h(
    'button',
    {
      type: 'button',
      class: 'quiet',
      'data-focus': 'doctor-again',
      onclick: () => void loadDoctor(true),
    },
    'Check again',
  );
  render(
    el,
    h('h1', { tabindex: -1 }, 'Health ', d ? h('span', { class: 'muted' }, `of ${d.node}`) : null),
    h('div', { class: 'toolbar' }, again),
    !d
      ? h('p', { class: 'empty' }, state.errors.health ?? 'Checking…')
      : h(
          'ul',
          { class: 'list', 'aria-label': 'checks' },
          d.checks.map((c) =>
            h(
              'li',
              { class: 'card check', 'data-check': c.name },
              h('span', { class: `badge ${c.ok ? 'ok' : 'bad'}` }, c.ok ? 'OK' : 'missing'),
              h(
                'div',
                {},
                h('strong', {}, c.name),
                h('div', {}, c.detail),
                !c.ok && c.fix ? h('div', {}, 'Fix: ', h('code', {}, c.fix)) : null,
              ),
            ),
          ),
        ),
  );
}

async function loadDoctor(fresh = false): Promise<void> {
  if (fresh) {
    state.doctor = null;
    schedule('health');
  }
  try {
    state.doctor = await getJson<DoctorReport>('/v1/doctor');
    delete state.errors.health;
  } catch (err) {
    state.errors.health = (err as Error).message;
  }
  schedule('health');
}

/* ---------- shell ---------- */

const RENDER: Record<Page, (el: HTMLElement) => void> = {
  mesh: renderMesh,
  commands: renderCommands,
  agents: renderAgents,
  home: renderHome,
  health: renderHealth,
};
const dirty = new Set<Page>();
let frame = 0;

function schedule(p: Page): void {
  dirty.add(p);
  if (!frame)
    frame = requestAnimationFrame(() => {
      frame = 0;
      for (const x of dirty) if (x === page) RENDER[x](regions[x]);
      dirty.clear();
    });
}

function show(next: Page, focus: boolean): void {
  page = next;
  for (const [p, el] of Object.entries(regions)) el.hidden = p !== next;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a'))
    if (a.hash === `#${next}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  document.title = `${PAGES[next]} · HelixOS`;
  RENDER[next](regions[next]);
  if (next === 'agents') void loadAgents();
  if (next === 'home') void loadHome();
  if (next === 'health' && !state.doctor) void loadDoctor();
  if (focus) regions[next].querySelector<HTMLElement>('h1')?.focus();
}

function pageOf(hash: string): Page {
  const p = hash.replace(/^#/, '');
  return p in PAGES ? (p as Page) : 'mesh';
}

function addTrace(t: Trace): void {
  state.traces = [t, ...state.traces.filter((x) => x.traceId !== t.traceId)].slice(0, 200);
  schedule('commands');
  schedule('home');
}

function connect(): void {
  const events = new EventSource('/api/v1/events');
  events.onopen = () => {
    conn.textContent = 'live';
    conn.className = 'conn live';
  };
  events.onmessage = (m: MessageEvent<string>) => {
    const line = JSON.parse(m.data) as {
      type?: string;
      event?: LiveEvent;
      error?: { message: string };
    };
    if (!line.event) return;
    const ev = line.event;
    if (ev.type === 'status') {
      state.status = ev.status;
      document.getElementById('node-name')!.textContent = `· ${ev.status.self.name}`;
      schedule('mesh');
      schedule('agents');
    } else if (ev.type === 'member') {
      const t = ev.transition;
      if (t.to !== 'alive' || t.from !== 'new') announce(`${t.name} is ${t.to}`);
    } else if (ev.type === 'trace') addTrace(ev.trace);
  };
  events.onerror = () => {
    conn.textContent = 'reconnecting…';
    conn.className = 'conn down';
    if (events.readyState === EventSource.CLOSED) {
      events.close();
      setTimeout(() => void boot(), 3000);
    }
  };
}

async function loadTraces(): Promise<void> {
  try {
    const list = await getJson<TraceList>('/v1/traces?limit=100');
    for (const t of list.traces.reverse()) addTrace(t);
    delete state.errors.commands;
  } catch (err) {
    state.errors.commands =
      err instanceof ApiError && err.status === 404
        ? 'This node runs no voice services.'
        : (err as Error).message;
    schedule('commands');
  }
}

function loginForm(message?: string): void {
  const input = h('input', {
    id: 'login-code',
    autocomplete: 'one-time-code',
    autocapitalize: 'characters',
    spellcheck: 'false',
    required: true,
  });
  const error = h('p', { class: 'bad', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    { class: 'card login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in to this node'),
    h(
      'p',
      {},
      `On the node at ${location.hostname}, run `,
      h('code', {}, 'helix-node dashboard code'),
      ' and type the code here. A code signs in to the node that gave it, once, for a few minutes.',
    ),
    h('label', { for: 'login-code' }, 'Login code'),
    h('div', { class: 'row' }, input, h('button', { type: 'submit' }, 'Sign in')),
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    postJson('/login', { code: input.value })
      .then(() => boot())
      .catch((err: Error) => {
        error.textContent = err.message;
        input.select();
      });
  });
  conn.textContent = 'signed out';
  render(main, form);
  input.focus();
}

async function boot(): Promise<void> {
  const res = await fetch('/api/session').catch(() => null);
  if (!res) {
    conn.textContent = 'the node does not answer';
    setTimeout(() => void boot(), 3000);
    return;
  }
  if (res.status === 401) return loginForm();
  document.getElementById('nav')!.hidden = false;
  render(main);
  for (const p of Object.keys(PAGES) as Page[]) {
    regions[p] = h('div', { id: `page-${p}`, hidden: true });
    main.appendChild(regions[p]);
  }
  commandsShell = null;
  homeShell = null;
  show(pageOf(location.hash), false);
  window.addEventListener('hashchange', () => show(pageOf(location.hash), true));
  connect();
  await loadTraces();
}

void boot();
