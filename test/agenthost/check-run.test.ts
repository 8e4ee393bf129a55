import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAgents } from '../../node/agents/index.js';
import type { LoadedAgent } from '../../node/agentspec/index.js';
import { checkRun, type RunCheck } from '../../node/agenthost/index.js';

describe('checkRun: a run request against the local manifests', () => {
  let agents: Map<string, LoadedAgent>;
  beforeAll(async () => {
    const loaded = await loadAgents([path.resolve('agents')]);
    agents = new Map(loaded.map((a) => [a.manifest.name, a]));
  });

  it.each<[string, Record<string, unknown>, Partial<RunCheck>, RegExp?]>([
    [
      'an unknown agent lists the agents there are',
      { agent: 'kettle', intent: 'boil' },
      { ok: false, code: 'unknown_agent' },
      /no agent "kettle" on this node; agents: echo, lights, mesh, research, timer/,
    ],
    [
      'an unknown intent lists the intents',
      { agent: 'timer', intent: 'snooze' },
      { ok: false, code: 'unknown_intent' },
      /timer has no intent "snooze"; it serves: set, cancel, list/,
    ],
    [
      'a missing required argument',
      { agent: 'echo', intent: 'echo', args: {} },
      { ok: false, code: 'invalid_args' },
      /"text" is required/,
    ],
    [
      'a number that is not one',
      { agent: 'timer', intent: 'set', args: { minutes: 'five' } },
      { ok: false, code: 'invalid_args' },
      /"minutes" must be a number/,
    ],
    [
      'command-line strings become the declared types',
      { agent: 'timer', intent: 'set', args: { minutes: '5' } },
      { ok: true, args: { minutes: 5 } },
    ],
    // Rooms are the host's config to check: any room passes here.
    [
      'rooms from helix.toml are left to the host',
      { agent: 'lights', intent: 'on', args: { room: 'attic' } },
      { ok: true, args: { room: 'attic' } },
    ],
  ])('%s', (_name, req, expected, message) => {
    const r = checkRun(agents, req as never);
    expect(r).toMatchObject(expected);
    if (message) expect((r as { message: string }).message).toMatch(message);
  });
});
