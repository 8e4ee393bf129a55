/**
 * The route manager: which discovered peers this node's nats-server dials (route policy), and
 * route repair (a configured route missing from /routez is dialled again). Route changes are
 * config reloads; that needs nats-server 2.9.17 or later (earlier ones lose a route's interest
 * after a reload, nats-io/nats-server PR #4130), which scripts/install-nats-server.sh installs.
 * The decisions are pure (`routeTargets`, `RouteRepair`) and tested as tables; `RouteManager`
 * only adds timers and I/O.
 */
import { describeError } from '../errors.js';
import type { Component } from '../lifecycle.js';
import { silentLogger, type Logger } from '../log.js';
import type { PeerCandidate } from '../types.js';
import { routedServers, type NatsRoutez } from './monitor.js';
import type { RouteTarget } from './natsConfig.js';
import { RouteRepair } from './route-repair.js';
import { compareAddresses } from '../order.js';

/**
 * Which candidates this node dials. Candidates from symmetric sources (`dial: 'lower-address'`:
 * tailscale, mDNS, adverts) are dialled only towards lower mesh addresses, so each
 * pair of nodes has one solicited route instead of two racing ones (nats-server 2.9 prunes the
 * duplicate, and interest can be lost in the race). One-sided knowledge (`dial: 'always'`: static
 * peers, the member named in an invite) is always dialled.
 */
export function routeTargets(
  candidates: readonly PeerCandidate[],
  selfAddress: string,
): PeerCandidate[] {
  return candidates.filter(
    (c) => c.dial === 'always' || compareAddresses(c.address, selfAddress) < 0,
  );
}

/** The nats-server side the manager drives (NatsSupervisor). */
export interface RouteServer {
  setRoutes(routes: RouteTarget[]): Promise<boolean>;
  /** dial these configured routes again (out of the config and back in) */
  redial(hosts: string[]): Promise<void>;
  routez(opts: { signal?: AbortSignal }): Promise<NatsRoutez>;
}

/** Where candidates come from (Discovery). */
export interface CandidateSource {
  candidates(): PeerCandidate[];
  onCandidates(listener: (candidates: PeerCandidate[]) => void): () => void;
}

export interface RouteManagerOptions {
  server: RouteServer;
  discovery: CandidateSource;
  selfAddress: string;
  /** cluster port for candidates that name none (mesh.cluster_port) */
  clusterPort: number;
  /** only members are dialled: a route carries the route password (MemberGate.filter) */
  admit?: (targets: PeerCandidate[]) => PeerCandidate[];
  logger?: Logger;
  pollMs?: number;
  /** a configured route missing this long is dialled again (default 2000 ms) */
  redialAfterMs?: number;
}

const ROUTE_POLL_MS = 1000;

export class RouteManager implements Component {
  readonly name = 'routes';
  private readonly log: Logger;
  private offCandidates: (() => void) | null = null;
  private repairTimer: NodeJS.Timeout | null = null;
  /** the hosts in the last route list handed to the server */
  private configured: string[] = [];

  constructor(private readonly opts: RouteManagerOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  /** Points nats-server at the current candidates (also when the member gate learns more). */
  apply(candidates: readonly PeerCandidate[] = this.opts.discovery.candidates()): void {
    const admit = this.opts.admit ?? ((t: PeerCandidate[]) => t);
    const routes = admit(routeTargets(candidates, this.opts.selfAddress)).map((c) => ({
      host: c.address,
      port: c.clusterPort ?? this.opts.clusterPort,
    }));
    this.configured = routes.map((r) => r.host);
    void this.opts.server
      .setRoutes(routes)
      .catch((err: unknown) =>
        this.log.warn({ err: describeError(err) }, 'could not update NATS routes'),
      );
  }

  async start(): Promise<void> {
    this.apply();
    this.offCandidates = this.opts.discovery.onCandidates((c) => this.apply(c));
    const repair = new RouteRepair(this.opts.redialAfterMs);
    let busy = false;
    this.repairTimer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.repairOnce(repair).finally(() => (busy = false));
    }, this.opts.pollMs ?? ROUTE_POLL_MS);
  }

  async stop(): Promise<void> {
    this.offCandidates?.();
    this.offCandidates = null;
    if (this.repairTimer) clearInterval(this.repairTimer);
    this.repairTimer = null;
  }

  /** One look at /routez: configured routes missing for a while are dialled again. */
  private async repairOnce(repair: RouteRepair): Promise<void> {
    const routez = await this.opts.server
      .routez({ signal: AbortSignal.timeout(1000) })
      .catch(() => null);
    if (!routez || !this.repairTimer) return;
    const routed = routedServers(routez).map((r) => r.ip);
    const due = repair.observe(this.configured, routed, Date.now());
    if (due.length === 0) return;
    this.log.info({ hosts: due }, 'configured routes are missing; dialling them again');
    await this.opts.server
      .redial(due)
      .catch((err: unknown) =>
        this.log.warn({ err: describeError(err) }, 'could not dial the routes again'),
      );
  }
}
