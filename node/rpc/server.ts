/**
 * The node's gRPC server: one grpc-js Server bound to the mesh address(es) and loopback on the
 * rpc port — never a wildcard address — with the mesh-proof interceptor in front of every service.
 */
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { format } from 'node:util';
import {
  Server,
  status,
  type ServerCredentials,
  type ServerDuplexStream,
  setLogger,
  setLogVerbosity,
  logVerbosity,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ConfigError, StateError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { meshAuthServerInterceptor, ProofVerifier, UNAUTHENTICATED_METHODS } from './auth.js';
import {
  gateUnverifiedCertificates,
  serverCredentials,
  socketNodeId,
  updateServerCredentials,
  type RpcTls,
} from './tls.js';

export interface RpcServerOptions {
  /** mesh addresses to listen on (Tailscale or LAN IPs); 127.0.0.1 is always added */
  addresses: readonly string[];
  /** 0 picks a free port (the same one on every address) */
  port: number;
  /** the mesh secret; calls must prove it (see auth.ts) */
  secret: Uint8Array;
  /**
   * TLS 1.3 (tls.ts). With `ca`, calls other than Join also need a client certificate from the
   * mesh CA naming the node their proof names. Absent: plaintext (tests and benchmarks only; the
   * daemon always passes it).
   */
  tls?: RpcTls;
  /** this node's id, for logs */
  selfId?: string;
  logger?: Logger;
  /** how long stop() waits for running calls before cancelling them (default 5 s) */
  shutdownTimeoutMs?: number;
  /** methods callable without proof (default: Mesh.Join only) */
  openMethods?: readonly string[];
  maxSkewMs?: number;
  /** node ids removed from the mesh (docs/security.md, "Removing a node"): refused at once */
  isRevoked?: (nodeId: string) => boolean;
}

const LOOPBACK = '127.0.0.1';

export class RpcServer {
  private readonly services: Array<{
    definition: ServiceDefinition;
    implementation: UntypedServiceImplementation;
  }> = [];
  private readonly hosts: string[];
  private readonly log: Logger;
  private readonly verifier: ProofVerifier;
  private server: Server | null = null;
  private boundPort = 0;
  private readonly credentials: ServerCredentials;
  /** verified TLS connections, to cut a removed node's at once */
  private readonly live = new Set<TLSSocket>();

  constructor(private readonly opts: RpcServerOptions) {
    this.log = (opts.logger ?? silentLogger).child({ component: 'rpc' });
    this.hosts = listenHosts(opts.addresses);
    this.verifier = new ProofVerifier(opts.secret, { maxSkewMs: opts.maxSkewMs });
    this.credentials = serverCredentials(opts.tls);
  }

  /** Whether connections are TLS (and with client certificates when the mesh CA is set). */
  get transport(): 'plaintext' | 'tls' | 'mesh-tls' {
    if (!this.opts.tls) return 'plaintext';
    return this.opts.tls.ca ? 'mesh-tls' : 'tls';
  }

  /** Serve new connections with new TLS material (a renewed certificate) without a restart. */
  updateTls(tls: RpcTls): void {
    updateServerCredentials(this.credentials, tls);
  }

  /**
   * Accept call proofs under these secrets (the current one first) from now on: a key rotation
   * without a restart (node/removal).
   */
  setSecrets(secrets: readonly Uint8Array[]): void {
    this.verifier.setSecrets(secrets);
  }

  /**
   * Close every open connection whose certificate names one of these nodes (just removed); the
   * auth interceptor refuses every call of theirs from now on (options.isRevoked).
   * Returns how many were closed.
   */
  cutOff(nodeIds: ReadonlySet<string>): number {
    let cut = 0;
    for (const socket of [...this.live]) {
      const id = socketNodeId(socket);
      if (id !== null && nodeIds.has(id)) {
        socket.destroy();
        this.live.delete(socket);
        cut++;
      }
    }
    return cut;
  }

  /** Register a service (a ts-proto `XxxService` definition and its `XxxServer` implementation) before start(). */
  addService<I extends UntypedServiceImplementation>(
    definition: ServiceDefinition<I>,
    implementation: I,
  ): this {
    if (this.server)
      throw new StateError(
        'RpcServer.addService called after start(); register every service before starting the server',
      );
    this.services.push({ definition: definition as ServiceDefinition, implementation });
    return this;
  }

  /** The port actually bound (useful with port 0); 0 before start(). */
  get port(): number {
    return this.boundPort;
  }

  /** "host:port" for every listening socket, e.g. ["100.64.0.2:7700", "127.0.0.1:7700"]. */
  get boundAddresses(): string[] {
    if (!this.server) return [];
    return this.hosts.map((h) => joinHostPort(h, this.boundPort));
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = new Server({
      interceptors: [
        meshAuthServerInterceptor(this.verifier, {
          openMethods: this.opts.openMethods ?? UNAUTHENTICATED_METHODS,
          requireCertificate: this.opts.tls?.ca !== undefined,
          isRevoked: this.opts.isRevoked,
          onRefused: (path, peer, check) =>
            this.log.warn(
              { path, peer, kind: check.kind },
              'refused call without a valid mesh proof',
            ),
        }),
      ],
      // Pings from the server find clients that vanished mid-stream (a laptop that slept).
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
    for (const s of this.services) server.addService(s.definition, s.implementation);
    if (!authenticateUnknownMethods(server))
      this.log.warn(
        'this grpc-js answers calls to methods this node does not serve before checking the mesh proof; update node/rpc/server.ts authenticateUnknownMethods',
      );
    let port = this.opts.port;
    try {
      for (const host of this.hosts) {
        port = await bind(server, host, port, this.credentials);
      }
      if (
        this.opts.tls?.ca &&
        !gateUnverifiedCertificates(
          server,
          (peer, reason) =>
            this.log.warn({ peer, reason }, 'refused a TLS connection: certificate not accepted'),
          { live: this.live },
        )
      )
        this.log.warn(
          'this grpc-js hides its HTTP/2 servers, so connections with a foreign certificate reach the auth interceptor; update node/rpc/tls.ts gateUnverifiedCertificates',
        );
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
    this.server = server;
    this.boundPort = port;
    this.log.info(
      { addresses: this.boundAddresses, node: this.opts.selfId, transport: this.transport },
      'gRPC listening',
    );
  }

  /** Let running calls finish for up to shutdownTimeoutMs, then cancel them. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const timeoutMs = this.opts.shutdownTimeoutMs ?? 5000;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ timeoutMs }, 'gRPC calls still running at shutdown; cancelling them');
        server.forceShutdown();
        resolve();
      }, timeoutMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.boundPort = 0;
  }
}

/** What grpc-js's Server keeps per method (its private handler table, read by _retrieveHandler). */
interface GrpcHandler {
  func: (call: ServerDuplexStream<Buffer, Buffer>) => void;
  serialize: (value: Buffer) => Buffer;
  deserialize: (bytes: Buffer) => Buffer;
  type: 'bidi';
  path: string;
}

/**
 * Calls to a method this node does not serve go through the interceptors too, so the mesh proof
 * is checked before anything else is said. grpc-js answers UNIMPLEMENTED for an unknown method
 * before its interceptors run, which told an outsider without the mesh secret which services a
 * node runs (issue 11: Transcriber on STT nodes only). Every unknown path gets a handler that,
 * once the proof is good, answers UNIMPLEMENTED naming the method; a bidi handler fits any call
 * shape, and reads no messages. False when this grpc-js's Server has no _retrieveHandler (a
 * private method; test/rpc/auth.test.ts fails then).
 */
export function authenticateUnknownMethods(server: Server): boolean {
  const internals = server as unknown as { _retrieveHandler?: (path: string) => unknown };
  const retrieve = internals._retrieveHandler;
  if (typeof retrieve !== 'function') return false;
  internals._retrieveHandler = function (this: Server, path: string): unknown {
    const handler: unknown = retrieve.call(this, path);
    if (handler) return handler;
    const unknown: GrpcHandler = {
      type: 'bidi',
      path,
      serialize: (value) => value,
      deserialize: (bytes) => bytes,
      func: (call) =>
        call.emit('error', {
          code: status.UNIMPLEMENTED,
          details: `this node does not serve ${path}`,
        }),
    };
    return unknown;
  };
  return true;
}

/** The hosts to bind: the given mesh addresses plus loopback, deduplicated; wildcards refused. */
export function listenHosts(addresses: readonly string[]): string[] {
  const hosts: string[] = [];
  for (const raw of [...addresses, LOOPBACK]) {
    const host = raw.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host) === 0) {
      throw new ConfigError(
        'mesh.address',
        raw,
        'an IPv4 or IPv6 address of this machine (gRPC binds to it by address, not by name)',
      );
    }
    if (host === '0.0.0.0' || host === '::' || host === '::0') {
      throw new ConfigError(
        'mesh.address',
        raw,
        'a specific address of this machine; HelixOS never listens on all interfaces',
      );
    }
    if (!hosts.includes(host)) hosts.push(host);
  }
  return hosts;
}

export function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function bind(
  server: Server,
  host: string,
  port: number,
  creds: ServerCredentials,
): Promise<number> {
  const target = joinHostPort(host, port);
  return new Promise((resolve, reject) => {
    server.bindAsync(target, creds, (err, bound) => {
      if (!err) {
        resolve(bound);
        return;
      }
      // grpc-js wraps the socket error: "No address added out of total 1 resolved errors: [listen EADDRINUSE: ...]".
      const reason = /\[(listen [^\]]+)\]/.exec(err.message)?.[1] ?? err.message;
      const key = /EADDRNOTAVAIL|Cannot assign/i.test(reason) ? 'mesh.address' : 'mesh.rpc_port';
      const fix =
        key === 'mesh.address'
          ? `cannot listen on ${target} (${reason}); set mesh.address to an address this machine has (\`ip -4 addr\`)`
          : `cannot listen on ${target} (${reason}); stop the process using the port or choose another mesh.rpc_port`;
      reject(new ConfigError(key, key === 'mesh.address' ? host : port, fix, { cause: err }));
    });
  });
}

/**
 * Send grpc-js's own diagnostics (it writes "E ..." lines to stderr by default) to the node's
 * logger at debug level; the errors that matter reach callers as RpcCallError/ConfigError anyway.
 * Process-wide, so the daemon calls it once.
 */
export function routeGrpcLogs(logger: Logger): void {
  setLogVerbosity(logVerbosity.ERROR);
  setLogger({
    error: (...args: unknown[]) => logger.debug({ component: 'grpc-js' }, format(...args)),
  });
}
