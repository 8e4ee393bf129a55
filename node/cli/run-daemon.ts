/** `helix-node join`: run the daemon until SIGINT/SIGTERM, then leave cleanly. */
import { once } from 'node:events';
import { Daemon, type DaemonOptions } from '../daemon.js';
import { VERSION } from '../version.js';
import { safeText, type Output } from './output.js';

export async function runDaemon(opts: DaemonOptions & { output: Output }): Promise<void> {
  const daemon = new Daemon(opts);
  const stopping = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    daemon.logger.info({ signal }, 'leaving the mesh');
    stopping.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    try {
      await daemon.start(stopping.signal);
    } catch (err) {
      // Ctrl-C while still looking for a mesh: a clean exit, not an error.
      if (stopping.signal.aborted) return;
      throw err;
    }
    // Timers and other agents tell the node that asked; say it on this node's terminal.
    daemon.agentServices?.onNotify((n) =>
      opts.output.err(`${safeText(n.from)}/${safeText(n.agent)}: ${safeText(n.text)}`),
    );
    // Every spoken command's reply is printed here (and spoken where a TTS engine is present).
    daemon.voiceServices?.startListening((r) => opts.output.err(safeText(r.reply)));
    if (!opts.output.json) opts.output.err(`helix-node ${VERSION} is running; Ctrl-C to leave`);
    if (!stopping.signal.aborted) await once(stopping.signal, 'abort');
  } finally {
    await daemon.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
