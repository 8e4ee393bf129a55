import { describe, expect, it } from 'vitest';
import { IntentSchema, validateTaskArgs } from '../../node/agentspec/index.js';

const intent = IntentSchema.parse({
  name: 'dim',
  args: {
    room: { type: 'string', enum_from: 'lights.rooms', required: true },
    level: { type: 'integer', min: 0, max: 100, required: true },
    ratio: { type: 'number', max: 1 },
    fade: { type: 'boolean' },
    mode: { type: 'string', enum: ['soft', 'hard'] },
    note: { type: 'string', max_length: 5 },
  },
});
const config = { lights: { rooms: { kitchen: ['k'], 'living room': ['l'] } } };

describe('task arguments against the manifest (the host)', () => {
  it.each([
    [
      { room: 'kitchen', level: 40 },
      { room: 'kitchen', level: 40 },
    ],
    [
      { room: 'Living_Room', level: '40' },
      { room: 'living room', level: 40 },
    ],
    [
      { room: 'kitchen', level: 0, ratio: '0.5', fade: 'true', mode: 'soft' },
      { room: 'kitchen', level: 0, ratio: 0.5, fade: true, mode: 'soft' },
    ],
  ])('accepts %j as %j', (args, expected) => {
    expect(validateTaskArgs(intent, args, config)).toEqual({ ok: true, args: expected });
  });

  it.each([
    [{ level: 40 }, /"room" is required/],
    [{ room: 'garage', level: 40 }, /"room" must be one of kitchen, living room, not "garage"/],
    [{ room: 'kitchen', level: 101 }, /"level" must be at most 100, not 101/],
    [{ room: 'kitchen', level: 4.5 }, /"level" must be a whole number/],
    [{ room: 'kitchen', level: 'loud' }, /"level" must be a number/],
    [{ room: 'kitchen', level: 1, fade: 'yes' }, /"fade" must be true or false/],
    [{ room: 'kitchen', level: 1, mode: 'medium' }, /"mode" must be one of soft, hard/],
    [{ room: 'kitchen', level: 1, note: 'toolong' }, /"note" is longer than 5 characters/],
    [
      { room: 'kitchen', level: 1, colour: 'red' },
      /unknown argument "colour" \(dim takes room, level/,
    ],
    [{ room: 7, level: 1 }, /"room" must be text/],
  ])('refuses %j', (args, problem) => {
    const checked = validateTaskArgs(intent, args, config);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.problems.join('; ')).toMatch(problem);
  });

  it('leaves an unconfigured room table to the agent to explain', () => {
    expect(validateTaskArgs(intent, { room: 'attic', level: 1 }, {})).toEqual({
      ok: true,
      args: { room: 'attic', level: 1 },
    });
  });
});

// issue 11: names every object inherits were looked up on the prototype: "constructor" or
// "toString" crashed the check or passed and was dropped, and a required "constructor" was never
// missing.
describe('argument names that are also Object.prototype properties', () => {
  it.each([
    [{ room: 'kitchen', level: 40, constructor: 'x' }, 'constructor'],
    [{ room: 'kitchen', level: 40, toString: 'x' }, 'toString'],
    [{ room: 'kitchen', level: 40, hasOwnProperty: 1 }, 'hasOwnProperty'],
    [
      JSON.parse('{"room":"kitchen","level":40,"__proto__":{"mode":"hard"}}') as object,
      '__proto__',
    ],
  ])('refuses %j as an unknown argument', (args, name) => {
    const r = validateTaskArgs(intent, args, config);
    expect(r).toEqual({
      ok: false,
      problems: [`unknown argument "${name}" (dim takes room, level, ratio, fade, mode, note)`],
    });
  });

  const odd = IntentSchema.parse({
    name: 'build',
    args: { constructor: { type: 'string', required: true }, valueof: { type: 'integer' } },
  });

  it('takes a declared argument named constructor as an own property', () => {
    const r = validateTaskArgs(odd, { constructor: 'bob', valueof: '3' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.hasOwn(r.args, 'constructor')).toBe(true);
    expect(r.args).toEqual({ constructor: 'bob', valueof: 3 });
    expect(JSON.parse(JSON.stringify(r.args))).toEqual({ constructor: 'bob', valueof: 3 });
  });

  it('says a required constructor is missing when it is', () => {
    expect(validateTaskArgs(odd, {})).toEqual({
      ok: false,
      problems: ['"constructor" is required (string)'],
    });
  });

  it('reads no inherited property as an enum_from table', () => {
    const table = IntentSchema.parse({
      name: 'pick',
      args: { what: { type: 'string', enum_from: 'lights.constructor', required: true } },
    });
    expect(validateTaskArgs(table, { what: 'x' }, { lights: {} }).ok).toBe(true); // unconfigured
    const r = validateTaskArgs(table, { what: 'Function' }, { lights: { constructor: ['bob'] } });
    expect(r).toMatchObject({ ok: false });
  });
});
