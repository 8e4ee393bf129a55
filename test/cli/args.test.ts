/**
 * Argument names that are also Object.prototype properties (issue 11): `--arg constructor=…` was
 * "given twice", `--arg __proto__=…` vanished in the CLI and again in the control route (z.record
 * copies and drops it), so such a run went ahead without the argument instead of being refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentControl, RunIntentRequest } from '../../node/agenthost/index.js';
import { parseArgs } from '../../node/cli/commands/agents.js';
import {
  ControlServer,
  controlCall,
  controlSocketPath,
  RemoteError,
} from '../../node/control/index.js';
import { addAgentRoutes } from '../../node/control/routes/index.js';
import { silentLogger } from '../../node/log.js';

describe('parseArgs (helix-node run --arg)', () => {
  it('keeps constructor, toString and __proto__ as own arguments', () => {
    const args = parseArgs(['constructor=a', 'toString=b', '__proto__=c', 'room=kitchen']);
    expect(Object.keys(args)).toEqual(['constructor', 'toString', '__proto__', 'room']);
    expect(Object.hasOwn(args, '__proto__')).toBe(true);
    expect(JSON.parse(JSON.stringify(args))).toEqual(
      JSON.parse('{"constructor":"a","toString":"b","__proto__":"c","room":"kitchen"}'),
    );
  });

  it('still refuses a name given twice', () => {
    expect(() => parseArgs(['constructor=a', 'constructor=b'])).toThrow(/given twice/);
  });
});

describe('POST /v1/run hands every argument name to the check', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-args-'));
  const seen: RunIntentRequest[] = [];
  const control = new ControlServer(controlSocketPath(stateDir), silentLogger);
  beforeAll(async () => {
    const d = {
      catalog: {},
      checkRun: (req: RunIntentRequest) => {
        seen.push(req);
        const unknown = Object.keys(req.args ?? {}).filter((k) => k !== 'room');
        return unknown.length
          ? { ok: false, code: 'invalid_args', message: `unknown argument "${unknown[0]}"` }
          : { ok: true };
      },
      runIntent: async function* () {},
    } as unknown as AgentControl;
    addAgentRoutes(control, d);
    await control.start();
  });
  afterAll(async () => {
    await control.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('__proto__ reaches the check (and is refused there), not dropped on the way', async () => {
    const err = await controlCall(stateDir, '/v1/run', {
      method: 'POST',
      body: { agent: 'lights', intent: 'on', args: parseArgs(['__proto__=x']) },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as Error).message).toContain('unknown argument "__proto__"');
    expect(Object.hasOwn(seen.at(-1)!.args!, '__proto__')).toBe(true);
  });

  it('still refuses args that are not an object', async () => {
    const err = await controlCall(stateDir, '/v1/run', {
      method: 'POST',
      body: { agent: 'lights', intent: 'on', args: ['room'] },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/args/);
  });
});
