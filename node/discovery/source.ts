/**
 * The seam for discovery plug-ins. A source finds candidate peers its own way (a CLI, multicast,
 * the config, what the mesh said) and owns everything particular to it: its name, its rank, how
 * its peers are dialled and which fields it knows. `Discovery` only starts, polls and stops the
 * sources and merges their lists by address; it knows no source by name.
 */
import type { Logger } from '../log.js';
import type { PeerCandidate } from '../types.js';

/** A peer as a source's parser finds it, before the source says how to dial it. */
export type FoundPeer = Omit<PeerCandidate, 'dial'>;

/** What `Discovery` hands each source when it starts. */
export interface SourceContext {
  /** aborted when discovery stops; a source ends its timers, sockets and children on it */
  signal: AbortSignal;
  logger: Logger;
  /** the address this node uses for the mesh, as known now (after the sources started before) */
  meshAddress(): string;
}

export interface DiscoverySource {
  /** set as `source` on its candidates; status and logs show it */
  readonly name: string;
  /**
   * priority when several sources name one address: lower wins, and a higher-ranked source only
   * fills the fields the winner left open. Explicit config first, then what peers said about
   * themselves (it carries their ports), then discovery proper.
   */
  readonly rank: number;
  /** begin finding peers; sources start in order of the list, each awaited */
  start(ctx: SourceContext): Promise<void>;
  /** end every timer, socket and child (also called when start failed or never ran) */
  stop(): Promise<void>;
  /**
   * one poll, run at discovery.poll_interval_ms and on `Discovery.refresh()`, also before start.
   * Never throws: a failure becomes the source's own state.
   */
  refresh?(signal: AbortSignal): Promise<void>;
  /** the peers it knows now, each with this source's name and dial policy */
  candidates(): PeerCandidate[];
  /** addresses it knows to be this node's own (never candidates) */
  selfAddresses?(): string[];
  /** called whenever candidates() may have changed; returns an unsubscribe */
  onChange(listener: () => void): () => void;
}

/** The listener set every source needs. */
export class ChangeListeners {
  private readonly listeners = new Set<() => void>();

  add(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * A source whose list is handed to it: static peers from the config, and what the daemon learns
 * elsewhere (adverts, invites) through `Discovery.setExtraCandidates`.
 */
export class ListSource implements DiscoverySource {
  private list: PeerCandidate[] = [];
  private readonly changes = new ChangeListeners();

  constructor(
    readonly name: string,
    readonly rank: number,
    private readonly dial: PeerCandidate['dial'],
    initial: readonly Partial<FoundPeer>[] = [],
  ) {
    this.set(initial);
  }

  /** Replace the whole list; entries without an address are dropped; source and dial are ours. */
  set(list: readonly Partial<FoundPeer>[]): void {
    this.list = list
      .filter((c): c is Partial<FoundPeer> & { address: string } => {
        return typeof c.address === 'string' && c.address !== '';
      })
      .map((c) => ({ ...c, source: this.name, dial: this.dial }));
    this.changes.emit();
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  candidates(): PeerCandidate[] {
    return this.list;
  }

  onChange(listener: () => void): () => void {
    return this.changes.add(listener);
  }
}
