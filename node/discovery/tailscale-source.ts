/**
 * Tailscale as a discovery source: polls `tailscale status --json` through a TailscaleClient and
 * offers the tailnet's online peers. It also owns the tailnet state (shown by status and doctor)
 * and this node's own tailnet identity (for the join check).
 */
import type { Config } from '../config/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { PeerCandidate } from '../types.js';
import { ChangeListeners, type DiscoverySource } from './source.js';
import { parseTailscaleStatus, type TailscaleClient } from './tailscale.js';
import type { TailnetState } from './types.js';

export const TAILSCALE_RANK = 3;

export class TailscaleSource implements DiscoverySource {
  readonly name = 'tailscale';
  readonly rank = TAILSCALE_RANK;
  private readonly changes = new ChangeListeners();
  private readonly client: TailscaleClient | null;
  private readonly log: Logger;
  private state: TailnetState;
  private stateKey = '';
  private selfUserId: number | null = null;
  private selfTags: string[] = [];
  private peers: PeerCandidate[] = [];

  /** `client` null, or discovery.tailscale off: Tailscale is not used (state "disabled") */
  constructor(
    private readonly config: Config,
    client: TailscaleClient | null,
    logger: Logger = silentLogger,
  ) {
    this.client = config.discovery.tailscale ? client : null;
    this.log = logger;
    this.state = this.client
      ? { kind: 'unavailable', reason: 'not polled yet' }
      : { kind: 'disabled' };
  }

  /** Nothing to open: Discovery's first refresh() polls before any source starts. */
  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async refresh(signal: AbortSignal): Promise<void> {
    const client = this.client;
    if (!client) return;
    // bounded by the poll interval as well as the client's own timeout: polls never pile up
    const limit = Math.max(500, Math.min(this.config.discovery.poll_interval_ms, 10_000));
    const deadline = AbortSignal.timeout(limit);
    const both = AbortSignal.any([signal, deadline]);
    try {
      // raced against the signal too, so even a client that ignores it cannot stall polling
      const status = await Promise.race([client.status(both), rejectOnAbort(both)]);
      const parsed = parseTailscaleStatus(status, {
        tag: this.config.discovery.tailscale_tag || undefined,
      });
      this.setState(parsed.state);
      this.selfUserId = parsed.selfUserId;
      this.selfTags = parsed.selfTags;
      this.peers = parsed.peers.map((p) => ({ ...p, source: this.name, dial: 'lower-address' }));
    } catch (err) {
      if (signal.aborted) return;
      const reason = deadline.aborted
        ? `tailscale status did not answer within ${limit} ms; is tailscaled stuck? try \`systemctl restart tailscaled\``
        : describeError(err);
      this.setState({ kind: 'unavailable', reason });
      this.peers = [];
    }
    this.changes.emit();
  }

  candidates(): PeerCandidate[] {
    return this.peers;
  }

  selfAddresses(): string[] {
    return this.state.kind === 'running' ? this.state.selfIps : [];
  }

  onChange(listener: () => void): () => void {
    return this.changes.add(listener);
  }

  tailnet(): TailnetState {
    return this.state;
  }

  /** This node's own Tailscale identity (for the join check): owner user id and ACL tags. */
  tailnetSelf(): { userId: number | null; tags: string[] } {
    return { userId: this.selfUserId, tags: [...this.selfTags] };
  }

  private setState(next: TailnetState): void {
    this.state = next;
    const key = JSON.stringify(next);
    if (key === this.stateKey) return;
    this.stateKey = key;
    switch (next.kind) {
      case 'running':
        this.log.info(
          { ips: next.selfIps, name: next.selfDnsName, tailnet: next.tailnet },
          'tailnet is up',
        );
        break;
      case 'not-running':
        this.log.warn(
          { backendState: next.backendState },
          'tailscale is not running; run `tailscale up` to use the tailnet',
        );
        break;
      case 'unavailable':
        this.log.warn(
          { reason: next.reason },
          'tailscale is unavailable; discovery continues with mDNS and static peers',
        );
        break;
      case 'disabled':
        break;
    }
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    const fail = () =>
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}
