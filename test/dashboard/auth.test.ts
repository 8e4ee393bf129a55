/** The dashboard's sign-in pieces: login codes, sessions, tries, and the request checks. */
import { describe, expect, it } from 'vitest';
import {
  Attempts,
  LoginCodes,
  Sessions,
  hostAllowed,
  normaliseCode,
  readCookie,
  sameOrigin,
  sessionCookie,
} from '../../node/dashboard/auth.js';

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('login codes', () => {
  it('are readable, work once, in any case and with or without the dash', () => {
    const codes = new LoginCodes(60_000, clock());
    const { code } = codes.issue();
    expect(code).toMatch(/^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$/);
    expect(codes.redeem(` ${code.toLowerCase().replace('-', '')} `)).toBe(true);
    expect(codes.redeem(code)).toBe(false);
    expect(codes.size).toBe(0);
  });

  it('expire, and a wrong code spends nothing', () => {
    const c = clock();
    const codes = new LoginCodes(60_000, c);
    const a = codes.issue().code;
    const b = codes.issue().code;
    expect(codes.redeem('AAAA-AAAA')).toBe(false);
    expect(codes.size).toBe(2);
    c.t += 60_000;
    expect(codes.redeem(a)).toBe(false);
    expect(codes.redeem(b)).toBe(false);
    expect(codes.size).toBe(0);
  });

  it('normalises what people type', () => {
    expect(normaliseCode('ab cd-ef gh')).toBe('ABCDEFGH');
  });
});

describe('sessions and tries', () => {
  it('a session lives its time and ends when asked', () => {
    const c = clock();
    const sessions = new Sessions(1000, c);
    const id = sessions.create();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sessions.valid(id)).toBe(true);
    expect(sessions.valid(undefined)).toBe(false);
    expect(sessions.valid('forged')).toBe(false);
    c.t += 1000;
    expect(sessions.valid(id)).toBe(false);
    const other = sessions.create();
    sessions.end(other);
    expect(sessions.valid(other)).toBe(false);
  });

  it('five wrong codes in a minute block that address for the rest of the minute', () => {
    const c = clock();
    const tries = new Attempts(5, 60_000, c);
    for (let i = 0; i < 5; i++) {
      expect(tries.blocked('10.0.0.9')).toBe(false);
      tries.fail('10.0.0.9');
    }
    expect(tries.blocked('10.0.0.9')).toBe(true);
    expect(tries.blocked('10.0.0.8')).toBe(false);
    c.t += 60_001;
    expect(tries.blocked('10.0.0.9')).toBe(false);
  });
});

describe('request checks', () => {
  it('reads one cookie among several and writes a strict one', () => {
    expect(readCookie('a=1; helix_session_7780=abc; b=2', 'helix_session_7780')).toBe('abc');
    expect(readCookie('helix_session_77800=x', 'helix_session_7780')).toBeUndefined();
    expect(readCookie(undefined, 'x')).toBeUndefined();
    const set = sessionCookie('helix_session_7780', 'abc', 3600);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/');
  });

  it('answers only to its own host and port (DNS rebinding)', () => {
    expect(hostAllowed('127.0.0.1:7780', ['127.0.0.1', 'localhost'], 7780)).toBe(true);
    expect(hostAllowed('LOCALHOST:7780', ['127.0.0.1', 'localhost'], 7780)).toBe(true);
    expect(hostAllowed('evil.example:7780', ['127.0.0.1', 'localhost'], 7780)).toBe(false);
    expect(hostAllowed('127.0.0.1:7781', ['127.0.0.1'], 7780)).toBe(false);
    expect(hostAllowed(undefined, ['127.0.0.1'], 7780)).toBe(false);
  });

  it('a change must come from the page itself', () => {
    const host = '100.64.0.2:7780';
    expect(sameOrigin({ host, origin: 'http://100.64.0.2:7780' })).toBe(true);
    expect(sameOrigin({ host, origin: 'http://evil.example' })).toBe(false);
    expect(sameOrigin({ host, origin: 'null' })).toBe(false);
    expect(sameOrigin({ host, 'sec-fetch-site': 'same-origin' })).toBe(true);
    expect(sameOrigin({ host, 'sec-fetch-site': 'cross-site' })).toBe(false);
    expect(sameOrigin({ host })).toBe(false);
  });
});
