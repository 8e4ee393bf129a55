/** `helix-node status`: the mesh as this node sees it. */
import type { StatusReport } from '../control/index.js';
import type { PeerView } from '../types.js';
import { paint, table, type Output } from './output.js';

const STATE_COLOUR = { alive: 'green', suspect: 'yellow', dead: 'red', left: 'dim' } as const;

export function renderStatus(o: Output, report: StatusReport): string {
  const lines: string[] = [];
  lines.push(
    `${paint(o, 'bold', report.self.name)} (${report.self.shortId}) in ${report.self.meshId}, mesh address ${report.self.address}, ${tailnetLine(report)}`,
  );
  const rows = report.nodes.map((n) => [
    n.self ? `${n.name} *` : n.name,
    n.shortId,
    n.addresses.join(',') || '-',
    paint(o, STATE_COLOUR[n.state], n.state),
    n.self ? '-' : n.rttMs === null ? '?' : `${n.rttMs.toFixed(1)}ms`,
    capabilitiesLine(n),
    loadLine(n),
    n.version,
  ]);
  lines.push('');
  lines.push(
    table(['NAME', 'ID', 'ADDRESSES', 'STATE', 'RTT', 'CAPABILITIES', 'LOAD', 'VERSION'], rows),
  );
  const drops = Object.entries(report.drops).filter(([, n]) => n > 0);
  if (drops.length > 0)
    lines.push('', `dropped adverts: ${drops.map(([k, n]) => `${k}=${n}`).join(' ')}`);
  return lines.join('\n');
}

function tailnetLine(report: StatusReport): string {
  const t = report.tailnet;
  switch (t.kind) {
    case 'running':
      return `tailnet ${t.tailnet ?? ''} (${t.selfIps.join(', ')})`.replace('  ', ' ');
    case 'not-running':
      return `tailscale ${t.backendState} (not on a tailnet)`;
    case 'unavailable':
      return `tailscale unavailable: ${t.reason}`;
    case 'disabled':
      return 'tailscale discovery off';
  }
}

export function capabilitiesLine(n: PeerView): string {
  const c = n.capabilities;
  const parts: string[] = [];
  if (c.mic) parts.push(`mic(${c.mic.devices.length})`);
  for (const g of c.gpu) parts.push(`gpu:${g.name} ${Math.round(g.vramTotalMiB / 1024)}GiB`);
  if (c.docker)
    parts.push(`docker ${c.docker.version}${c.docker.platform ? ` (${c.docker.platform})` : ''}`);
  if (c.stt) parts.push(`stt:${c.stt.engine}/${c.stt.model}`);
  if (c.ollama) parts.push(`ollama[${c.ollama.models.join(',')}]`);
  if (c.tts.length) parts.push(`tts:${c.tts.join(',')}`);
  return parts.join(' ') || '-';
}

function loadLine(n: PeerView): string {
  const l = n.load;
  return `${l.runningAgents} agents, ${l.loadPerCore.toFixed(2)}/core, ${Math.round(l.memFreeMiB)}MiB free`;
}
