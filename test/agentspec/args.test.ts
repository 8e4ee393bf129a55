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
