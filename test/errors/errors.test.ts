import { describe, expect, it } from 'vitest';
import { describeError, fileProblemHint } from '../../node/errors.js';

const errno = (code: string, message = `${code}: something`) =>
  Object.assign(new Error(message), { code });

describe('fileProblemHint', () => {
  it.each([
    ['ENOSPC', /the disk is full; free some space/],
    ['EDQUOT', /the disk is full/],
    ['EROFS', /read-only/],
    ['EACCES', /permission denied/],
    ['EPERM', /permission denied/],
  ])('%s: %s', (code, hint) => {
    expect(fileProblemHint(errno(code))).toMatch(hint);
  });

  it('looks through the cause chain', () => {
    const wrapped = new Error('fetch failed', {
      cause: new Error('write failed', { cause: errno('ENOSPC') }),
    });
    expect(fileProblemHint(wrapped)).toMatch(/disk is full/);
  });

  it.each([
    ['another errno', errno('ECONNRESET')],
    ['an error without a code', new Error('plain')],
    ['not an error', 'ENOSPC'],
    ['nothing', undefined],
  ])('says nothing for %s', (_what, err) => {
    expect(fileProblemHint(err)).toBeNull();
  });
});

describe('describeError', () => {
  it('adds a cause the message does not already quote, once', () => {
    expect(describeError(new Error('outer', { cause: new Error('inner') }))).toBe(
      'outer (cause: inner)',
    );
    expect(describeError(new Error('outer: inner', { cause: new Error('inner') }))).toBe(
      'outer: inner',
    );
    expect(describeError('text')).toBe('text');
  });
});
