/** How to dial a peer's gRPC server from its view entry. */
import type { RpcTarget } from '../rpc/index.js';
import type { PeerView } from '../types.js';

/** This node through loopback (its server always listens there); a peer at its first advertised address. */
export function peerTarget(peer: PeerView): RpcTarget {
  if (peer.self) return { address: '127.0.0.1', port: peer.ports.rpc };
  const address = peer.addresses[0];
  if (!address) throw new Error(`peer ${peer.name} advertises no address`);
  return { address, port: peer.ports.rpc };
}
