/**
 * The mirror's HTTP face: the read-only part of the OCI distribution API on loopback, for the
 * node's own engine (Docker, containerd's `ctr`, K3s). `GET /v2/`, and `GET`/`HEAD` of
 * `/v2/helix/<agent>/manifests/<hash or digest>` and `/v2/helix/<agent>/blobs/<digest>` (with
 * `Range`); everything else is the registry API's own error. Loopback only: Docker and
 * containerd pull from 127.0.0.0/8 over plain HTTP without any configuration.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { MirrorNotFoundError, type RegistryMirror } from './mirror.js';
import {
  ERROR_STATUS,
  errorBody,
  parseApiPath,
  parseRange,
  type RegistryErrorCode,
} from './oci.js';

export interface MirrorHttpOptions {
  /** default 127.0.0.1; the mirror is for this node's engine only */
  host?: string;
  /** 0 picks a free port (tests); the daemon's default is registry.port (5050) */
  port: number;
  /** bound on preparing one response (a peer transfer included; default 120 s) */
  requestTimeoutMs?: number;
  log?: Logger;
}

export class MirrorHttpServer {
  private server: Server | null = null;
  private readonly log: Logger;

  constructor(
    private readonly mirror: RegistryMirror,
    private readonly opts: MirrorHttpOptions,
  ) {
    this.log = (opts.log ?? silentLogger).child({ component: 'registry' });
  }

  /** "127.0.0.1:<port>", what `docker pull` names; valid after start(). */
  get address(): string {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error('the registry mirror is not listening; call start() first');
    return `${a.address}:${a.port}`;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.warn({ url: req.url, err: describeError(err) }, 'registry request failed');
        if (!res.headersSent)
          sendError(res, 'UNAVAILABLE', `the mirror failed: ${describeError(err)}`);
        else res.destroy();
      });
    });
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new Error(
                `the registry mirror cannot listen on ${host}:${this.opts.port}: the port is in use; set registry.port in helix.toml to a free port (or 0 for any)`,
                { cause: err },
              )
            : err,
        ),
      );
      server.listen({ host, port: this.opts.port }, resolve);
    });
    this.server = server;
    this.log.info({ address: this.address }, 'registry mirror listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const url = new URL(req.url ?? '/', 'http://mirror');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendError(
        res,
        'UNSUPPORTED',
        `this mirror is read-only: ${req.method} is not supported (pull with GET or HEAD)`,
      );
    const what = parseApiPath(url.pathname);
    if (!what) return sendError(res, 'NAME_UNKNOWN', `no registry API at ${url.pathname}`, 404);
    const head = req.method === 'HEAD';
    if (what.kind === 'error')
      return sendError(res, what.code, what.message, undefined, what.detail, head);
    if (what.kind === 'version') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
      res.end(head ? undefined : '{}');
      return;
    }
    const signal = AbortSignal.timeout(this.opts.requestTimeoutMs ?? 120_000);
    try {
      if (what.kind === 'manifest') {
        const m = await this.mirror.manifest(what.agent, what.reference, { signal });
        res.writeHead(200, {
          'Content-Type': m.mediaType,
          'Content-Length': m.bytes.length,
          'Docker-Content-Digest': m.digest,
          ETag: `"${m.digest}"`,
        });
        res.end(head ? undefined : m.bytes);
        return;
      }
      const blob = await this.mirror.blob(what.agent, what.digest, { signal });
      const range = parseRange(req.headers.range, blob.size);
      const common = {
        'Content-Type': 'application/octet-stream',
        'Docker-Content-Digest': blob.digest,
        ETag: `"${blob.digest}"`,
        'Accept-Ranges': 'bytes',
      };
      if (range === 'unsatisfiable') {
        res.writeHead(416, { ...common, 'Content-Range': `bytes */${blob.size}` });
        res.end();
        return;
      }
      if (range) {
        res.writeHead(206, {
          ...common,
          'Content-Length': range.end - range.start + 1,
          'Content-Range': `bytes ${range.start}-${range.end}/${blob.size}`,
        });
      } else {
        res.writeHead(200, { ...common, 'Content-Length': blob.size });
      }
      if (head || blob.size === 0) {
        res.end();
        return;
      }
      await pipeline(this.mirror.store.stream(blob.digest, range ?? undefined), res);
    } catch (err) {
      if (err instanceof MirrorNotFoundError)
        return sendError(res, err.code, err.message, undefined, undefined, head);
      throw err;
    }
  }
}

function sendError(
  res: ServerResponse,
  code: RegistryErrorCode,
  message: string,
  status = ERROR_STATUS[code],
  detail?: unknown,
  head = false,
): void {
  const body = errorBody(code, message, detail);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}
