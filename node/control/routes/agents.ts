/**
 * Control routes of the agent services (the local socket `helix-node agents …` and
 * `helix-node run` talk to):
 *
 *   GET  /v1/agents                   AgentList
 *   GET  /v1/agents/inspect?name=N    AgentDetail
 *   POST /v1/agents/build {name?, platform?}   NDJSON BuildEvent…
 *   POST /v1/agents/rm {name}         RemoveResult
 *   POST /v1/run {agent, intent, args?, onNode?, traceId?}   NDJSON RemoteRunEvent…
 *
 * Streams use control's envelope (`{"type":"event","event":…}` lines). A run stops when the
 * client goes away (Ctrl-C on `helix-node run`).
 */
import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { parsePlatform, PlatformError } from '../../platform.js';
import { parseBody as parse } from '../envelope.js';
import type { ControlServer } from '../server.js';
import { UnknownAgentError, type AgentControl } from '../../agenthost/index.js';
import { lazySchema } from '../../types.js';

const NameBody = lazySchema(() => z.object({ name: z.string().min(1).max(64) }));
const BuildBody = lazySchema(() =>
  z.object({
    name: z.string().min(1).max(64).optional(),
    platform: z.string().min(1).max(64).optional(),
  }),
);
/**
 * The run's arguments exactly as sent: validateArgs (node/agentspec) judges every name. Not
 * z.record, which copies the object and silently drops a "__proto__" key.
 */
const RunArgs = lazySchema(() =>
  z.custom<Record<string, unknown>>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    { message: 'args must be an object of name: value' },
  ),
);

const RunBody = lazySchema(() =>
  z.object({
    agent: z.string().min(1).max(64),
    intent: z.string().min(1).max(64),
    args: RunArgs.default({}),
    onNode: z.string().min(1).max(128).optional(),
    traceId: z.string().min(1).max(128).optional(),
  }),
);

/** The platform in its normal form, or a UsageError (exit 64) naming the buildable ones. */
function usablePlatform(text: string): string {
  try {
    return parsePlatform(text);
  } catch (err) {
    if (err instanceof PlatformError) throw new UsageError(err.message);
    throw err;
  }
}

export function addAgentRoutes(control: ControlServer, d: AgentControl): void {
  control.route('GET', '/v1/agents', () => d.catalog.list());

  control.route('GET', '/v1/agents/inspect', async (query) => {
    const { name } = parse(NameBody, query, 'GET /v1/agents/inspect?name=AGENT');
    return d.catalog.inspect(name);
  });

  control.route('POST', '/v1/agents/build', async (body, _req, res) => {
    const { name, platform } = parse(
      BuildBody,
      body,
      'POST /v1/agents/build {"name"?: AGENT, "platform"?: "linux/arm64"}',
    );
    if (name) d.catalog.agent(name);
    if (platform !== undefined) usablePlatform(platform);
    await d.catalog.build(name, (ev) => res.event(ev), res.signal, platform);
    return undefined;
  });

  control.route('POST', '/v1/agents/rm', async (body) => {
    const { name } = parse(NameBody, body, 'POST /v1/agents/rm {"name": AGENT}');
    return d.catalog.remove(name);
  });

  control.route('POST', '/v1/run', async (body, _req, res) => {
    const request = parse(RunBody, body, 'POST /v1/run {"agent", "intent", "args"?, "onNode"?}');
    // Refused before anything streams, so the CLI exits 64 with the message.
    const checked = d.checkRun(request);
    if (!checked.ok) {
      if (checked.code === 'unknown_agent') throw new UnknownAgentError(checked.message);
      throw new UsageError(checked.message);
    }
    // Waiting for the client to read holds the run's events (and its progress) back at the source.
    for await (const ev of d.runIntent(request, { signal: res.signal })) {
      res.event(ev);
      await res.drained();
    }
    return undefined;
  });
}
