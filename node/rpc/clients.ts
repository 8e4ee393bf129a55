/**
 * Typed gRPC clients to peers, one HTTP/2 channel per "host:port" shared by every service, each
 * call signed with the mesh proof. Keepalive pings run while calls (streams) are open, so a peer
 * that vanished mid-stream is noticed in ~20 s rather than at the TCP timeout.
 */
import {
  Channel,
  credentials,
  type ChannelOptions,
  type Client,
  type Interceptor,
  status,
} from '@grpc/grpc-js';
import type { PeerView } from '../types.js';
import { RpcCallError } from './calls.js';
import { AgentHostClient } from './gen/helix/v1/agent.js';
import { ImageStoreClient } from './gen/helix/v1/image.js';
import { ImageBlobsClient } from './gen/helix/v1/registry.js';
import { LlmClient } from './gen/helix/v1/llm.js';
import { KeysClient } from './gen/helix/v1/keys.js';
import { MeshClient } from './gen/helix/v1/mesh.js';
import { ModelsClient } from './gen/helix/v1/models.js';
import { RouterClient } from './gen/helix/v1/router.js';
import { TranscriberClient } from './gen/helix/v1/transcriber.js';
import { meshAuthClientInterceptor } from './auth.js';
import { channelCredentials, tlsChannelOptions, type ClientTransport } from './tls.js';
import { joinHostPort } from './server.js';

export type RpcTarget = string | { address: string; port: number };

export interface RpcClientsOptions {
  /** this node's id, sent (and signed) with every call */
  nodeId: string;
  /** the mesh secret; without it calls carry no proof (only Mesh.Join accepts them) */
  secret?: Uint8Array;
  /** extra grpc-js channel options (override the defaults below) */
  channelOptions?: ChannelOptions;
  /** default plaintext (tests, benchmarks); the daemon dials with mesh TLS, joiners with 'join' */
  transport?: ClientTransport;
}

export const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 15_000,
  'grpc.keepalive_timeout_ms': 5_000,
  // Only while calls are open: idle channels cost nothing on a sleeping laptop.
  'grpc.keepalive_permit_without_calls': 0,
  // Peers come back within seconds (restart, Wi-Fi roam); don't back off for minutes.
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5_000,
  'grpc.max_receive_message_length': 8 * 1024 * 1024,
};

type ClientCtor<C> = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: object,
) => C;

export class RpcClients {
  private readonly channels = new Map<string, Channel>();
  private readonly clients = new Map<string, Client>();
  private readonly interceptors: Interceptor[];
  private readonly channelOptions: ChannelOptions;
  private transport: ClientTransport;
  private secrets: readonly Uint8Array[];
  private readonly retiring = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;

  constructor(private readonly opts: RpcClientsOptions) {
    this.secrets = opts.secret ? [opts.secret] : [];
    this.interceptors = opts.secret
      ? [meshAuthClientInterceptor(() => this.secrets, opts.nodeId)]
      : [];
    this.transport = opts.transport ?? { kind: 'plaintext' };
    this.channelOptions = {
      ...DEFAULT_CHANNEL_OPTIONS,
      ...tlsChannelOptions(this.transport),
      ...opts.channelOptions,
    };
  }

  /**
   * Dial new channels with new TLS material. Open channels are closed at once (calls on them
   * end), or with `drainMs` after that long: calls already running on them finish (a key
   * rotation loses no call), new calls go over new channels.
   */
  setTransport(transport: ClientTransport, { drainMs = 0 }: { drainMs?: number } = {}): void {
    this.transport = transport;
    const old = [...this.channels.values()];
    this.channels.clear();
    this.clients.clear();
    if (drainMs <= 0) {
      for (const ch of old) ch.close();
      return;
    }
    const timer = setTimeout(() => {
      this.retiring.delete(timer);
      for (const ch of old) ch.close();
    }, drainMs);
    timer.unref();
    this.retiring.add(timer);
  }

  /**
   * Sign calls with these secrets from the next call on (the current one first; a second one
   * adds the alternative proof during a key rotation's grace window, see auth.ts).
   */
  setSecrets(secrets: readonly Uint8Array[]): void {
    if (this.interceptors.length === 0 || secrets.length === 0)
      throw new Error('RpcClients.setSecrets: these clients were made without a mesh secret');
    this.secrets = [...secrets];
  }

  mesh(target: RpcTarget): MeshClient {
    return this.client('mesh', MeshClient, target);
  }

  agentHost(target: RpcTarget): AgentHostClient {
    return this.client('agentHost', AgentHostClient, target);
  }

  imageStore(target: RpcTarget): ImageStoreClient {
    return this.client('imageStore', ImageStoreClient, target);
  }

  imageBlobs(target: RpcTarget): ImageBlobsClient {
    return this.client('imageBlobs', ImageBlobsClient, target);
  }

  transcriber(target: RpcTarget): TranscriberClient {
    return this.client('transcriber', TranscriberClient, target);
  }

  router(target: RpcTarget): RouterClient {
    return this.client('router', RouterClient, target);
  }

  llm(target: RpcTarget): LlmClient {
    return this.client('llm', LlmClient, target);
  }

  keys(target: RpcTarget): KeysClient {
    return this.client('keys', KeysClient, target);
  }

  models(target: RpcTarget): ModelsClient {
    return this.client('models', ModelsClient, target);
  }

  /** Targets with an open channel. */
  targets(): string[] {
    return [...this.channels.keys()];
  }

  /** Close the channel to one peer (it left or died); the next call opens a new one. */
  drop(target: RpcTarget): void {
    const key = targetKey(target);
    this.channels.get(key)?.close();
    this.channels.delete(key);
    for (const k of [...this.clients.keys()]) if (k.endsWith(`@${key}`)) this.clients.delete(k);
  }

  /** Close every channel; running calls end with CANCELLED. */
  close(): void {
    this.closed = true;
    for (const t of this.retiring) clearTimeout(t);
    this.retiring.clear();
    for (const ch of this.channels.values()) ch.close();
    this.channels.clear();
    this.clients.clear();
  }

  private client<C extends Client>(kind: string, ctor: ClientCtor<C>, target: RpcTarget): C {
    if (this.closed) throw new Error('RpcClients is closed');
    const key = targetKey(target);
    const cacheKey = `${kind}@${key}`;
    const cached = this.clients.get(cacheKey);
    if (cached) return cached as C;
    let channel = this.channels.get(key);
    if (!channel) {
      channel = new Channel(key, channelCredentials(this.transport), this.channelOptions);
      this.channels.set(key, channel);
    }
    // Clients share the channel: never call close() on one (it would close the channel for all).
    const client = new ctor(key, credentials.createInsecure(), {
      channelOverride: channel,
      interceptors: this.interceptors,
    });
    this.clients.set(cacheKey, client);
    return client;
  }
}

/**
 * How to dial a peer's gRPC server from its view entry: this node through loopback (its server
 * always listens there), a peer at its first advertised mesh address.
 */
export function peerTarget(
  peer: Pick<PeerView, 'addresses' | 'ports' | 'name'> & { self?: boolean },
): { address: string; port: number } {
  if (peer.self) return { address: '127.0.0.1', port: peer.ports.rpc };
  const address = peer.addresses[0];
  if (!address)
    throw new RpcCallError(
      status.UNAVAILABLE,
      `${peer.name} advertises no address; it may be starting up (see \`helix-node status\`)`,
    );
  return { address, port: peer.ports.rpc };
}

/** "host:port" for a target (IPv6 in brackets). */
export function targetKey(target: RpcTarget): string {
  return typeof target === 'string' ? target : joinHostPort(target.address, target.port);
}
