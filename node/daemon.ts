/**
 * The node daemon only wires: it lists the components in order (discovery → mesh membership →
 * capabilities → nats-server → bus → rpc clients → member gate → routes → membership → route
 * health → settings → services → rpc → control) and a ComponentStack starts them and stops them
 * in reverse (js-libp2p's Startable). Nothing starts on import. `helix-node join` runs it
 * (cli/run-daemon.ts).
 */
import path from 'node:path';
import type { Config, LoadedConfig } from './config/index.js';
import { createLogger, type Logger } from './log.js';
import { VERSION } from './version.js';
import { describeError, NodeStartingError, UsageError } from './errors.js';
import { component, ComponentStack, stopErrorLogger, type Component } from './lifecycle.js';
import { heapCollector } from './heap.js';
import { probedTierFacts, quickTierFacts, settleV8Tier } from './v8-tier.js';
import {
  ensureNodeTls,
  hostNodeName,
  loadOrCreateIdentity,
  natsCredentials,
  readStoredName,
  type NodeIdentity,
  type MeshMembership,
  type MeshTls,
} from './identity/index.js';
import type { Discovery, TailscaleClient } from './discovery/index.js';
import type { CapabilityProber } from './capabilities/index.js';
import type { NatsSupervisor, RouteManager, Bus } from './bus/index.js';
import type { MembershipService } from './membership/index.js';
import type { RpcServer, RpcClients } from './rpc/index.js';
import type { JoinService, MemberGate, TailnetIdentity } from './join/index.js';
import type { AgentServices, ServiceContext } from './agenthost/index.js';
import type { SttEngine } from './stt/index.js';
import type { VoiceServices } from './pipeline/index.js';
import {
  ControlServer,
  controlSocketPath,
  statusReport,
  type StatusReport,
} from './control/index.js';
import type { MeshHome, NodeNames, SettingsService } from './settings/index.js';
import type { ApplyRotation, RemovalService } from './removal/index.js';
import type { Capabilities, PeerCandidate } from './types.js';
import type { DashboardServer } from './dashboard/index.js';

/** PEM text that ends in a newline, so certificates can be concatenated into a bundle. */
function pemText(pem: Buffer): string {
  const text = pem.toString('utf8');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * After a key rotation (`helix-node remove`), for two of these periods this node still accepts the old CA and
 * the old secret from members that have not rotated yet (the removed node is refused by id all
 * along), and keeps old client channels for calls already running on them.
 */
const ROTATION_GRACE_MS = 5_000;
/** Old client channels stay open this long for the calls already running on them. */
const DRAIN_MS = 60_000;

/**
 * The parts' modules, loaded by start() once the control socket answers "starting", not when
 * this module is imported (issue 12): on a Pi, `status` answers while the agent host, the voice
 * pipeline, gRPC, NATS and the rest still load.
 */
async function loadParts() {
  const [
    discovery,
    capabilities,
    bus,
    membership,
    rpc,
    join,
    agenthost,
    stt,
    pipeline,
    routes,
    settings,
    removal,
  ] = await Promise.all([
    import('./discovery/index.js'),
    import('./capabilities/index.js'),
    import('./bus/index.js'),
    import('./membership/index.js'),
    import('./rpc/index.js'),
    import('./join/index.js'),
    import('./agenthost/index.js'),
    import('./stt/index.js'),
    import('./pipeline/index.js'),
    import('./control/routes/index.js'),
    import('./settings/index.js'),
    import('./removal/index.js'),
  ]);
  return {
    Discovery: discovery.Discovery,
    TailscaleCli: discovery.TailscaleCli,
    resolveMeshAddress: discovery.resolveMeshAddress,
    tailnetMachineName: discovery.tailnetMachineName,
    CapabilityProber: capabilities.CapabilityProber,
    losesInterestOnReload: capabilities.losesInterestOnReload,
    readLoad: capabilities.readLoad,
    runDoctor: capabilities.runDoctor,
    reloadBugWarning: capabilities.reloadBugWarning,
    NatsSupervisor: bus.NatsSupervisor,
    RouteManager: bus.RouteManager,
    connectBus: bus.connectBus,
    routedServers: bus.routedServers,
    MembershipService: membership.MembershipService,
    RpcServer: rpc.RpcServer,
    RpcClients: rpc.RpcClients,
    routeGrpcLogs: rpc.routeGrpcLogs,
    JoinService: join.JoinService,
    MemberGate: join.MemberGate,
    verifyMember: join.verifyMember,
    createInvite: join.createInvite,
    ensureMesh: join.ensureMesh,
    startAgentServices: agenthost.startAgentServices,
    createSttEngine: stt.createSttEngine,
    FOLLOWUP_MANIFEST: pipeline.FOLLOWUP_MANIFEST,
    startVoiceServices: pipeline.startVoiceServices,
    addAgentRoutes: routes.addAgentRoutes,
    addEventRoutes: routes.addEventRoutes,
    addNodeRoutes: routes.addNodeRoutes,
    addSettingsRoutes: routes.addSettingsRoutes,
    registerVoiceControlRoutes: routes.registerVoiceControlRoutes,
    MeshHome: settings.MeshHome,
    NodeNames: settings.NodeNames,
    overlayMeshSettings: settings.overlayMeshSettings,
    SettingsService: settings.SettingsService,
    seedRoomsFromConfig: settings.seedRoomsFromConfig,
    RemovalService: removal.RemovalService,
  };
}
type Parts = Awaited<ReturnType<typeof loadParts>>;

export interface DaemonOptions {
  loaded: LoadedConfig;
  invite?: string;
  logger?: Logger;
  /**
   * Choose V8's tier for this process by the node's parts (node/v8-tier.ts): `join` does; a
   * daemon inside another program (tests) leaves that program's V8 as it is.
   */
  ownsProcess?: boolean;
}

export class Daemon {
  readonly logger: Logger;
  private readonly stack: ComponentStack;
  /** the parts' modules (loadParts), from start() on */
  private parts!: Parts;
  private log!: Logger;
  private identity!: NodeIdentity;
  private mesh!: MeshMembership;
  private tls!: MeshTls;
  private meshAddress = '127.0.0.1';
  private tailscale: TailscaleClient | null = null;
  private discovery!: Discovery;
  private prober!: CapabilityProber;
  private firstProbe: Promise<void> = Promise.resolve();
  /** whether V8 was capped at its interpreter, and the check for parts found later */
  private v8Tier: ReturnType<typeof settleV8Tier> = { capped: false, recheck: () => {} };
  private nats!: NatsSupervisor;
  private natsRestarts = 0;
  /** the nats-server's version (from --version), or null when it did not say */
  private natsVersion: string | null = null;
  private bus!: Bus;
  private clients!: RpcClients;
  private gate!: MemberGate;
  private removal!: RemovalService;
  /** addresses removed nodes advertised: never dialled as routes again */
  private readonly removedAddresses = new Set<string>();
  private graceTimer: NodeJS.Timeout | null = null;
  private routes: RouteManager | null = null;
  private membership!: MembershipService;
  private rpc!: RpcServer;
  private join: ReturnType<Daemon['joinService']> | null = null;
  private releaseBootstrap: () => Promise<void> = async () => undefined;
  private readonly startedAt = Date.now();
  private agents: AgentServices | null = null;
  private stt: SttEngine | null = null;
  private voice: VoiceServices | null = null;
  private settings: SettingsService | null = null;
  private home: MeshHome | null = null;
  private names: NodeNames | null = null;
  /** helix.toml's node.name differs from the one node.json recorded: claim it again */
  private reclaimName = false;
  /** The control socket: up from the start, its routes added once every part runs. */
  private control: ControlServer | null = null;
  /** Every component has started (status answers in full); false while starting or stopping. */
  private up = false;
  private stopping = false;
  /** the web dashboard (node/dashboard), loaded once the control routes run; null when off */
  private dashboard: DashboardServer | null = null;

  constructor(private readonly opts: DaemonOptions) {
    this.logger = opts.logger ?? createLogger(opts.loaded.config.log.level);
    this.stack = new ComponentStack({
      onStopError: stopErrorLogger((f, m) => this.logger.warn(f, m)),
    });
  }

  private get config() {
    return this.opts.loaded.config;
  }

  private get stateDir() {
    return this.opts.loaded.stateDir;
  }

  /** Starts every component in order; one that fails stops those before it, and the error propagates. */
  async start(signal: AbortSignal = new AbortController().signal): Promise<void> {
    const configured = this.config.node.name;
    const stored = readStoredName(this.stateDir);
    this.reclaimName = configured !== undefined && stored !== null && stored !== configured;
    this.identity = await loadOrCreateIdentity(this.stateDir, configured);
    // The name is read at each line, not bound once: a rename shows in the log context at once.
    this.log = this.logger.child(
      { id: this.identity.shortId },
      { formatters: { log: (o) => ({ node: this.identity.name, ...o }) } },
    );
    // The control socket answers from the first moment, as tailscaled's LocalAPI does: while the
    // parts start (a Whisper model may take seconds on a Pi), `status` and every other route say
    // the node is starting and what is up so far, instead of "no helix-node is running".
    this.control = this.startingControl();
    await this.control.start();
    try {
      // V8's optimising compiler, left out on a node whose work is the control plane only: decided
      // before the parts load, whose start-up is hot enough for it (node/v8-tier.ts).
      if (this.opts.ownsProcess)
        this.v8Tier = settleV8Tier(
          this.config.node.jit,
          await quickTierFacts(this.config),
          this.log,
        );
      this.parts = await loadParts();
      await this.stack.start(this.components(), signal);
    } catch (err) {
      await this.stopControl();
      throw err;
    }
    this.log.info(
      { mesh: this.mesh.meshId, address: this.meshAddress, version: VERSION },
      'node is up',
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.stack.stop();
    await this.stopControl();
  }

  private async stopControl(): Promise<void> {
    const control = this.control;
    this.control = null;
    await control?.stop();
  }

  /** The components running now, in start order (empty before start and after stop). */
  get running(): string[] {
    return this.stack.running;
  }

  /** The dashboard's loopback address ("http://127.0.0.1:7780/"), null while off or not started. */
  get dashboardUrl(): string | null {
    return this.dashboard?.info().url ?? null;
  }

  /** Voice services, once started (the mic loop, pipeline, traces). */
  get voiceServices(): VoiceServices | null {
    return this.voice;
  }

  /**
   * The mesh-wide settings, once started. The seam for what reads them next (issue 9): the
   * router and the home backends are to take `settings.store` and follow `store.onChange`.
   */
  get settingsService(): SettingsService | null {
    return this.settings;
  }

  /** What this node can do, once its first capability probe has finished (the start banner). */
  async probedCapabilities(): Promise<Capabilities> {
    await this.firstProbe;
    return this.prober.current();
  }

  /** Agent services, once started (null on a node that has not started yet). */
  get agentServices(): AgentServices | null {
    return this.agents;
  }

  /** The components, in start order; each one's start() may use what those before it made. */
  private components(): Component[] {
    const { config, stateDir } = this;
    return [
      // Discovery first: its first tailscale poll decides the mesh address and whom to ask for
      // the mesh secret, and it keeps finding peers while the join runs.
      component(
        'discovery',
        async () => {
          this.tailscale = config.discovery.tailscale
            ? new this.parts.TailscaleCli({ bin: config.discovery.tailscale_bin, timeoutMs: 3000 })
            : null;
          this.discovery = new this.parts.Discovery({
            config,
            tailscale: this.tailscale,
            logger: this.log,
            privateKey: this.identity.privateKey,
            listenAddress: config.mesh.address,
          });
          await this.discovery.start();
          this.meshAddress = this.parts.resolveMeshAddress(config, this.discovery.tailnet());
        },
        () => this.discovery.stop(),
      ),
      component(
        'mesh',
        async (signal) => {
          const ensured = await this.parts.ensureMesh({
            stateDir,
            invite: this.opts.invite,
            discovery: this.discovery,
            onTailnet: this.discovery.tailnet().kind === 'running',
            discoveryFresh: true,
            selfAddress: this.meshAddress,
            rpcPort: config.mesh.rpc_port,
            nodeId: this.identity.id,
            name: this.identity.name,
            logger: this.log,
            signal,
            tls: true,
          });
          this.mesh = ensured.mesh;
          this.releaseBootstrap = ensured.release;
          // Every gRPC hop and NATS route is TLS with the mesh CA: a mesh made before TLS (or a
          // node whose address changed) gets its certificate here, from the derived CA.
          const { tls, issued } = await ensureNodeTls(stateDir, this.mesh.secret, {
            nodeId: this.identity.id,
            addresses: [this.meshAddress],
          });
          this.tls = tls;
          if (issued)
            this.log.info(
              { reason: issued, addresses: tls.addresses },
              'issued this node a mesh certificate',
            );
          if (ensured.members.length > 0)
            this.discovery.setExtraCandidates('invite', ensured.members);
        },
        () => this.releaseBootstrap(),
      ),
      component(
        'capabilities',
        () => {
          this.prober = new this.parts.CapabilityProber({ config, logger: this.log });
          // Probes (arecord, nvidia-smi, Docker, Ollama…) finish in the background; adverts
          // carry the baseline until then, so the node is not held up by a slow probe.
          this.firstProbe = this.prober.start();
          this.prober.onChange((caps) =>
            this.v8Tier.recheck(probedTierFacts(config.voice.enabled, caps)),
          );
        },
        () => this.prober.stop(),
      ),
      component(
        'nats-server',
        async () => {
          this.nats = this.natsSupervisor();
          this.nats.on((event) => {
            if (event.type === 'restarted') this.natsRestarts += 1;
          });
          await this.nats.start();
          this.readNatsVersion();
        },
        () => this.nats.stop(),
      ),
      // Connected before the first route reload: a reload closes a client still in its handshake.
      component(
        'bus',
        async () => {
          this.bus = await this.parts.connectBus({
            port: config.bus.client_port,
            creds: natsCredentials(this.mesh.secret, 'nats-client'),
            name: this.identity.name,
            logger: this.log,
          });
        },
        () => this.bus.close(),
      ),
      component(
        'rpc-clients',
        () => {
          this.clients = new this.parts.RpcClients({
            nodeId: this.identity.id,
            secret: this.mesh.secret,
            transport: { kind: 'mesh', tls: this.tls },
          });
          this.removal = this.removalService();
        },
        () => {
          if (this.graceTimer) clearTimeout(this.graceTimer);
          this.removal.close();
          this.clients.close();
        },
      ),
      // A route carries the route password and would hand a non-member every message on the
      // bus: only members (proved over Mesh.Ping, or learned from the mesh itself) are dialled.
      component(
        'member-gate',
        () => {
          this.gate = new this.parts.MemberGate({
            verify: async (c) => {
              const port = c.rpcPort ?? config.mesh.rpc_port;
              const member = await this.parts.verifyMember({
                clients: this.clients,
                address: c.address,
                rpcPort: port,
                secret: this.mesh.secret,
                selfId: this.identity.id,
                timeoutMs: 2000,
              });
              // A peer that no longer accepts this node may have rotated the mesh keys while it
              // was away: ask it for them (refused if this node is the one removed).
              if (member === null) void this.removal.catchUp({ address: c.address, port });
              return member;
            },
            // a member proved before the route manager exists is picked up by its first apply()
            onChange: () => this.routes?.apply(),
          });
          this.gate.start();
        },
        () => this.gate.stop(),
      ),
      this.lazy(
        'routes',
        () =>
          (this.routes = new this.parts.RouteManager({
            server: this.nats,
            discovery: this.discovery,
            selfAddress: this.meshAddress,
            clusterPort: config.mesh.cluster_port,
            admit: (targets) =>
              this.gate.filter(targets).filter((t) => !this.removedAddresses.has(t.address)),
            logger: this.log,
          })),
      ),
      component(
        'membership',
        async () => {
          this.membership = this.membershipService();
          await this.membership.start();
        },
        () => this.membership.stop(),
      ),
      // A route that just connected carries nothing of this node until its next beat: announce
      // now, so a node that joins is alive on its peers in milliseconds, not up to a heartbeat.
      this.subscription('announce-on-route', () =>
        this.nats.on((event) => {
          if (event.type === 'route-connected') this.membership.announceSoon();
        }),
      ),
      // A peer that went silent may have rotated the mesh keys while this node was away
      // (`helix-node remove` on another member): ask it for them (a removed node is refused), and
      // have it prove itself again before a route goes to it.
      this.subscription('rekey-on-silence', () =>
        this.membership.onChange((t) => {
          if (t.to !== 'dead') return;
          const peer = this.membership.view().find((p) => p.id === t.id);
          for (const a of peer?.addresses ?? []) {
            this.gate.forget(a);
            void this.removal.catchUp({ address: a, port: peer!.ports.rpc });
          }
        }),
      ),
      // Peers learned from adverts become route candidates too: the mesh heals from any one link.
      this.subscription('advert-candidates', () =>
        this.membership.onChange(() =>
          this.discovery.setExtraCandidates('advert', this.advertCandidates()),
        ),
      ),
      component('rpc-services', () => {
        this.parts.routeGrpcLogs(this.log);
        this.rpc = new this.parts.RpcServer({
          addresses: [this.meshAddress],
          port: config.mesh.rpc_port,
          secret: this.mesh.secret,
          tls: this.tls,
          selfId: this.identity.id,
          logger: this.log,
          isRevoked: (id) => this.removal.isRevoked(id),
        });
        this.join = this.joinService();
        this.join.register(this.rpc);
        this.removal.register(this.rpc);
      }),
      // Mesh-wide settings: after the bus (they replicate over it), before the services that will
      // read them; stopped before the bus closes. helix.toml's [lights.rooms] seeds an empty store.
      component(
        'settings',
        async (signal) => {
          const settings = new this.parts.SettingsService({
            stateDir,
            selfId: this.identity.id,
            meshId: this.mesh.meshId,
            secret: this.mesh.secret,
            bus: this.bus,
            logger: this.log,
          });
          await settings.start(signal);
          this.settings = settings;
          this.parts.seedRoomsFromConfig(settings.store, config.lights.rooms, this.log);
          this.names = this.nodeNames(settings);
          this.names.start();
        },
        async () => {
          this.names?.stop();
          await this.settings?.stop();
          this.settings = null;
        },
      ),
      // The house: lights backends as the settings say, what they find written back to them.
      component(
        'home',
        () => {
          if (!this.settings) return;
          this.home = new this.parts.MeshHome({
            store: this.settings.store,
            mqtt: config.mqtt,
            log: this.log,
          });
          this.home.start();
        },
        async () => {
          await this.home?.stop();
          this.home = null;
        },
      ),
      this.subscription('name-check', () =>
        this.membership.onChange(() => this.names?.reconcile()),
      ),
      // Agent services add their gRPC services, so they come before rpc.start(); image builds and
      // warm pools fill in the background so the node joins without waiting for `go build`.
      component(
        'agents',
        async () => {
          this.agents = await this.parts.startAgentServices({
            ...this.serviceContext(),
            liveConfig: () => this.meshConfig(),
            ...(this.home && { lights: (req) => this.home!.switchLights(req) }),
          });
        },
        () => this.agents?.stop(),
      ),
      component(
        'stt',
        async () => {
          this.stt = await this.createStt(this.agents!);
        },
        () => this.stt?.close(),
      ),
      // Voice: the Transcriber and Router services, traces, reply speech and, with
      // voice.enabled, the mic loop.
      component(
        'voice',
        async () => {
          this.voice = await this.parts.startVoiceServices({
            ...this.serviceContext(),
            agents: this.agents!,
            stt: this.stt,
            settings: this.settings?.store ?? null,
            mesh: { meshId: this.mesh.meshId, secret: this.mesh.secret },
            room: () => {
              const room = this.settings?.store.get(`nodes.${this.identity.id}.room`);
              return typeof room === 'string' ? room : undefined;
            },
          });
        },
        () => this.voice?.stop(),
      ),
      component(
        'rpc',
        async () => {
          await this.releaseBootstrap();
          await this.rpc.start();
        },
        () => this.rpc.stop(),
      ),
      // Last: the routes that need the parts; status answers in full from here on.
      component(
        'control',
        () => {
          this.addControlRoutes(this.control!);
          this.control!.setFallback(null);
          this.up = true;
        },
        () => {
          this.up = false;
          this.control?.setFallback(this.notUp);
        },
      ),
      // The web dashboard over the control routes; loaded only here, so the CLI never loads it.
      component(
        'dashboard',
        async () => {
          const { startDashboard } = await import('./dashboard/index.js');
          this.dashboard = await startDashboard({
            control: this.control!,
            config: config.dashboard,
            meshAddress: this.meshAddress,
            logger: this.log,
          }).catch((err: unknown) => {
            // a port someone else holds costs the dashboard, not the node
            this.log.warn(
              { err: describeError(err), port: config.dashboard.port },
              'no dashboard: its port is taken? set [dashboard] port in helix.toml (0: any free one)',
            );
            return null;
          });
        },
        async () => {
          await this.dashboard?.stop();
          this.dashboard = null;
        },
      ),
      // An idle node's promoted garbage, collected once a minute (node/heap.ts; --expose-gc only).
      heapCollector(),
    ];
  }

  /** A component made only when its turn comes (it needs what earlier ones made). */
  private lazy(name: string, make: () => Component): Component {
    let made: { start(signal: AbortSignal): Promise<void>; stop(): Promise<void> } | null = null;
    return component(
      name,
      async (signal) => {
        made = make();
        await made.start(signal);
      },
      () => made?.stop(),
    );
  }

  private subscription(name: string, subscribe: () => () => void): Component {
    let off: (() => void) | null = null;
    return component(
      name,
      () => {
        off = subscribe();
      },
      () => off?.(),
    );
  }

  /** Logs the nats-server's version, and warns when it has the reload bug. */
  private readNatsVersion(): void {
    this.natsVersion = this.nats.version;
    if (this.natsVersion === null) {
      this.log.warn(
        'nats-server did not say its version (--version); one before 2.9.17 loses route interest after a reload (run scripts/install-nats-server.sh)',
      );
    } else if (this.parts.losesInterestOnReload(this.natsVersion)) {
      this.log.warn(
        { natsVersion: this.natsVersion },
        this.parts.reloadBugWarning(this.natsVersion),
      );
    } else {
      this.log.info({ natsVersion: this.natsVersion }, `nats-server ${this.natsVersion}`);
    }
  }

  private natsSupervisor(): NatsSupervisor {
    const { config } = this;
    return new this.parts.NatsSupervisor({
      natsServerPath: config.bus.nats_server,
      confDir: path.join(this.stateDir, 'nats'),
      serverName: `${this.identity.name}-${this.identity.shortId}`,
      clusterName: this.mesh.meshId,
      clientHost: '127.0.0.1',
      clientPort: config.bus.client_port,
      clientCreds: natsCredentials(this.mesh.secret, 'nats-client'),
      monitorPort: config.bus.monitor_port,
      clusterHost: this.meshAddress,
      clusterPort: config.mesh.cluster_port,
      routeCreds: natsCredentials(this.mesh.secret, 'nats-route'),
      clusterTls: {
        certFile: this.tls.files.cert,
        keyFile: this.tls.files.key,
        caFile: this.tls.files.ca,
      },
      backoffMs: config.bus.restart_backoff_ms,
      logger: this.log,
    });
  }

  private membershipService(): MembershipService {
    const { config } = this;
    return new this.parts.MembershipService({
      bus: this.bus,
      meshId: this.mesh.meshId,
      secret: this.mesh.secret,
      selfId: this.identity.id,
      config: config.membership,
      logger: this.log,
      advert: () => ({
        id: this.identity.id,
        name: this.identity.name,
        version: VERSION,
        startedAt: this.startedAt,
        addresses: [this.meshAddress],
        ports: { rpc: config.mesh.rpc_port, cluster: config.mesh.cluster_port },
        capabilities: this.prober.current(),
        load: this.parts.readLoad(this.agents?.advert().runningAgents ?? 0),
        warmPool: this.agents?.advert().warmPool ?? [],
        images: this.agents?.advert().images ?? [],
      }),
    });
  }

  /**
   * This node's name, unique in the mesh: its setting, else helix.toml's node.name, else the
   * tailnet machine name, else the host name; a change shows in adverts, status and logs at once.
   */
  private nodeNames(settings: SettingsService): NodeNames {
    const { config } = this;
    return new this.parts.NodeNames({
      store: settings.store,
      selfId: this.identity.id,
      wish: () =>
        config.node.name ??
        this.parts.tailnetMachineName(this.discovery.tailnet()) ??
        hostNodeName(),
      reclaim: this.reclaimName,
      peers: () =>
        this.membership
          .view()
          .filter((p) => !p.self)
          .map((p) => ({ id: p.id, name: p.name })),
      onName: (name, previous) => {
        if (previous === null && name === this.identity.name) return;
        const was = this.identity.name;
        this.identity.name = name;
        this.log.info({ previous: was }, `this node is now called ${name}`);
      },
      logger: this.log,
    });
  }

  private joinService(): JoinService {
    const log = this.log;
    return new this.parts.JoinService({
      self: this.identity, // not a copy: the name follows a rename
      selfAddress: this.meshAddress,
      stateDir: this.stateDir,
      meshId: this.mesh.meshId,
      secret: this.mesh.secret,
      allowedTags: this.config.join.allowed_tags,
      tailnet: this.tailscale ? this.tailnetIdentity(this.tailscale) : null,
      onAdmitted: (n) =>
        log.info({ peer: n.name, via: n.via, ip: n.ip }, 'admitted a node to the mesh'),
      members: () => this.memberList(),
      removedBy: (id) => this.removal.removedBy(id),
      logger: log,
    });
  }

  private removalService(): RemovalService {
    return new this.parts.RemovalService({
      stateDir: this.stateDir,
      self: this.identity,
      mesh: this.mesh,
      selfTarget: () => ({ address: this.meshAddress, port: this.config.mesh.rpc_port }),
      clients: () => this.clients,
      nodes: () =>
        (this.membership?.view() ?? []).map((p) => ({
          id: p.id,
          name: this.names?.nameOf(p.id, p.name) ?? p.name,
          state: p.state,
          address: p.addresses[0],
          rpcPort: p.ports.rpc,
          self: p.self,
        })),
      apply: this.applyRotation,
      logger: this.log,
    });
  }

  /**
   * A key rotation, live (docs/security.md, "Removing a node"): a new certificate under the new
   * CA (same key), gRPC server and clients swapped without dropping running calls, nats-server
   * reloaded with the new CA and route password (routes that used the old one close), adverts
   * and settings signed with the new keys, the removed nodes cut off and forgotten. For two
   * ROTATION_GRACE_MS periods the old CA and secret are still accepted from members that have
   * not rotated yet, and this node's calls carry proofs under both, so no call fails in between.
   */
  private readonly applyRotation: ApplyRotation = async ({ oldSecret, newSecret, revoked }) => {
    for (const id of revoked)
      for (const p of this.membership?.view() ?? [])
        if (p.id === id) for (const a of p.addresses) this.removedAddresses.add(a);
    const old = this.tls;
    const { tls } = await ensureNodeTls(this.stateDir, newSecret, {
      nodeId: this.identity.id,
      addresses: [this.meshAddress],
    });
    this.tls = tls;
    // Grace: trust both CAs, still present the old certificate (a member that has not rotated
    // trusts only the old CA; the old CA cannot vouch for the new one, its path length is 0).
    const bridging = {
      ca: Buffer.from(`${pemText(tls.ca)}${pemText(old.ca)}`),
      cert: old.cert,
      key: old.key,
    };
    this.rpc?.updateTls(bridging);
    this.rpc?.setSecrets([newSecret, oldSecret]);
    const cut = this.rpc?.cutOff(revoked) ?? 0;
    this.clients.setSecrets([newSecret, oldSecret]);
    this.clients.setTransport({ kind: 'mesh', tls: bridging }, { drainMs: DRAIN_MS });
    this.join?.setSecret(newSecret);
    this.membership?.rekey(newSecret, revoked);
    this.settings?.replicator.setSecret(newSecret);
    this.gate?.reset();
    this.routes?.apply();
    await this.nats
      .setRouteCredentials(natsCredentials(newSecret, 'nats-route'))
      .catch((err: unknown) =>
        this.log.warn(
          { err: describeError(err) },
          'nats-server did not reload the new route keys; it loads them on its next restart',
        ),
      );
    this.log.info(
      { cutConnections: cut, graceMs: ROTATION_GRACE_MS },
      'mesh keys rotated without a restart',
    );
    setTimeout(() => void this.cutRemovedRoutes(), 1000).unref();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    // Step 1 (after one grace period): present the new certificate, still trust both CAs.
    // Step 2 (after two): trust only the new CA and secret. Members rotate within a grace period
    // of each other, so one that trusts only the new CA never meets one that still presents
    // the old certificate.
    const step = (fn: () => void, next?: () => void) => {
      this.graceTimer = setTimeout(() => {
        this.graceTimer = null;
        if (this.mesh.secret !== newSecret) return; // a later rotation took over
        fn();
        next?.();
      }, ROTATION_GRACE_MS);
      this.graceTimer.unref();
    };
    step(
      () => {
        const presenting = { ...bridging, cert: tls.cert, key: tls.key };
        this.rpc?.updateTls(presenting);
        this.clients.setTransport({ kind: 'mesh', tls: presenting }, { drainMs: DRAIN_MS });
      },
      () =>
        step(() => {
          // from here the removed node's old-CA certificate (and any it minted with the old
          // secret) no longer verifies, and the old secret proves nothing
          this.rpc?.updateTls({ ca: tls.ca, cert: tls.cert, key: tls.key });
          this.rpc?.setSecrets([newSecret]);
          this.clients.setSecrets([newSecret]);
          this.clients.setTransport({ kind: 'mesh', tls }, { drainMs: DRAIN_MS });
          this.log.info('rotation grace over: only the new mesh keys are accepted');
        }),
    );
  };

  /**
   * A route to a removed node that survived the reload (one this nats-server dialled itself,
   * such as a route learned by gossip: nats-server re-checks only the routes it accepted) is
   * closed by restarting nats-server; the removed node cannot route back (new CA, new password).
   */
  private async cutRemovedRoutes(): Promise<void> {
    if (this.removedAddresses.size === 0 || this.stopping) return;
    const routez = await this.nats.routez({ signal: AbortSignal.timeout(2000) }).catch(() => null);
    const held = (routez ? this.parts.routedServers(routez) : []).filter((r) =>
      this.removedAddresses.has(r.ip),
    );
    if (held.length === 0) return;
    await this.nats
      .restartNow(
        `a removed node still holds a route this nats-server dialled (${held.map((r) => r.ip).join(', ')}); a reload cannot close it`,
      )
      .catch((err: unknown) =>
        this.log.warn({ err: describeError(err) }, 'could not restart nats-server'),
      );
  }

  /** The control socket of a node that is starting: status says so, every other route too. */
  private startingControl(): ControlServer {
    const control = new ControlServer(controlSocketPath(this.stateDir), this.log);
    control.route('GET', '/v1/status', () => (this.up ? this.status() : this.notUp()));
    control.setFallback(this.notUp);
    return control;
  }

  private readonly notUp = async (): Promise<never> => {
    const up = this.stack.running;
    throw new NodeStartingError(
      this.stopping
        ? `helix-node ${this.identity.name} is stopping`
        : `helix-node ${this.identity.name} is starting (up so far: ${up.length > 0 ? up.join(', ') : 'nothing yet'}); ask again in a moment`,
    );
  };

  /** The routes that need the parts, once they run. */
  private addControlRoutes(control: ControlServer): void {
    const { config, stateDir } = this;
    control.route('POST', '/v1/invite', async (body) => {
      const ttlS = Number((body as { ttlS?: unknown }).ttlS ?? config.join.invite_ttl_s);
      return this.parts.createInvite(stateDir, {
        ttlS,
        memberAddress: this.meshAddress,
        rpcPort: config.mesh.rpc_port,
      });
    });
    if (this.settings) this.parts.addSettingsRoutes(control, this.settings.store, this.home);
    if (this.names) this.parts.addNodeRoutes(control, this.names);
    if (this.agents) this.parts.addAgentRoutes(control, this.agents.control);
    if (this.voice) this.parts.registerVoiceControlRoutes(control, this.voice.control);
    control.route('POST', '/v1/remove', async (body) => {
      const node = (body as { node?: unknown }).node;
      if (typeof node !== 'string')
        throw new UsageError('name the node to remove: helix-node remove NODE');
      return this.removal.remove(node);
    });
    // what must be live (CLI and dashboard alike), and doctor run by the daemon
    const traces = this.voice?.control.traces;
    this.parts.addEventRoutes(control, {
      status: () => this.status(),
      onMember: (listener) => this.membership.onChange(listener),
      onTrace: traces ? (listener) => traces.onAdd(listener) : null,
      doctor: async () => ({
        schema: 'helix.doctor/v1',
        node: this.identity.name,
        checks: await this.parts.runDoctor(config, undefined, { stateDir }),
      }),
    });
  }

  /** What the agent and voice services are built from. */
  private serviceContext(): ServiceContext & { bus: Bus } {
    return {
      config: this.config,
      stateDir: this.stateDir,
      identity: this.identity,
      rpc: this.rpc,
      clients: this.clients,
      view: () => this.membership.view(),
      bus: this.bus,
      logger: this.log,
    };
  }

  /** helix.toml with the mesh settings (the house) laid over it, as they are now. */
  private meshConfig(): Config {
    if (this.home) return this.home.overlay(this.config);
    return this.settings
      ? this.parts.overlayMeshSettings(this.config, this.settings.store.settings())
      : this.config;
  }

  /** A node whose engine or model is missing runs without STT; `doctor` says how to get one. */
  private async createStt(agents: AgentServices): Promise<SttEngine | null> {
    try {
      const manifests = [...agents.agents.values()].map((a) => a.manifest);
      // The mesh's rooms, not helix.toml's; the voice services' vocabulary keeps them current.
      // follow-up phrases ("turn them off") are heard like commands (pipeline/followup.ts)
      const heard =
        this.config.voice.context_ttl_s > 0
          ? [...manifests, this.parts.FOLLOWUP_MANIFEST]
          : manifests;
      const engine = await this.parts.createSttEngine(this.config.stt, {
        manifests: heard,
        config: this.meshConfig(),
      });
      if (engine)
        this.log.info({ engine: engine.name, model: engine.model }, 'speech-to-text ready');
      return engine;
    } catch (err) {
      this.log.warn(
        { err: describeError(err) },
        'no speech-to-text on this node (run `helix-node doctor`)',
      );
      return null;
    }
  }

  async status(): Promise<StatusReport> {
    const routez = await this.nats.routez({ signal: AbortSignal.timeout(1000) }).catch(() => null);
    return statusReport({
      self: this.identity,
      meshId: this.mesh.meshId,
      version: VERSION,
      address: this.meshAddress,
      startedAt: this.startedAt,
      tailnet: this.discovery.tailnet(),
      routes: routez ? this.parts.routedServers(routez) : null,
      natsRestarts: this.natsRestarts,
      drops: this.membership.drops(),
      // names from the settings: a rename shows on every node as soon as the setting arrives
      view: this.membership
        .view()
        .map((p) => ({ ...p, name: this.names?.nameOf(p.id, p.name) ?? p.name })),
      roomOf: (id) => {
        const room = this.settings?.store.get(`nodes.${id}.room`);
        return typeof room === 'string' ? room : undefined;
      },
    });
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
