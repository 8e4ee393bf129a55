/**
 * V8's optimising compiler only on a node whose work needs it (issue 12: an idle node without a
 * mic or Docker in 60 MB).
 *
 * TurboFan is the largest thing an idle node holds for nothing: its compiler's code (pages of the
 * node binary it touches when it first runs) and the optimised code it makes. A node without a
 * mic, speech-to-text or Docker does control-plane work only: heartbeats, routing calls, the
 * registry mirror's proxying, settings, the dashboard; JSON, TLS, hashing and streams are native
 * code there, and V8's interpreter runs the rest. Measured (bench/node/start.ts, one node 14 s
 * idle, 2026-12-04): 66.4 MB on its first start against 70.1 MB with the compiler, 61.9 MB after
 * a restart against 66.6 MB before; start-up and idle CPU no worse. The unit `service install`
 * writes for such a node caps V8 on node's command line too, 1.2-1.5 MB less again
 * (node/cli/service.ts daemonNodeFlags).
 *
 * What does need it: the Silero VAD runs in JavaScript on every node with voice on, and is 17
 * times slower without TurboFan (docs/architecture.md); speech-to-text's checks on the audio run
 * beside it; an agent host unpacks and checks images in JavaScript.
 *
 * `v8.setFlagsFromString('--max-opt=0')` caps the tier of the running isolate: what is optimised
 * already stays so, nothing more is (test/v8-tier.test.ts checks it on a hot function in a child
 * process). It must come early: the node's own start-up is hot enough for TurboFan, and capping
 * after the first capability probe (Docker's answer can take seconds) left the node at 67 MB, as
 * much as with the JIT. So the choice is made before the parts load, from what can be told at
 * once: voice in the config, a speech-to-text model on disk (the probe's own checks), a Docker
 * socket that exists. V8 cannot raise the cap again while the process runs: a part found later
 * (Docker installed after the node started) is named in a warning that says to restart the node.
 * `node.jit` in helix.toml overrides: "full" never caps, "interpreter" always does.
 */
import { stat } from 'node:fs/promises';
import v8 from 'node:v8';
import type { Config, JitSetting } from './config/index.js';
import type { Logger } from './log.js';
import type { Capabilities } from './types.js';

/** What decides whether a node needs the optimising compiler. */
export interface TierFacts {
  /** voice.enabled: the node listens to its mic */
  voice: boolean;
  /** the speech-to-text engine this node can run, null when none */
  stt: string | null;
  /** a Docker engine's socket is there (running or not: it may start later) */
  docker: boolean;
}

/** Why this node needs V8's optimising compiler; null when its interpreter will do. */
export function jitNeed(setting: JitSetting, facts: TierFacts): string | null {
  if (setting === 'full') return 'node.jit is "full"';
  if (setting === 'interpreter') return null;
  if (facts.voice) return 'voice is on (the voice detector runs in JavaScript)';
  if (facts.stt) return `it transcribes speech (${facts.stt})`;
  if (facts.docker) return 'it hosts agents (Docker)';
  return null;
}

/** The facts from the config and the disk alone: no process to run, no engine to ask. */
export async function quickTierFacts(config: Config): Promise<TierFacts> {
  const { probeStt } = await import('./capabilities/probes.js');
  const [stt, docker] = await Promise.all([
    probeStt(config.stt, { timeoutMs: 1000 }),
    stat(config.capabilities.docker_socket).then(
      (s) => s.isSocket(),
      () => false,
    ),
  ]);
  return { voice: config.voice.enabled, stt: stt?.engine ?? null, docker };
}

/** The facts a capability probe found. */
export function probedTierFacts(voice: boolean, capabilities: Capabilities): TierFacts {
  return { voice, stt: capabilities.stt?.engine ?? null, docker: capabilities.docker !== null };
}

/** V8's optimising compilers, whose filters the hold sets to match no function */
const FILTERS = ['--turbo-filter', '--maglev-filter', '--sparkplug-filter'];

/** true when node's command line or NODE_OPTIONS sets `flag`: then it is left alone */
function flagGiven(flag: string): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some(
    (a) => a === flag || a.startsWith(`${flag}=`),
  );
}

/**
 * Holds tier-up off until settleV8Tier decides (node/cli/entry.ts, first thing for `join`):
 * capping after start-up came too late, since the module loader's path functions reach TurboFan
 * within the first second. The compilers' filters match no function meanwhile (checked when a
 * function would be optimised, so functions marked hot before the hold are held too; a raised
 * interrupt budget was not enough for those).
 */
export function holdTierUp(): void {
  for (const f of FILTERS) if (!flagGiven(f)) v8.setFlagsFromString(`${f}=-*`);
}

/** Lets tier-up happen as V8 does by default again. */
export function releaseTierUp(): void {
  for (const f of FILTERS) if (!flagGiven(f)) v8.setFlagsFromString(`${f}=*`);
}

/** Caps V8 at its interpreter for the rest of this process (see the module comment). */
export function capAtInterpreter(): void {
  v8.setFlagsFromString('--max-opt=0');
}

/** Whether node's command line caps V8 at its interpreter (the unit for a control-plane node). */
export function cappedByCommandLine(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.includes('--max-opt=0');
}

/**
 * Makes the choice (caps V8 or not) and logs it; returns a check for later capability probes,
 * which warns once when a capped node finds a part that needs the compiler. A process capped by
 * its command line (`service install` wrote it so for a node that had none of those parts)
 * cannot be uncapped: a node that needs the compiler says at once to write the unit again.
 */
export function settleV8Tier(
  setting: JitSetting,
  facts: TierFacts,
  logger: Logger,
  {
    cap = capAtInterpreter,
    release = releaseTierUp,
    startedCapped = cappedByCommandLine(),
  }: { cap?: () => void; release?: () => void; startedCapped?: boolean } = {},
): { capped: boolean; recheck: (facts: TierFacts) => void } {
  let warned = false;
  const warn = (why: string) => {
    if (warned) return;
    warned = true;
    logger.warn(
      { why },
      startedCapped
        ? `this node needs V8's optimising compiler (${why}), which node's command line leaves out (--max-opt=0, from \`helix-node service install\` on a node without voice, speech-to-text or Docker): run \`helix-node service install\` again, then restart the node`
        : `this node now needs V8's optimising compiler (${why}), which it left out at start: restart the node (systemctl restart helix-node, or stop and run helix-node join again) for full speed`,
    );
  };
  const need = jitNeed(setting, facts);
  if (need !== null && !startedCapped) {
    release();
    logger.debug({ why: need }, 'V8 keeps its optimising compiler');
    return { capped: false, recheck: () => {} };
  }
  if (need !== null) warn(need);
  else {
    cap();
    logger.info(
      { jit: setting, commandLine: startedCapped },
      setting === 'interpreter'
        ? 'V8 runs its interpreter only (node.jit = "interpreter")'
        : 'V8 runs its interpreter only: this node has no voice, speech-to-text or Docker (less memory; node.jit = "full" keeps the optimising compiler)',
    );
  }
  return {
    capped: true,
    recheck: (later) => {
      const needNow = jitNeed(setting, later);
      if (needNow !== null) warn(needNow);
    },
  };
}
