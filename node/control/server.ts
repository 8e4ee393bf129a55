/**
 * The daemon's local control endpoint: HTTP/JSON over a unix socket in the state dir
 * (mode 0600), so only the node's own user can ask it for status or give it work.
 * It never listens on the network.
 */
import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Logger } from '../log.js';
import { HelixError, describeError } from '../errors.js';
import { clientGone, type ErrorLine, type StreamLine } from './envelope.js';

export type ControlHandler = (
  body: unknown,
  req: http.IncomingMessage,
  res: ControlResponse,
) => Promise<unknown>;

/**
 * A handler may stream the NDJSON envelope (envelope.ts) instead of returning one value. `signal`
 * aborts when the client goes away before the answer is complete.
 */
export interface ControlResponse {
  readonly signal: AbortSignal;
  /** one `{"type":"event","event":…}` line */
  event(event: unknown): void;
  /** the closing `{"type":"result",…}` line */
  result(result: object): void;
}

export function controlSocketPath(stateDir: string): string {
  return path.join(stateDir, 'control.sock');
}

const MAX_BODY = 1 << 20;

export class ControlServer {
  private server: http.Server | null = null;
  private readonly routes = new Map<string, ControlHandler>();

  constructor(
    private readonly socketPath: string,
    private readonly logger: Logger,
  ) {}

  /** Register `GET /v1/status`-style routes before start. */
  route(method: 'GET' | 'POST', pathname: string, handler: ControlHandler): void {
    this.routes.set(`${method} ${pathname}`, handler);
  }

  async start(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const handler = this.routes.get(`${req.method} ${url.pathname}`);
    if (!handler) {
      sendJson(res, 404, {
        error: { name: 'NotFound', message: `no such control route ${req.method} ${url.pathname}` },
      });
      return;
    }
    let streaming = false;
    const gone = clientGone(req);
    const write = (line: StreamLine<unknown> | ErrorLine) => {
      if (!streaming) {
        streaming = true;
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      }
      res.write(JSON.stringify(line) + '\n');
    };
    try {
      const body =
        req.method === 'POST' ? await readBody(req) : Object.fromEntries(url.searchParams);
      const response: ControlResponse = {
        signal: gone.signal,
        event: (event) => write({ type: 'event', event }),
        result: (result) => write({ type: 'result', ...result }),
      };
      const result = await handler(body, req, response);
      if (streaming) res.end();
      else sendJson(res, 200, result ?? {});
    } catch (err) {
      this.logger.debug({ err: describeError(err), route: url.pathname }, 'control request failed');
      const payload: ErrorLine = {
        error: {
          name: err instanceof Error ? err.name : 'Error',
          message: describeError(err),
          exitCode: err instanceof HelixError ? err.exitCode : 1,
        },
      };
      if (streaming) {
        res.end(JSON.stringify(payload) + '\n');
      } else sendJson(res, 500, payload);
    } finally {
      gone.done();
    }
  }
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HelixError('control request too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}
