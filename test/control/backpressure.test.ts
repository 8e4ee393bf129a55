/**
 * Control streams honour backpressure (issue 11: a CLI that stopped reading grew the daemon from
 * 1.11 to 1.84 GB in 20 s): a real ControlServer on a unix socket, a client that does not read.
 * Bounds are counted in events pulled from the producer and bytes that reach the client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentControl } from '../../node/agenthost/index.js';
import { ControlServer, type StreamLimits } from '../../node/control/index.js';
import { addAgentRoutes } from '../../node/control/routes/index.js';
import { silentLogger } from '../../node/log.js';
import { waitFor } from '../support/wait.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(limits?: Partial<StreamLimits>): Promise<{
  control: ControlServer;
  socketPath: string;
}> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'helix-bp-'));
  const socketPath = path.join(dir, 'control.sock');
  const control = new ControlServer(socketPath, silentLogger, limits);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return {
    control,
    socketPath,
  };
}

/** Sends one POST and reads nothing until resume() is called. */
function stalledClient(
  socketPath: string,
  route: string,
  body: object,
): { socket: net.Socket; closed: Promise<void>; received: () => string } {
  const socket = net.connect(socketPath);
  const json = JSON.stringify(body);
  socket.write(
    `POST ${route} HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
  );
  socket.pause();
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  cleanups.push(() => void socket.destroy());
  return { socket, closed, received: () => Buffer.concat(chunks).toString('utf8') };
}

describe('control streams and a client that does not read', () => {
  it('holds a run back while the client does not read, then ends it after the stall bound', async () => {
    const { control, socketPath } = await server({ stallMs: 500 });
    const TOTAL = 50_000;
    let pulled = 0;
    let finished = false;
    const d = {
      checkRun: () => ({ ok: true }),
      async *runIntent(_req: unknown, opts: { signal: AbortSignal }) {
        try {
          yield { type: 'accepted', agent: 'a', intent: 'go', host: 'h' };
          // a result-sized event each time: nothing here may be coalesced
          for (let i = 0; i < TOTAL && !opts.signal.aborted; i++) {
            pulled++;
            yield { type: 'step', n: i, text: 'z'.repeat(1000) };
          }
        } finally {
          finished = true;
        }
      },
    } as unknown as AgentControl;
    addAgentRoutes(control, d);
    await control.start();
    cleanups.push(() => control.stop());
    const client = stalledClient(socketPath, '/v1/run', { agent: 'a', intent: 'go' });
    await waitFor(() => finished, { timeoutMs: 10_000, what: 'the run to end' });
    // before: all 50,000 events (50 MB) were pulled and held for the client
    expect(pulled).toBeLessThan(2000);
    // the server closed the stream: what the client reads now is what the kernel held
    client.socket.resume();
    await client.closed;
    expect(Buffer.byteLength(client.received())).toBeLessThan(2 * 1024 * 1024);
  });

  it('coalesces progress for a client that is slow to read: it gets the latest and the result', async () => {
    const { control, socketPath } = await server();
    const N = 20_000;
    control.route('POST', '/v1/flood', async (_body, _req, res) => {
      for (let i = 0; i < N; i++)
        res.event({ type: 'progress', message: `step ${i} ${'p'.repeat(1000)}` });
      res.result({ ok: true });
      return undefined;
    });
    await control.start();
    cleanups.push(() => control.stop());
    const client = stalledClient(socketPath, '/v1/flood', {});
    await new Promise((r) => setTimeout(r, 300));
    client.socket.resume();
    await waitFor(() => client.received().includes('{"type":"result"'), {
      what: 'the result line',
    });
    const text = client.received();
    // before: every one of the 20,000 lines, 20 MB
    expect(Buffer.byteLength(text)).toBeLessThan(2 * 1024 * 1024);
    const lines = text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; event?: { message: string } });
    expect(lines.at(-1)).toEqual({ type: 'result', ok: true });
    expect(lines.at(-2)!.event!.message).toMatch(/^step 19999 p+$/);
  });

  it('ends a stream whose client lets more than the byte bound pile up', async () => {
    const { control, socketPath } = await server({ maxBufferedBytes: 1024 * 1024 });
    let stoppedBy: unknown = null;
    control.route('POST', '/v1/big', async (_body, _req, res) => {
      for (let i = 0; i < 10_000 && !res.signal.aborted; i++) {
        res.event({ type: 'step', text: 'b'.repeat(10_000) });
        if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      stoppedBy = res.signal.aborted ? 'signal' : 'end';
      return undefined;
    });
    await control.start();
    cleanups.push(() => control.stop());
    const client = stalledClient(socketPath, '/v1/big', {});
    await waitFor(() => stoppedBy !== null, { timeoutMs: 10_000, what: 'the handler to stop' });
    // before: the handler wrote all 100 MB toward a client that read nothing
    expect(stoppedBy).toBe('signal');
    client.socket.resume();
    await client.closed;
    expect(Buffer.byteLength(client.received())).toBeLessThan(4 * 1024 * 1024);
  });
});
