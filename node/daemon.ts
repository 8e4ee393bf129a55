/**
 * The node daemon: builds the components in order (config → identity → discovery → mesh
 * membership → bus → membership → rpc → control) and stops them in reverse, like libp2p's
 * Startable components. Nothing starts on import.
 */
import { once } from 'node:events';
import type { LoadedConfig } from './config/index.js';
import { createLogger, type Logger } from './log.js';
import { VERSION } from './version.js';
import { describeError, MeshAccessError } from './errors.js';
import {
  loadOrCreateIdentity,
  readMesh,
  writeMesh,
  natsCredentials,
  type NodeIdentity,
  type MeshMembership,
} from './identity/index.js';
import {
  Discovery,
  TailscaleCli,
  resolveMeshAddress,
  type TailscaleClient,
} from './discovery/index.js';
import { CapabilityProber, readLoad } from './capabilities/index.js';
import { NatsSupervisor, connectBus, type Bus } from './bus/index.js';
import { MembershipService, UnheardPeersCheck } from './membership/index.js';
import { RpcServer, RpcClients, routeGrpcLogs } from './rpc/index.js';
import {
  JoinService,
  MemberGate,
  verifyMember,
  bootstrapMesh,
  createInvite,
  type TailnetIdentity,
} from './join/index.js';
import { startAgentServices, type AgentServices } from './agenthost/index.js';
import { createSttEngine, type SttEngine } from './stt/index.js';
import { startVoiceServices, type VoiceServices } from './pipeline/index.js';
import { ControlServer, controlSocketPath, type StatusReport } from './control/index.js';
import type { Output } from './cli/output.js';
import type { PeerCandidate, PeerView } from './types.js';
import path from 'node:path';

export interface DaemonOptions {
  loaded: LoadedConfig;
  invite?: string;
  logger?: Logger;
}

interface Startable {
  name: string;
  stop(): Promise<void>;
}

export class Daemon {
  readonly logger: Logger;
  private readonly stack: Startable[] = [];
  private identity!: NodeIdentity;
  private mesh!: MeshMembership;
  private meshAddress = '127.0.0.1';
  private discovery!: Discovery;
  private prober!: CapabilityProber;
  private nats!: NatsSupervisor;
  private bus!: Bus;
  private membership!: MembershipService;
  private readonly startedAt = Date.now();
  private agents: AgentServices | null = null;
  private voice: VoiceServices | null = null;

  constructor(private readonly opts: DaemonOptions) {
    this.logger = opts.logger ?? createLogger(opts.loaded.config.log.level);
  }

  private get config() {
    return this.opts.loaded.config;
  }

  private get stateDir() {
    return this.opts.loaded.stateDir;
  }

  private push(name: string, stop: () => Promise<void>): void {
    this.stack.push({ name, stop });
  }

  async start(signal?: AbortSignal): Promise<void> {
    const { config, stateDir, logger } = this;
    this.identity = await loadOrCreateIdentity(stateDir, config.node.name);
    const log = logger.child({ node: this.identity.name, id: this.identity.shortId });

    // Discovery first: the tailnet decides the mesh address and who to ask for the secret.
    const tailscale = config.discovery.tailscale
      ? new TailscaleCli({ bin: config.discovery.tailscale_bin, timeoutMs: 3000 })
      : null;
    // One discovery, started first: its first tailscale poll decides the mesh address and whom
    // to ask for the mesh secret, and it keeps finding peers while the join runs.
    this.discovery = new Discovery({
      config,
      tailscale,
      logger: log,
      privateKey: this.identity.privateKey,
      listenAddress: config.mesh.address,
    });
    await this.discovery.start();
    this.push('discovery', () => this.discovery.stop());
    this.meshAddress = resolveMeshAddress(config, this.discovery.tailnet());
    this.mesh = await this.ensureMesh(this.discovery.tailnet().kind === 'running', log, signal);
    if (this.pendingMembers.length > 0)
      this.discovery.setExtraCandidates('invite', this.pendingMembers);

    this.prober = new CapabilityProber({ config, logger: log });
    // Probes (arecord, nvidia-smi, Docker, Ollama…) finish in the background; adverts carry the
    // baseline until then, so the node is not held up by a slow probe.
    void this.prober.start();
    this.push('capabilities', () => this.prober.stop());

    this.nats = new NatsSupervisor({
      natsServerPath: config.bus.nats_server,
      confDir: path.join(stateDir, 'nats'),
      serverName: `${this.identity.name}-${this.identity.shortId}`,
      clusterName: this.mesh.meshId,
      clientHost: '127.0.0.1',
      clientPort: config.bus.client_port,
      clientCreds: natsCredentials(this.mesh.secret, 'nats-client'),
      monitorPort: config.bus.monitor_port,
      clusterHost: this.meshAddress,
      clusterPort: config.mesh.cluster_port,
      routeCreds: natsCredentials(this.mesh.secret, 'nats-route'),
      backoffMs: config.bus.restart_backoff_ms,
      logger: log,
    });
    this.nats.on((event) => {
      if (event.type === 'restarted') this.natsRestarts += 1;
    });
    await this.nats.start();
    this.push('nats-server', () => this.nats.stop());
    // Connected before the first route reload: a reload closes a client still in its handshake.
    this.bus = await connectBus({
      port: config.bus.client_port,
      creds: natsCredentials(this.mesh.secret, 'nats-client'),
      name: this.identity.name,
      logger: log,
    });
    this.push('bus', () => this.bus.close());
    this.clients = new RpcClients({ nodeId: this.identity.id, secret: this.mesh.secret });
    this.push('rpc-clients', async () => this.clients.close());
    // A route carries the route password and would hand a non-member every message on the bus:
    // only members (proved over Mesh.Ping, or learned from the mesh itself) are dialled.
    const gate = new MemberGate({
      verify: (c) =>
        verifyMember({
          clients: this.clients,
          address: c.address,
          rpcPort: c.rpcPort ?? config.mesh.rpc_port,
          secret: this.mesh.secret,
          selfId: this.identity.id,
          timeoutMs: 2000,
        }),
      onChange: () => applyRoutes(this.discovery.candidates()),
    });
    gate.start();
    this.push('member-gate', async () => gate.stop());
    const applyRoutes = (candidates: PeerCandidate[]) =>
      void this.nats
        .setRoutes(
          gate.filter(routeTargets(candidates, this.meshAddress)).map((c) => ({
            host: c.address,
            port: c.clusterPort ?? config.mesh.cluster_port,
          })),
        )
        .catch((err: unknown) =>
          log.warn({ err: describeError(err) }, 'could not update NATS routes'),
        );
    applyRoutes(this.discovery.candidates());
    const offCandidates = this.discovery.onCandidates(applyRoutes);
    this.push('routes', async () => offCandidates());

    this.membership = new MembershipService({
      bus: this.bus,
      meshId: this.mesh.meshId,
      secret: this.mesh.secret,
      selfId: this.identity.id,
      config: config.membership,
      logger: log,
      advert: () => ({
        id: this.identity.id,
        name: this.identity.name,
        version: VERSION,
        startedAt: this.startedAt,
        addresses: [this.meshAddress],
        ports: { rpc: config.mesh.rpc_port, cluster: config.mesh.cluster_port },
        capabilities: this.prober.current(),
        load: readLoad(this.agents?.advert().runningAgents ?? 0),
        warmPool: this.agents?.advert().warmPool ?? [],
        images: this.agents?.advert().images ?? [],
      }),
    });
    await this.membership.start();
    this.push('membership', () => this.membership.stop());
    const stopWatch = this.watchRoutes(log);
    this.push('route-watch', async () => stopWatch());
    // Peers learned from adverts become route candidates too: the mesh heals from any one link.
    const offView = this.membership.onChange(() =>
      this.discovery.setExtraCandidates('advert', this.advertCandidates()),
    );
    this.push('advert-candidates', async () => offView());

    routeGrpcLogs(log);
    const rpc = new RpcServer({
      addresses: [this.meshAddress],
      port: config.mesh.rpc_port,
      secret: this.mesh.secret,
      selfId: this.identity.id,
      logger: log,
    });
    const join = new JoinService({
      self: { id: this.identity.id, name: this.identity.name },
      selfAddress: this.meshAddress,
      stateDir,
      meshId: this.mesh.meshId,
      secret: this.mesh.secret,
      allowedTags: config.join.allowed_tags,
      tailnet: tailscale ? this.tailnetIdentity(tailscale) : null,
      onAdmitted: (n) =>
        log.info({ peer: n.name, via: n.via, ip: n.ip }, 'admitted a node to the mesh'),
      members: () => this.memberList(),
      logger: log,
    });
    join.register(rpc);
    // Agent services add their gRPC services, so they come before rpc.start(); image builds and
    // warm pools fill in the background so the node joins without waiting for `go build`.
    const agents = await startAgentServices({
      config,
      stateDir,
      identity: this.identity,
      rpc,
      clients: this.clients,
      view: () => this.membership.view(),
      bus: this.bus,
      logger: log,
    });
    this.agents = agents;
    this.push('agents', () => agents.stop());

    // Voice: this node's STT engine (if its model/recogniser works), the Transcriber and Router
    // services, traces, reply speech and, with voice.enabled, the mic loop.
    const stt = await this.createStt(agents, log);
    if (stt) this.push('stt', async () => stt.close());
    const voice = await startVoiceServices({
      config,
      stateDir,
      identity: this.identity,
      rpc,
      clients: this.clients,
      view: () => this.membership.view(),
      bus: this.bus,
      agents,
      stt,
      logger: log,
    });
    this.voice = voice;
    this.push('voice', () => voice.stop());
    await this.releaseBootstrap();
    await rpc.start();
    this.push('rpc', () => rpc.stop());

    const control = new ControlServer(controlSocketPath(stateDir), log);
    control.route('GET', '/v1/status', () => this.status());
    control.route('POST', '/v1/invite', async (body) => {
      const ttlS = Number((body as { ttlS?: unknown }).ttlS ?? config.join.invite_ttl_s);
      return createInvite(stateDir, {
        ttlS,
        memberAddress: this.meshAddress,
        rpcPort: config.mesh.rpc_port,
      });
    });
    agents.addControlRoutes(control);
    voice.addControlRoutes(control);
    await control.start();
    this.push('control', () => control.stop());

    log.info({ mesh: this.mesh.meshId, address: this.meshAddress, version: VERSION }, 'node is up');
  }

  /** Voice services, once started (the mic loop, pipeline, traces). */
  get voiceServices(): VoiceServices | null {
    return this.voice;
  }

  /** A node whose engine or model is missing runs without STT; `doctor` says how to get one. */
  private async createStt(agents: AgentServices, log: Logger): Promise<SttEngine | null> {
    try {
      const manifests = [...agents.agents.values()].map((a) => a.manifest);
      const engine = await createSttEngine(this.config.stt, { manifests, config: this.config });
      if (engine) log.info({ engine: engine.name, model: engine.model }, 'speech-to-text ready');
      return engine;
    } catch (err) {
      log.warn(
        { err: describeError(err) },
        'no speech-to-text on this node (run `helix-node doctor`)',
      );
      return null;
    }
  }

  /** Agent services, once started (null on a node that has not started yet). */
  get agentServices(): AgentServices | null {
    return this.agents;
  }

  async stop(): Promise<void> {
    for (const component of this.stack.reverse()) {
      try {
        await component.stop();
      } catch (err) {
        this.logger.warn({ component: component.name, err: describeError(err) }, 'stop failed');
      }
    }
    this.stack.length = 0;
  }

  async status(): Promise<StatusReport> {
    const routez = await this.nats.routez({ signal: AbortSignal.timeout(1000) }).catch(() => null);
    const nodes = this.membership.view().map((n: PeerView) => ({ ...n, shortId: n.id.slice(-8) }));
    return {
      schema: 'helix.status/v1',
      self: {
        id: this.identity.id,
        shortId: this.identity.shortId,
        name: this.identity.name,
        meshId: this.mesh.meshId,
        version: VERSION,
        address: this.meshAddress,
        startedAt: new Date(this.startedAt).toISOString(),
      },
      tailnet: this.discovery.tailnet(),
      bus: {
        routes: (routez?.routes ?? []).map((r) => ({
          address: `${r.ip}:${r.port}`,
          name: r.remote_name ?? null,
        })),
        restarts: this.natsRestarts,
      },
      drops: this.membership.drops(),
      nodes,
    };
  }

  private advertCandidates(): PeerCandidate[] {
    return this.membership
      .view()
      .filter((p) => !p.self && p.state !== 'left')
      .flatMap((p) =>
        p.addresses.map((address) => ({
          address,
          source: 'advert' as const,
          dial: 'lower-address' as const,
          name: p.name,
          clusterPort: p.ports.cluster,
          rpcPort: p.ports.rpc,
        })),
      );
  }

  private memberList() {
    return this.membership
      .view()
      .filter((p) => p.state === 'alive')
      .map((p) => ({
        id: p.id,
        name: p.name,
        address: p.addresses[0] ?? '',
        rpcPort: p.ports.rpc,
        clusterPort: p.ports.cluster,
      }));
  }

  /** Existing membership, else join through an invite or a tailnet peer, else create a new mesh. */
  private async ensureMesh(
    onTailnet: boolean,
    log: Logger,
    signal?: AbortSignal,
  ): Promise<MeshMembership> {
    const existing = readMesh(this.stateDir);
    if (existing && !this.opts.invite) return existing;
    if (existing && this.opts.invite) {
      throw new MeshAccessError(
        `this node already belongs to ${existing.meshId}; to move it, remove ${path.join(this.stateDir, 'mesh.json')} first`,
      );
    }
    const boot = await bootstrapMesh({
      invite: this.opts.invite,
      // Off a tailnet nobody is asked (an invite, or create at once); on it, a fresh
      // `tailscale status` every round.
      candidates: async () => {
        if (!onTailnet) return [];
        await this.discovery.refresh();
        return this.discovery.candidates().map((c) => ({
          address: c.address,
          rpcPort: c.rpcPort ?? this.config.mesh.rpc_port,
        }));
      },
      selfAddress: this.meshAddress,
      rpcPort: this.config.mesh.rpc_port,
      nodeId: this.identity.id,
      name: this.identity.name,
      logger: log,
      signal,
    });
    // The stand-in Join holds the rpc port (answering "starting") until the real server binds it.
    this.releaseBootstrap = boot.release;
    this.push('bootstrap-endpoint', boot.release);
    if ('created' in boot) {
      writeMesh(this.stateDir, boot.created);
      log.info({ mesh: boot.created.meshId }, 'created a new mesh');
      return boot.created;
    }
    const result = boot.joined;
    const mesh: MeshMembership = {
      meshId: result.meshId,
      secret: result.secret,
      joinedAt: new Date().toISOString(),
      via: result.via,
    };
    writeMesh(this.stateDir, mesh);
    log.info({ mesh: mesh.meshId, via: result.via }, 'joined mesh');
    this.pendingMembers = result.members.map((m) => ({
      address: m.address,
      source: 'invite' as const,
      dial: 'always' as const,
      name: m.name,
      clusterPort: m.clusterPort,
      rpcPort: m.rpcPort,
    }));
    return mesh;
  }

  private releaseBootstrap: () => Promise<void> = async () => undefined;
  private pendingMembers: PeerCandidate[] = [];
  private natsRestarts = 0;
  private clients!: RpcClients;

  /**
   * Poll the local server's routes; when the set of connected servers changes, re-assert the
   * membership subscriptions once the routes have settled (see MembershipService.reassertInterest).
   */
  private watchRoutes(log: Logger): () => void {
    let lastKey = '';
    let settle: NodeJS.Timeout | null = null;
    const unheard = new UnheardPeersCheck(UNHEARD_REASSERT_MS);
    const checkHeard = (routes: number) => {
      const alive = this.membership.view().filter((p) => !p.self && p.state === 'alive').length;
      if (!unheard.observe(routes, alive, Date.now())) return;
      log.info({ routes, alive }, 'a routed peer is not heard; re-asserting interest');
      this.membership.reassertInterest();
    };
    const poll = async () => {
      const routez = await this.nats
        .routez({ signal: AbortSignal.timeout(1000) })
        .catch(() => null);
      if (!routez) return;
      checkHeard(routez.routes.length);
      const key = routez.routes
        .map((r) => r.remote_id)
        .sort()
        .join(',');
      if (key === lastKey) return;
      lastKey = key;
      if (settle) clearTimeout(settle);
      settle = setTimeout(() => {
        log.debug({ routes: routez.routes.length }, 'routes changed; re-asserting interest');
        this.membership.reassertInterest();
      }, ROUTE_SETTLE_MS);
    };
    const timer = setInterval(() => void poll(), ROUTE_POLL_MS);
    return () => {
      clearInterval(timer);
      if (settle) clearTimeout(settle);
    };
  }

  /** `tailscale whois` reduced to what the join check needs. */
  private tailnetIdentity(tailscale: TailscaleClient): TailnetIdentity {
    return {
      whois: async (ip, signal) => {
        const w = await tailscale.whois(ip, signal);
        return { userId: w.node.userId, tags: w.node.tags };
      },
      selfUserId: async () => this.discovery.tailnetSelf().userId,
    };
  }
}

const ROUTE_POLL_MS = 1000;
const ROUTE_SETTLE_MS = 500;
/** how long a routed peer may go unheard before interest is re-asserted (and then at most this often) */
const UNHEARD_REASSERT_MS = 4000;

/**
 * Which candidates this node dials. Symmetric sources (tailscale, mDNS, adverts) are dialled only
 * towards lower mesh addresses, so each pair of nodes has one solicited route instead of two
 * racing ones (nats-server 2.9 prunes the duplicate, and interest can be lost in the race).
 * Static peers and the member named in an invite are one-sided knowledge: always dialled.
 */
export function routeTargets(candidates: PeerCandidate[], selfAddress: string): PeerCandidate[] {
  return candidates.filter(
    (c) =>
      c.source === 'static' || c.source === 'invite' || compareIPv4(c.address, selfAddress) < 0,
  );
}

function compareIPv4(a: string, b: string): number {
  const num = (ip: string) =>
    ip.split('.').reduce((acc, part) => acc * 256 + (Number(part) || 0), 0);
  return num(a) - num(b);
}

/** `helix-node join`: run until SIGINT/SIGTERM, then leave cleanly. */
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
    daemon.agentServices?.onNotify((n) => opts.output.err(`${n.from}/${n.agent}: ${n.text}`));
    // Every spoken command's reply is printed here (and spoken where a TTS engine is present).
    daemon.voiceServices?.startListening((r) => opts.output.err(r.reply));
    if (!opts.output.json) opts.output.err(`helix-node ${VERSION} is running; Ctrl-C to leave`);
    if (!stopping.signal.aborted) await once(stopping.signal, 'abort');
  } finally {
    await daemon.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
