/**
 * The daemon's wiring: components start in order, stop in reverse, and a component that fails
 * to start stops those already started. Plain-object components stand in for the real ones.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../node/config/index.js';
import { controlCall, RemoteError } from '../node/control/index.js';
import { HelixError } from '../node/errors.js';
import { ComponentStack, component, type Component } from '../node/lifecycle.js';
import { silentLogger } from '../node/log.js';
import { waitFor } from './support/wait.js';

function recorder() {
  const log: string[] = [];
  const make = (name: string, opts: { failStart?: boolean; failStop?: boolean } = {}): Component =>
    component(
      name,
      () => {
        log.push(`start ${name}`);
        if (opts.failStart) throw new Error(`${name} cannot start`);
      },
      () => {
        log.push(`stop ${name}`);
        if (opts.failStop) throw new Error(`${name} cannot stop`);
      },
    );
  return { log, make };
}

const signal = () => new AbortController().signal;

describe('the daemon component stack', () => {
  it('starts components in order and stops them in reverse', async () => {
    const { log, make } = recorder();
    const stack = new ComponentStack();
    await stack.start([make('discovery'), make('bus'), make('membership'), make('rpc')], signal());
    expect(stack.running).toEqual(['discovery', 'bus', 'membership', 'rpc']);
    await stack.stop();
    expect(log).toEqual([
      'start discovery',
      'start bus',
      'start membership',
      'start rpc',
      'stop rpc',
      'stop membership',
      'stop bus',
      'stop discovery',
    ]);
    expect(stack.running).toEqual([]);
  });

  it('a component failing to start stops those already started, in reverse, and the error propagates', async () => {
    const { log, make } = recorder();
    const stack = new ComponentStack();
    const started = stack.start(
      [make('discovery'), make('bus'), make('rpc', { failStart: true }), make('control')],
      signal(),
    );
    await expect(started).rejects.toThrow('rpc cannot start');
    expect(log).toEqual([
      'start discovery',
      'start bus',
      'start rpc',
      'stop bus',
      'stop discovery',
    ]);
    expect(stack.running).toEqual([]);
  });

  it('a stop that fails is reported and the others still stop', async () => {
    const { log, make } = recorder();
    const failures: string[] = [];
    const stack = new ComponentStack({ onStopError: (name) => failures.push(name) });
    await stack.start([make('a'), make('b', { failStop: true }), make('c')], signal());
    await stack.stop();
    expect(log.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
    expect(failures).toEqual(['b']);
  });

  it('stops twice without stopping anything twice', async () => {
    const { log, make } = recorder();
    const stack = new ComponentStack();
    await stack.start([make('a')], signal());
    await Promise.all([stack.stop(), stack.stop()]);
    expect(log).toEqual(['start a', 'stop a']);
  });

  it('an abort while a component starts ends the start and stops what had started', async () => {
    const { log, make } = recorder();
    const ac = new AbortController();
    const waiting: Component = {
      name: 'mesh',
      // like the mesh bootstrap: waits for peers until the signal aborts
      start: (s) =>
        new Promise((_resolve, reject) => {
          log.push('start mesh');
          s.addEventListener('abort', () => reject(s.reason as Error), { once: true });
          ac.abort(new Error('Ctrl-C'));
        }),
      stop: async () => {
        log.push('stop mesh');
      },
    };
    const started = new ComponentStack().start(
      [make('discovery'), waiting, make('bus')],
      ac.signal,
    );
    await expect(started).rejects.toThrow('Ctrl-C');
    expect(log).toEqual(['start discovery', 'start mesh', 'stop discovery']);
  });

  it('does not start anything once the signal has aborted', async () => {
    const { log, make } = recorder();
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(new ComponentStack().start([make('a')], ac.signal)).rejects.toThrow('gone');
    expect(log).toEqual([]);
  });
});

/** A port the OS hands out (bound to port 0, read back, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the daemon', () => {
  it('stops the components it started when nats-server cannot start, and the error says why', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-daemon-'));
    const { Daemon } = await import('../node/daemon.js');
    const config = parseConfig({
      node: { name: 'wiring' },
      // nothing binds it (off a tailnet the mesh is created at once; the start fails before rpc)
      mesh: { address: '127.0.8.60', rpc_port: await freePort() },
      discovery: { tailscale: false, mdns: false },
      bus: { nats_server: path.join(stateDir, 'no-such-nats-server') },
    });
    const daemon = new Daemon({
      loaded: { config, configPath: null, stateDir },
      logger: silentLogger,
    });
    const seen: string[][] = [];
    try {
      const err = await daemon.start().catch((e: unknown) => e);
      seen.push(daemon.running);
      expect(err).toBeInstanceOf(HelixError);
      expect((err as Error).message).toMatch(/nats-server/);
      // it got as far as creating a mesh (off a tailnet: at once), then undid what it started
      expect(existsSync(path.join(stateDir, 'mesh.json'))).toBe(true);
      expect(existsSync(path.join(stateDir, 'control.sock'))).toBe(false);
      expect(seen).toEqual([[]]);
    } finally {
      await daemon.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('answers status from the start: "starting" with the parts up so far, until every part runs', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-daemon-'));
    // a nats-server that takes 3 s to fail: the node sits in its bus step meanwhile
    const slow = path.join(stateDir, 'slow-nats-server');
    writeFileSync(slow, '#!/bin/sh\nsleep 3\nexit 1\n', { mode: 0o755 });
    const { Daemon } = await import('../node/daemon.js');
    const config = parseConfig({
      node: { name: 'early' },
      mesh: { address: '127.0.8.61', rpc_port: await freePort() },
      discovery: { tailscale: false, mdns: false },
      bus: { nats_server: slow },
    });
    const daemon = new Daemon({
      loaded: { config, configPath: null, stateDir },
      logger: silentLogger,
    });
    try {
      const starting = daemon.start().catch((e: unknown) => e);
      // the socket not there yet is retried; an answer (an error line from the node) ends the wait
      const answer = await waitFor(
        async () => {
          try {
            return await controlCall(stateDir, '/v1/status', { timeoutMs: 500 });
          } catch (err) {
            if (err instanceof RemoteError) return err;
            throw err;
          }
        },
        { timeoutMs: 2500, intervalMs: 20, what: 'a status answer' },
      );
      expect(answer).toBeInstanceOf(RemoteError);
      expect((answer as RemoteError).name).toBe('NodeStartingError');
      expect((answer as RemoteError).exitCode).toBe(75);
      expect((answer as Error).message).toMatch(
        /^helix-node early is starting \(up so far: discovery(, [a-z-]+)*\); ask again in a moment$/,
      );
      // any other route says the same, not "no such route"
      const other = await controlCall(stateDir, '/v1/settings').catch((e: unknown) => e);
      expect((other as Error).name).toBe('NodeStartingError');
      expect(await starting).toBeInstanceOf(HelixError);
      expect(existsSync(path.join(stateDir, 'control.sock'))).toBe(false);
    } finally {
      await daemon.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
