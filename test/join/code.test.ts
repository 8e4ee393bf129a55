import { describe, expect, it } from 'vitest';
import { UsageError } from '../../node/errors.js';
import { formatInviteCode, parseInviteCode } from '../../node/join/index.js';

const token = Buffer.from('00112233445566778899aabbccddeeff01234567', 'hex');

describe('invite codes', () => {
  it.each([
    ['an IPv4 member', '100.64.0.2', 7700],
    ['a LAN member on a high port', '192.168.1.20', 65535],
    ['an IPv6 member', 'fd7a:115c:a1e0::1', 7700],
  ])('round-trip %s', (_name, address, port) => {
    const code = formatInviteCode({ address, port, token });
    expect(code).toMatch(/^hx1-[a-z2-7]+-[a-z2-7]{32}$/);
    expect(parseInviteCode(code)).toEqual({ address, port, token });
  });

  it('accepts a code typed in upper case with stray spaces', () => {
    const code = formatInviteCode({ address: '100.64.0.2', port: 7700, token });
    expect(parseInviteCode(`  ${code.toUpperCase().replace('-', ' -')} \n`)).toEqual({
      address: '100.64.0.2',
      port: 7700,
      token,
    });
  });

  const good = formatInviteCode({ address: '100.64.0.2', port: 7700, token });
  const [, member, tok] = good.split('-') as [string, string, string];
  it.each([
    ['an empty string', '', /starts with "hx1-"|expected hx1-/],
    ['another format version', `hx2-${member}-${tok}`, /expected hx1-/],
    ['a missing token', `hx1-${member}`, /expected hx1-/],
    ['a truncated token', `hx1-${member}-${tok.slice(0, 30)}`, /wrong length/],
    [
      'a token with a character outside base32',
      `hx1-${member}-${tok.slice(0, 31)}1`,
      /wrong length/,
    ],
    ['a member that is not address:port', `hx1-nbswy3dp-${tok}`, /member part/],
  ])('rejects %s with a UsageError saying what is wrong', (_name, text, why) => {
    let err: unknown;
    try {
      parseInviteCode(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(why);
  });
});
