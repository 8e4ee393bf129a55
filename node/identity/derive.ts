/**
 * Keys derived from the mesh secret, one per purpose, so no protocol ever sends the secret
 * itself: HMAC-SHA256(secret, "helix/v1/<purpose>").
 */
import { createHmac } from 'node:crypto';

export type SecretPurpose =
  'nats-route' | 'nats-client' | 'grpc' | 'advert' | 'settings' | 'voice' | 'rotation' | 'rekey';

export function deriveKey(meshSecret: Uint8Array, purpose: SecretPurpose): Buffer {
  return createHmac('sha256', meshSecret).update(`helix/v1/${purpose}`).digest();
}

/** Credentials nats-server checks: routes between mesh members, and local clients on loopback. */
export function natsCredentials(
  meshSecret: Uint8Array,
  purpose: 'nats-route' | 'nats-client',
): { user: string; pass: string } {
  return {
    user: purpose === 'nats-route' ? 'helix-route' : 'helix',
    pass: deriveKey(meshSecret, purpose).toString('hex'),
  };
}
