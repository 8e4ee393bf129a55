/**
 * TLS 1.3 for every gRPC hop (docs/security.md, "Encryption").
 *
 * Members present a certificate from the mesh CA (identity/tls.ts) both ways. A connection whose
 * client certificate does not verify against the mesh CA is closed right after the handshake,
 * before any HTTP/2 byte is read. A connection with no client certificate at all stays open for
 * the one method a node without a certificate needs, Mesh.Join (how it gets one); the auth
 * interceptor refuses every other method on it (auth.ts). OpenSSL can only be told "require a
 * certificate" or "verify one if sent", not "require one except for Join", hence the split.
 */
import { createSecureContext, type TLSSocket } from 'node:tls';
import {
  credentials,
  ServerCredentials,
  type ChannelCredentials,
  type Server,
} from '@grpc/grpc-js';

/** This node's TLS material: `ca` set means a mesh member (client certificates are checked). */
export interface RpcTls {
  /** the mesh CA (PEM); absent: encrypt only, no client certificates (bootstrap stand-in) */
  ca?: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** How RpcClients dial: plaintext (tests, benchmarks), mesh TLS, or TLS without a certificate. */
export type ClientTransport =
  | { kind: 'plaintext' }
  | { kind: 'mesh'; tls: Required<RpcTls> }
  /** encrypted, unverified: a node joining has no CA yet; the join protocol seals its own reply */
  | { kind: 'join' };

const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
/** Peers are dialled by IP; every node certificate names this (identity MESH_TLS_SERVER_NAME). */
export const TLS_SERVER_NAME = 'helix-node';

class MeshServerCredentials extends ServerCredentials {
  constructor(tls: RpcTls) {
    super(
      // rejectUnauthorized false: see the module comment; bad certificates are dropped in gate()
      { requestCert: tls.ca !== undefined, rejectUnauthorized: false, ...TLS13 },
      { ca: tls.ca, cert: tls.cert, key: tls.key, ...TLS13 },
    );
  }

  /** New material for new connections (a renewed certificate, a rotated CA) without a restart. */
  update(tls: RpcTls): void {
    this.updateSecureContextOptions({ ca: tls.ca, cert: tls.cert, key: tls.key, ...TLS13 });
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

export function serverCredentials(tls: RpcTls | undefined): ServerCredentials {
  return tls ? new MeshServerCredentials(tls) : ServerCredentials.createInsecure();
}

export function updateServerCredentials(creds: ServerCredentials, tls: RpcTls): void {
  if (creds instanceof MeshServerCredentials) creds.update(tls);
}

/**
 * Close every connection whose client certificate fails the mesh CA, right after its handshake.
 * grpc-js keeps its HTTP/2 servers in a private map; false when this grpc-js has none (then
 * test/rpc/tls.test.ts fails, and the interceptor still refuses such calls).
 */
export function gateUnverifiedCertificates(
  server: Server,
  onRefused: (peer: string, reason: string) => void,
  opts: {
    /** verified connections are added here until they close (to cut a removed node's off) */
    live?: Set<TLSSocket>;
  } = {},
): boolean {
  const servers = (server as unknown as { http2Servers?: Map<NodeJS.EventEmitter, unknown> })
    .http2Servers;
  if (!(servers instanceof Map)) return false;
  for (const http2 of servers.keys()) {
    if ((http2 as { helixGated?: boolean }).helixGated) continue;
    (http2 as { helixGated?: boolean }).helixGated = true;
    http2.prependListener('secureConnection', (socket: TLSSocket) => {
      const peerCert = socket.getPeerCertificate() ?? {};
      const presented = Object.keys(peerCert).length > 0;
      const peer = `${socket.remoteAddress}:${socket.remotePort}`;
      if (!presented) return;
      if (!socket.authorized) {
        onRefused(peer, String(socket.authorizationError ?? 'certificate not from the mesh CA'));
        socket.destroy();
        return;
      }
      // A removed node's certificate may still verify (during a rotation's grace window, or
      // on a member that has not rotated yet): its calls are refused by the auth interceptor,
      // which says why, and RpcServer.cutOff closes its open connections.
      if (opts.live) {
        const live = opts.live;
        live.add(socket);
        socket.once('close', () => live.delete(socket));
      }
    });
  }
  return true;
}

/** The node id (certificate subject CN) a TLS connection's client certificate names, else null. */
export function socketNodeId(socket: TLSSocket): string | null {
  const cn = socket.getPeerCertificate()?.subject?.CN as string | string[] | undefined;
  return typeof cn === 'string' && cn.length > 0 ? cn : null;
}

/** The node id (certificate subject CN) of a call's verified client certificate, else null. */
export function certificateNodeId(call: {
  getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: string | string[] } } } | null;
}): string | null {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  const cn = cert?.subject?.CN;
  return typeof cn === 'string' && cn.length > 0 ? cn : null;
}

/** Channel credentials for one transport. */
export function channelCredentials(transport: ClientTransport): ChannelCredentials {
  if (transport.kind === 'plaintext') return credentials.createInsecure();
  if (transport.kind === 'join') {
    return credentials.createFromSecureContext(createSecureContext({ ...TLS13 }), {
      rejectUnauthorized: false,
    });
  }
  const { ca, cert, key } = transport.tls;
  return credentials.createFromSecureContext(createSecureContext({ ca, cert, key, ...TLS13 }), {
    // Membership is the mesh CA (OpenSSL verifies the chain); which member answers is checked
    // by the per-call proof and Mesh.Ping's member proof, not by the address in the certificate.
    checkServerIdentity: () => undefined,
  });
}

/** Channel options a TLS channel needs: dial by IP, name the mesh server name in SNI. */
export function tlsChannelOptions(transport: ClientTransport): Record<string, string> {
  return transport.kind === 'plaintext' ? {} : { 'grpc.ssl_target_name_override': TLS_SERVER_NAME };
}
