/**
 * The control socket's one NDJSON envelope, request parsing and client-gone handling, against a
 * real ControlServer on a unix socket in a temp dir.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ControlServer,
  controlCall,
  controlEvents,
  controlSocketPath,
  controlStream,
  parseBody,
  RemoteError,
} from '../../node/control/index.js';
import { HelixError } from '../../node/errors.js';
import { silentLogger } from '../../node/log.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(setup: (s: ControlServer) => void): Promise<string> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-control-'));
  const s = new ControlServer(controlSocketPath(stateDir), silentLogger);
  setup(s);
  await s.start();
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  cleanups.push(() => s.stop());
  return stateDir;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

class TooLoud extends HelixError {
  override readonly exitCode = 75;
}

describe('the control envelope', () => {
  it('streams event lines then one result line; controlEvents yields just the events', async () => {
    const dir = await server((s) =>
      s.route('POST', '/v1/work', async (_body, _req, res) => {
        res.event({ step: 1 });
        res.event({ step: 2 });
        res.result({ ok: true, reply: 'done' });
        return undefined;
      }),
    );
    expect(await collect(controlStream(dir, '/v1/work', { method: 'POST', body: {} }))).toEqual([
      { type: 'event', event: { step: 1 } },
      { type: 'event', event: { step: 2 } },
      { type: 'result', ok: true, reply: 'done' },
    ]);
    expect(await collect(controlEvents(dir, '/v1/work', { method: 'POST', body: {} }))).toEqual([
      { step: 1 },
      { step: 2 },
    ]);
  });

  it('a failure mid-stream ends it with an error line the client throws with its exit code', async () => {
    const dir = await server((s) =>
      s.route('POST', '/v1/work', async (_body, _req, res) => {
        res.event({ step: 1 });
        throw new TooLoud('the speaker is too loud; turn it down');
      }),
    );
    const seen: unknown[] = [];
    const err = await (async () => {
      for await (const e of controlEvents(dir, '/v1/work', { method: 'POST', body: {} }))
        seen.push(e);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ step: 1 }]);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).exitCode).toBe(75);
    expect((err as RemoteError).message).toBe('the speaker is too loud; turn it down');
  });

  it('a malformed body is a usage error (exit 64) naming the route and the field', async () => {
    const Body = z.object({ text: z.string().min(1) });
    const dir = await server((s) =>
      s.route('POST', '/v1/say', async (body) => parseBody(Body, body, 'POST /v1/say {"text"}')),
    );
    const err = await collect(
      controlStream(dir, '/v1/say', { method: 'POST', body: { text: 3 } }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).exitCode).toBe(64);
    expect((err as RemoteError).message).toMatch(/^POST \/v1\/say \{"text"\}: text: /);
  });

  it('aborts the work when the client goes away', async () => {
    let aborted!: (reason: unknown) => void;
    const abortedNow = new Promise((resolve) => (aborted = resolve));
    const dir = await server((s) =>
      s.route('POST', '/v1/work', async (_body, _req, res) => {
        res.event({ started: true });
        await new Promise<void>((resolve) =>
          res.signal.addEventListener(
            'abort',
            () => {
              aborted(res.signal.reason);
              resolve();
            },
            { once: true },
          ),
        );
        return undefined;
      }),
    );
    const client = new AbortController();
    const reading = (async () => {
      for await (const _e of controlEvents(dir, '/v1/work', {
        method: 'POST',
        body: {},
        signal: client.signal,
      }))
        client.abort(); // Ctrl-C once the work has started
    })().catch(() => undefined);
    const reason = await Promise.race([
      abortedNow,
      new Promise((_r, reject) =>
        setTimeout(() => reject(new Error('the work was not aborted within 5 s')), 5000),
      ),
    ]);
    expect(String(reason)).toMatch(/went away/);
    await reading;
  });
});

describe('the control socket', () => {
  it('refuses to take over the socket of a node that runs, and replaces a stale one', async () => {
    const dir = await server((s) => s.route('GET', '/v1/status', async () => ({ who: 'first' })));
    const second = new ControlServer(controlSocketPath(dir), silentLogger);
    const err = await second.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelixError);
    expect((err as Error).message).toMatch(/a helix-node is already running with this state dir/);
    // the first one still answers
    expect(await controlCall(dir, '/v1/status')).toEqual({ who: 'first' });

    // a socket file nobody listens on (a node killed with -9) is taken over
    const stale = mkdtempSync(path.join(os.tmpdir(), 'helix-control-'));
    cleanups.push(() => rmSync(stale, { recursive: true, force: true }));
    // a process that listens and is killed with -9 leaves its socket file behind
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(controlSocketPath(stale))}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(existsSync(controlSocketPath(stale))).toBe(true);
    const third = new ControlServer(controlSocketPath(stale), silentLogger);
    third.route('GET', '/v1/status', async () => ({ who: 'third' }));
    await third.start();
    cleanups.push(() => third.stop());
    expect(await controlCall(stale, '/v1/status')).toEqual({ who: 'third' });
  });

  it('answers routes it does not know with its fallback while one is set', async () => {
    const dir = await server((s) => {
      s.setFallback(async () => {
        throw new TooLoud('still starting');
      });
    });
    const err = await controlCall(dir, '/v1/anything').catch((e: unknown) => e);
    expect((err as RemoteError).exitCode).toBe(75);
    expect((err as Error).message).toBe('still starting');
  });
});
