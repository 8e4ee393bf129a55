/**
 * Who may use a dashboard: login codes (short-lived, single use, from `helix-node dashboard
 * code` on the node's control socket, so only someone who can run commands on a member gets
 * one), exchanged for a session (an HttpOnly, SameSite=Strict cookie), and the checks every
 * request passes (the Host it was sent to, the Origin of a state-changing POST). No I/O.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** No 0/O, 1/I/L: read off one screen and typed on another. */
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
/** 8 characters of 31: about 40 bits, for a code that lives minutes and allows few tries */
const CODE_LENGTH = 8;

export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: () => Date.now() };

/** "ABCD-EFGH" as people type it: any case, spaces or dashes anywhere. */
export function normaliseCode(text: string): string {
  return text.toUpperCase().replace(/[\s-]/g, '');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export class LoginCodes {
  /** sha256 of each live code → when it expires */
  private readonly codes = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  issue(): { code: string; expiresAt: number } {
    this.sweep();
    const bytes = randomBytes(CODE_LENGTH);
    let raw = '';
    for (const b of bytes) raw += CODE_ALPHABET[b % CODE_ALPHABET.length];
    const expiresAt = this.clock.now() + this.ttlMs;
    this.codes.set(digest(raw).toString('hex'), expiresAt);
    return { code: `${raw.slice(0, 4)}-${raw.slice(4)}`, expiresAt };
  }

  /** true once for a live code; the code is spent either way it was valid. */
  redeem(text: string): boolean {
    this.sweep();
    const wanted = digest(normaliseCode(text));
    for (const [key, expiresAt] of this.codes) {
      if (timingSafeEqual(Buffer.from(key, 'hex'), wanted)) {
        this.codes.delete(key);
        return expiresAt > this.clock.now();
      }
    }
    return false;
  }

  get size(): number {
    this.sweep();
    return this.codes.size;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [key, expiresAt] of this.codes) if (expiresAt <= now) this.codes.delete(key);
  }
}

/** Sessions by opaque id (32 random bytes); each lives `ttlMs` from its creation. */
export class Sessions {
  private readonly byId = new Map<string, number>();

  constructor(
    readonly ttlMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  create(): string {
    const id = randomBytes(32).toString('base64url');
    this.byId.set(id, this.clock.now() + this.ttlMs);
    return id;
  }

  valid(id: string | undefined): boolean {
    if (!id) return false;
    const expiresAt = this.byId.get(id);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.clock.now()) {
      this.byId.delete(id);
      return false;
    }
    return true;
  }

  end(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }
}

/**
 * Failed code attempts per client address: after `max` in `windowMs` it must wait, so guessing
 * a 40-bit code in its few minutes is hopeless.
 */
export class Attempts {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 60_000,
    private readonly clock: Clock = systemClock,
  ) {}

  blocked(client: string): boolean {
    return this.recent(client).length >= this.max;
  }

  fail(client: string): void {
    this.failures.set(client, [...this.recent(client), this.clock.now()]);
  }

  private recent(client: string): number[] {
    const since = this.clock.now() - this.windowMs;
    const list = (this.failures.get(client) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(client);
    else this.failures.set(client, list);
    return list;
  }
}

/** The value of cookie `name` in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(name: string, id: string, maxAgeS: number): string {
  return `${name}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`;
}

/**
 * Whether the Host header names this listener (a DNS-rebinding page sends its own name): one of
 * `hosts` with the listener's port.
 */
export function hostAllowed(
  hostHeader: string | undefined,
  hosts: string[],
  port: number,
): boolean {
  if (!hostHeader) return false;
  return hosts.some((h) => hostHeader.toLowerCase() === `${h}:${port}`);
}

/**
 * A state-changing request comes from the dashboard's own page: its Origin is this very
 * origin (browsers send it on every POST); without one, Sec-Fetch-Site must say same-origin.
 */
export function sameOrigin(headers: {
  origin?: string | undefined;
  host?: string | undefined;
  'sec-fetch-site'?: string | string[] | undefined;
}): boolean {
  if (!headers.host) return false;
  if (headers.origin !== undefined) return headers.origin === `http://${headers.host}`;
  return headers['sec-fetch-site'] === 'same-origin';
}
