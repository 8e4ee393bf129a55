import { describe, expect, it } from 'vitest';
import {
  losesInterestOnReload,
  parseNatsVersion,
  reloadBugWarning,
} from '../../node/capabilities/index.js';

describe('nats-server versions', () => {
  it.each<[string, boolean | null]>([
    ['nats-server: v2.9.10', true],
    ['2.9.16', true],
    ['2.9.17', false],
    ['v2.9.25', false],
    ['2.10.27', false],
    ['nats-server: v2.12.1', false],
    ['1.4.1', true],
    ['3.0.0', false],
    ['nats-server version unknown', null],
  ])('%s loses route interest on reload: %s', (text, want) => {
    expect(losesInterestOnReload(text)).toBe(want);
  });

  it('parses what --version and /varz print', () => {
    expect(parseNatsVersion('nats-server: v2.10.27\n')).toEqual([2, 10, 27]);
    expect(parseNatsVersion('2.9.10')).toEqual([2, 9, 10]);
    expect(parseNatsVersion('')).toBeNull();
  });

  it('says what is wrong and how to fix it', () => {
    const text = reloadBugWarning('v2.9.10');
    expect(text).toContain('2.9.17');
    expect(text).toContain('PR #4130');
    expect(text).toContain('scripts/install-nats-server.sh');
  });
});
