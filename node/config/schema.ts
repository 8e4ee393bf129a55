/**
 * The one typed source of truth for configuration. Defaults live here and are documented
 * in helix.toml. Keys are snake_case as in the TOML file; every section is strict, so a
 * misspelt key is an error rather than silently ignored.
 */
import { z } from 'zod';
import { parsePlatform } from '../platform.js';
import { lazySchema, SchemaScope } from '../types.js';

/**
 * The config's schemas are built when a config is parsed (the node's start, `helix-node config`)
 * and dropped after it (`releaseConfigSchemas`): kept, they would hold 0.8 MB of an idle node's heap.
 */
export const configSchemas = new SchemaScope();

const port = lazySchema(() => z.number().int().min(1).max(65535), configSchemas);
const ms = lazySchema(() => z.number().int().min(1), configSchemas);

const hostPort = lazySchema(
  () =>
    z
      .string()
      .regex(
        /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/,
        'a host or IP, optionally with :port (e.g. "100.64.0.2" or "192.168.1.20:6222")',
      ),
  configSchemas,
);

export const NodeSection = lazySchema(
  () =>
    z.strictObject({
      /** node name shown in status; default: the host name */
      name: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, "-", "_" or ".", 1-63 chars')
        .optional(),
      /** where the node keeps its key, mesh membership and registry */
      state_dir: z.string().min(1).optional(),
      /**
       * the room this node (its mic and speaker) is in, when the mesh setting nodes.<id>.room is
       * not set (`helix-node node room NODE ROOM` sets it mesh-wide and wins over this)
       */
      room: z
        .string()
        .regex(
          /^[a-z0-9](?:[a-z0-9 _-]{0,62}[a-z0-9])?$/,
          'lower-case letters, digits, spaces, "-" or "_", 1-64 chars, e.g. "living room"',
        )
        .optional(),
      /**
       * V8's optimising compiler: "auto" leaves it out on a node without voice, speech-to-text or
       * Docker (control-plane work only: some 4 MB less memory, node/v8-tier.ts), "full" always keeps
       * it, "interpreter" always leaves it out
       */
      jit: z.enum(['auto', 'full', 'interpreter']).default('auto'),
    }),
  configSchemas,
);
export type JitSetting = z.infer<typeof NodeSection>['jit'];

export const MeshSection = lazySchema(
  () =>
    z.strictObject({
      /** the address this node's cluster routes and gRPC listen on; default: Tailscale IPv4, else the first LAN IPv4, else 127.0.0.1 */
      address: z.ipv4().optional(),
      rpc_port: port.default(7700),
      cluster_port: port.default(6222),
    }),
  configSchemas,
);

export const DiscoverySection = lazySchema(
  () =>
    z.strictObject({
      tailscale: z.boolean().default(true),
      tailscale_bin: z.string().min(1).default('tailscale'),
      /** only peers carrying this tag count (e.g. "tag:helix"); empty: every online peer */
      tailscale_tag: z
        .string()
        .regex(/^(tag:[A-Za-z0-9-]+)?$/, 'empty or "tag:<name>"')
        .default(''),
      poll_interval_ms: ms.default(5000),
      mdns: z.boolean().default(true),
      static_peers: z.array(hostPort).default([]),
    }),
  configSchemas,
);

export const BusSection = lazySchema(
  () =>
    z.strictObject({
      nats_server: z.string().min(1).default('nats-server'),
      client_port: port.default(4222),
      /** nats-server HTTP monitoring, bound to loopback (routez/varz for status and tests) */
      monitor_port: port.default(8222),
      /** first restart delay after nats-server dies; doubles up to 30 s */
      restart_backoff_ms: ms.default(500),
    }),
  configSchemas,
);

export const MembershipSection = lazySchema(
  () =>
    z
      .strictObject({
        heartbeat_ms: ms.default(1000),
        suspect_after_ms: ms.default(3000),
        dead_after_ms: ms.default(10000),
        /** dead and left peers are forgotten after this long */
        forget_after_ms: ms.default(600_000),
      })
      .refine((m) => m.suspect_after_ms < m.dead_after_ms, {
        message: 'suspect_after_ms must be less than dead_after_ms',
        path: ['suspect_after_ms'],
      }),
  configSchemas,
);

export const JoinSection = lazySchema(
  () =>
    z.strictObject({
      /** on a tailnet, peers owned by another user are admitted only if they carry one of these tags */
      allowed_tags: z
        .array(z.string().regex(/^tag:[A-Za-z0-9-]+$/, '"tag:<name>"'))
        .default(['tag:helix']),
      invite_ttl_s: z.number().int().min(10).max(86_400).default(600),
    }),
  configSchemas,
);

export const CapabilitiesSection = lazySchema(
  () =>
    z.strictObject({
      probe_interval_s: z.number().int().min(1).default(30),
      probe_timeout_ms: ms.default(2000),
      nvidia_smi: z.string().min(1).default('nvidia-smi'),
      docker_socket: z.string().min(1).default('/var/run/docker.sock'),
    }),
  configSchemas,
);

export const AgentsSection = lazySchema(
  () =>
    z.strictObject({
      /** extra directories holding agent folders, besides the repository's agents/ */
      dirs: z.array(z.string().min(1)).default([]),
      warm_pool_size: z.number().int().min(0).max(16).default(1),
      image_budget_mb: z.number().int().min(10).default(500),
      go: z.string().min(1).default('go'),
      /**
       * the platform this node runs agent images as; empty: the Docker engine's own. Set it for an
       * engine that runs another platform under emulation (qemu-user-static registered through
       * binfmt_misc), e.g. "linux/arm64" on an amd64 machine standing in for a Raspberry Pi.
       */
      platform: z
        .string()
        .default('')
        .transform((text, ctx) => {
          if (text === '') return '';
          try {
            return parsePlatform(text);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
            return z.NEVER;
          }
        }),
    }),
  configSchemas,
);

/**
 * The node's read-only OCI registry mirror of agent images (docs/registry.md), on loopback only.
 * 0 picks a free port (tests); the engine pulls `127.0.0.1:<port>/helix/<agent>@sha256:…`.
 */
export const RegistrySection = lazySchema(
  () =>
    z.strictObject({
      enabled: z.boolean().default(true),
      port: z.number().int().min(0).max(65535).default(7705),
    }),
  configSchemas,
);

export const MqttSection = lazySchema(
  () =>
    z.strictObject({
      url: z
        .string()
        .regex(/^mqtts?:\/\/.+/, 'an mqtt:// or mqtts:// URL')
        .default('mqtt://127.0.0.1:1883'),
      username: z.string().optional(),
      password: z.string().optional(),
      base_topic: z.string().min(1).default('zigbee2mqtt'),
    }),
  configSchemas,
);

export const LightsSection = lazySchema(
  () =>
    z.strictObject({
      /** room -> zigbee2mqtt friendly names of its lights */
      rooms: z.record(z.string(), z.array(z.string().min(1))).default({}),
    }),
  configSchemas,
);

export const VoiceSection = lazySchema(
  () =>
    z.strictObject({
      enabled: z.boolean().default(false),
      /** ALSA capture device for arecord (-D), e.g. "default" or "plughw:1,0" */
      device: z.string().min(1).default('default'),
      silence_ms: ms.default(700),
      preroll_ms: ms.default(300),
      /** Silero VAD model (whisper.cpp ggml form); empty: <state_dir>/models/ggml-silero-v6.2.0.bin */
      vad_model: z.string().default(''),
      /** speech when Silero's probability is at least this */
      vad_threshold: z.number().min(0.05).max(0.95).default(0.5),
      debug_capture_dir: z.string().optional(),
      /** reply speech: "auto" = piper when installed with a voice model, else espeak-ng, else none */
      tts: z.enum(['auto', 'espeak-ng', 'piper', 'none']).default('auto'),
      /** espeak-ng voice (-v), e.g. "en-us"; empty: the engine's default */
      tts_voice: z.string().default(''),
      /** piper voice model (.onnx, with its .onnx.json beside it) */
      piper_model: z.string().default(''),
      /** ALSA playback device for aplay (-D) */
      playback_device: z.string().min(1).default('default'),
      /**
       * how long a room remembers the last command for follow-ups ("turn them off", "add five
       * minutes"), in seconds; 0: no follow-ups
       */
      context_ttl_s: z.number().int().min(0).max(3600).default(60),
    }),
  configSchemas,
);

export const SttSection = lazySchema(
  () =>
    z.strictObject({
      engine: z.enum(['whisper', 'phrase', 'none']).default('whisper'),
      /** whisper: path to a ggml model file */
      model: z.string().default(''),
      threads: z.number().int().min(1).max(64).default(2),
      language: z.string().min(2).default('en'),
      /**
       * phrase engine: hear commands that name no room ("turn on the lights"), for the room of the mic
       * that heard them best. false: such a command is asked back ("Which room?" through a decoy)
       * instead; bench/stt/phrases.ts measures both (docs/voice.md)
       */
      roomless: z.boolean().default(true),
    }),
  configSchemas,
);

export const RouterSection = lazySchema(
  () =>
    z.strictObject({
      ollama_url: z.url().default('http://127.0.0.1:11434'),
      model: z.string().min(1).default('llama3'),
      keep_alive: z.string().default('30m'),
      min_confidence: z.number().min(0).max(1).default(0.6),
      timeout_ms: ms.default(30_000),
    }),
  configSchemas,
);

/** The web dashboard `helix-node join` serves (docs/dashboard.md). */
export const DashboardSection = lazySchema(
  () =>
    z.strictObject({
      /** serve it at all (on 127.0.0.1:port) */
      enabled: z.boolean().default(true),
      /** its TCP port, on loopback and (with mesh) on the mesh address; 0: any free port */
      port: z.number().int().min(0).max(65535).default(7780),
      /** serve it on the mesh address too, to members with a login code (`helix-node dashboard code`) */
      mesh: z.boolean().default(false),
      /** how long a login code stays valid, in seconds */
      code_ttl_s: z.number().int().min(10).max(3600).default(300),
    }),
  configSchemas,
);

export const LogSection = lazySchema(
  () =>
    z.strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** json: one JSON object a line; pretty: readable lines; auto: pretty when stderr is a terminal */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    }),
  configSchemas,
);

export const ConfigSchema = lazySchema(
  () =>
    z.strictObject({
      node: NodeSection.prefault({}),
      mesh: MeshSection.prefault({}),
      discovery: DiscoverySection.prefault({}),
      bus: BusSection.prefault({}),
      membership: MembershipSection.prefault({}),
      join: JoinSection.prefault({}),
      capabilities: CapabilitiesSection.prefault({}),
      agents: AgentsSection.prefault({}),
      registry: RegistrySection.prefault({}),
      mqtt: MqttSection.prefault({}),
      lights: LightsSection.prefault({}),
      voice: VoiceSection.prefault({}),
      stt: SttSection.prefault({}),
      router: RouterSection.prefault({}),
      dashboard: DashboardSection.prefault({}),
      log: LogSection.prefault({}),
    }),
  configSchemas,
);

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
