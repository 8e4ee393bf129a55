/**
 * Invite codes (pure):
 *
 *   hx1-<base32 of "address:port">-<base32 of a 20-byte token>
 *
 * base32 is RFC 4648 in lower case without padding, so a code survives being read aloud or
 * typed (case does not matter, no symbols). "hx1" is the format version. The address part says
 * which member issued the code (only that member can accept it); the token is 160 random bits.
 * Example (100.64.0.2:7700): hx1-geydalrwgqxdalrshi3tombq-aaisem2ekvthpcezvk54zxpo74asgrlh
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export const INVITE_PREFIX = 'hx1';
export const TOKEN_BYTES = 20;

export interface InviteCode {
  address: string;
  port: number;
  token: Buffer;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes lower- or upper-case base32 without padding; null on any other character. */
export function base32Decode(text: string): Buffer | null {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text.toLowerCase()) {
    const index = ALPHABET.indexOf(ch);
    if (index < 0) return null;
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function formatInviteCode(code: InviteCode): string {
  const host = isIP(code.address) === 6 ? `[${code.address}]` : code.address;
  return `${INVITE_PREFIX}-${base32Encode(Buffer.from(`${host}:${code.port}`))}-${base32Encode(code.token)}`;
}

/** Parses a code as printed by `helix-node invite`; UsageError with what is wrong otherwise. */
export function parseInviteCode(text: string): InviteCode {
  const bad = (why: string) =>
    new UsageError(
      `invite code ${JSON.stringify(text)} is not valid: ${why}; copy the whole code printed by \`helix-node invite\` (it starts with "${INVITE_PREFIX}-")`,
    );
  const parts = text.trim().toLowerCase().replace(/\s+/g, '').split('-');
  if (parts.length !== 3 || parts[0] !== INVITE_PREFIX)
    throw bad(`expected ${INVITE_PREFIX}-<member>-<token>`);
  const addrBytes = base32Decode(parts[1] ?? '');
  const token = base32Decode(parts[2] ?? '');
  if (!addrBytes || addrBytes.length === 0) throw bad('the member part is garbled');
  if (!token || token.length !== TOKEN_BYTES) throw bad('the token part has the wrong length');
  const m = /^(?:\[([0-9a-f:.]+)\]|([0-9.]+)):(\d{1,5})$/i.exec(addrBytes.toString('utf8'));
  const address = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!address || isIP(address) === 0 || !(port >= 1 && port <= 65535))
    throw bad('the member part is garbled');
  return { address, port, token };
}
