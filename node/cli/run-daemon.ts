/**
 * `helix-node join`: run the daemon until SIGINT/SIGTERM, then leave cleanly. Logs go to stderr as
 * readable lines on a terminal and as JSON lines elsewhere (--log-format, log.format); a banner
 * says what the node is, where to look at it and what it lacks once it is up.
 */
import { once } from 'node:events';
import { platformOfNodeArch } from '../platform.js';
import { Daemon, type DaemonOptions } from '../daemon.js';
import { describeError } from '../errors.js';
import { createLogger, type LogFormat, type Logger } from '../log.js';
import { VERSION } from '../version.js';
import {
  bannerLines,
  bannerRecord,
  lacksFrom,
  lacksFromCapabilities,
  startingLine,
  type BannerFacts,
  type Lack,
} from './banner.js';
import { resolveLogFormat } from './log-format.js';
import { colourWanted, safeText, type Output } from './output.js';

export interface RunDaemonOptions extends DaemonOptions {
  output: Output;
  /** --log-format; else log.format (helix.toml, HELIX_LOG_FORMAT) */
  logFormat?: LogFormat;
  /** false with --no-color */
  color?: boolean;
}

export async function runDaemon(opts: RunDaemonOptions): Promise<void> {
  const { config, stateDir, configPath } = opts.loaded;
  const stderrIsTTY = process.stderr.isTTY === true;
  const format = resolveLogFormat({
    flag: opts.logFormat,
    configured: config.log.format,
    json: opts.output.json,
    isTTY: stderrIsTTY,
  });
  const color = colourWanted({ flag: opts.color, isTTY: stderrIsTTY });
  const logger = opts.logger ?? (await daemonLogger(config.log.level, format, color));
  const pretty = format === 'pretty';
  // Lines for a person go to stderr with the logs; in JSON mode every line there is JSON.
  const say = (line: string) => process.stderr.write(`${safeText(line, { keepColour: color })}\n`);

  if (pretty)
    say(startingLine({ version: VERSION, stateDir, configPath, invite: !!opts.invite }, { color }));
  else logger.info({ version: VERSION, stateDir, config: configPath }, 'starting');
  // For a person, what the node lacks comes from doctor's checks (they tell causes apart), run
  // while the node starts; the JSON banner takes the node's own probes and costs nothing more.
  const doctorLacks = pretty ? lackingParts(config, stateDir) : null;

  const daemon = new Daemon({ ...opts, logger, ownsProcess: true });
  const stopping = new AbortController();
  // The listeners stay until the node has left: a signal with none installed kills the process
  // mid-way (exit 130), and a terminal or a service manager may send one more while it leaves.
  // A second one is noted; a third leaves at once, for a stop that hangs.
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      daemon.logger.info({ signal }, 'leaving the mesh');
      stopping.abort();
    } else if (signals === 2) {
      daemon.logger.warn({ signal }, 'already leaving the mesh; send it once more to exit at once');
    } else {
      daemon.logger.warn({ signal }, 'exiting before the node has left the mesh');
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    try {
      await daemon.start(stopping.signal);
    } catch (err) {
      // Ctrl-C while still looking for a mesh: a clean exit, not an error.
      if (stopping.signal.aborted) return;
      throw err;
    }
    // The banner only tells: a fact it cannot gather is logged, and the node runs on.
    await bannerFacts(daemon, opts, doctorLacks).then(
      (facts) => {
        if (pretty) for (const line of bannerLines(facts, { color })) say(line);
        else
          logger.info(
            bannerRecord(facts),
            `helix-node ${VERSION} is up: ${facts.name} in mesh ${facts.mesh}`,
          );
      },
      (err: unknown) =>
        logger.warn({ err: describeError(err) }, 'could not put together the start banner'),
    );
    // Timers and other agents tell the node that asked; say it on this node's terminal.
    daemon.agentServices?.onNotify((n) =>
      pretty
        ? say(`${safeText(n.from)}/${safeText(n.agent)}: ${safeText(n.text)}`)
        : logger.info({ from: n.from, agent: n.agent, text: n.text }, 'notification'),
    );
    // Every spoken command's reply is printed here (and spoken where a TTS engine is present).
    daemon.voiceServices?.startListening((r) =>
      pretty
        ? say(safeText(r.reply))
        : logger.info({ traceId: r.traceId, reply: r.reply }, 'reply'),
    );
    if (!stopping.signal.aborted) await once(stopping.signal, 'abort');
  } finally {
    await daemon.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** JSON lines, or readable ones through pino-pretty (loaded only then). */
async function daemonLogger(
  level: string,
  format: 'json' | 'pretty',
  color: boolean,
): Promise<Logger> {
  if (format === 'json') return createLogger(level);
  const { prettyLogStream } = await import('./log-pretty.js');
  return createLogger(
    level,
    {},
    prettyLogStream({ color, verbose: level === 'debug' || level === 'trace' }),
  );
}

/** doctor's checks as lacks; a check that cannot run is not a reason to hold the banner back. */
async function lackingParts(
  config: RunDaemonOptions['loaded']['config'],
  stateDir: string,
): Promise<Lack[]> {
  try {
    const { runDoctor } = await import('../capabilities/index.js');
    return lacksFrom(await runDoctor(config, undefined, { stateDir }));
  } catch {
    return [];
  }
}

async function bannerFacts(
  daemon: Daemon,
  opts: RunDaemonOptions,
  doctorLacks: Promise<Lack[]> | null,
): Promise<BannerFacts> {
  const { config, stateDir, configPath } = opts.loaded;
  const status = await daemon.status();
  const lacks =
    (await doctorLacks) ??
    lacksFromCapabilities(await daemon.probedCapabilities(), { tailnet: status.tailnet, config });
  const room = daemon.settingsService?.store.get(`nodes.${status.self.id}.room`);
  const tailnet = status.tailnet;
  const discovery = [
    ...(tailnet.kind === 'running'
      ? [`the tailnet${tailnet.tailnet ? ` ${tailnet.tailnet}` : ''}`]
      : []),
    ...(config.discovery.mdns ? ['mDNS on the LAN'] : []),
    ...(config.discovery.static_peers.length > 0
      ? [
          `${config.discovery.static_peers.length} static peer${config.discovery.static_peers.length === 1 ? '' : 's'}`,
        ]
      : []),
    ...(opts.invite ? ['the invite'] : []),
  ];
  // where the dashboard listens (null: off, or its port was taken)
  const dashboard = daemon.dashboardUrl;
  return {
    version: VERSION,
    name: status.self.name,
    id: status.self.shortId,
    mesh: status.self.meshId,
    ...(typeof room === 'string' && room !== '' ? { room } : {}),
    platform: config.agents.platform || platformOfNodeArch(process.arch),
    address: status.self.address,
    ports: { rpc: config.mesh.rpc_port, cluster: config.mesh.cluster_port },
    discovery,
    peers: status.nodes.filter((n) => n.id !== status.self.id && n.state === 'alive').length,
    ...(dashboard ? { dashboard } : {}),
    where: [
      { label: 'state', value: stateDir },
      ...(configPath ? [{ label: 'config', value: configPath }] : []),
    ],
    lacks,
  };
}
