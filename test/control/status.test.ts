/** helix.status/v1 keeps its shape (docs/status-json.md): the report built from plain values. */
import { describe, expect, it } from 'vitest';
import { statusReport } from '../../node/control/index.js';
import { peerView } from '../pipeline/support/mesh.js';

describe('statusReport', () => {
  it('builds helix.status/v1 with routes, restarts, drops and every node with its short id', () => {
    const self = { ...peerView({ name: 'desk', host: '100.64.0.10', port: 7700, self: true }) };
    const pi = peerView({ name: 'pi', host: '100.64.0.11', port: 7700 });
    const report = statusReport({
      self: { id: 'id-12D3KooWdesk0001', shortId: 'desk0001', name: 'desk' },
      meshId: 'mesh-e05bbec046aa',
      version: '0.1.0',
      address: '100.64.0.10',
      startedAt: Date.parse('2026-11-25T16:48:53.138Z'),
      tailnet: { kind: 'disabled' },
      routes: [
        { ip: '100.64.0.11', port: 6222 },
        { ip: '100.64.0.12', port: 6222, remote_name: 'x' },
      ],
      natsRestarts: 2,
      drops: { forged: 1 },
      view: [self, pi],
      roomOf: (id) => (id === pi.id ? 'kitchen' : undefined),
    });
    expect(JSON.parse(JSON.stringify(report))).toEqual({
      schema: 'helix.status/v1',
      self: {
        id: 'id-12D3KooWdesk0001',
        shortId: 'desk0001',
        name: 'desk',
        meshId: 'mesh-e05bbec046aa',
        version: '0.1.0',
        address: '100.64.0.10',
        startedAt: '2026-11-25T16:48:53.138Z',
      },
      tailnet: { kind: 'disabled' },
      bus: {
        routes: [
          { address: '100.64.0.11:6222', name: null },
          { address: '100.64.0.12:6222', name: 'x' },
        ],
        restarts: 2,
      },
      drops: { forged: 1 },
      nodes: [
        { ...JSON.parse(JSON.stringify(self)), shortId: self.id.slice(-8), room: null },
        { ...JSON.parse(JSON.stringify(pi)), shortId: pi.id.slice(-8), room: 'kitchen' },
      ],
    });
    expect(Object.keys(report)).toEqual(['schema', 'self', 'tailnet', 'bus', 'drops', 'nodes']);
  });

  it('lists no routes when the monitor did not answer', () => {
    const report = statusReport({
      self: { id: 'a', shortId: 'a', name: 'a' },
      meshId: 'm',
      version: 'v',
      address: '127.0.0.1',
      startedAt: 0,
      tailnet: { kind: 'disabled' },
      routes: null,
      natsRestarts: 0,
      drops: {},
      view: [],
    });
    expect(report.bus).toEqual({ routes: [], restarts: 0 });
  });
});
