/**
 * The layering of node/ (docs/architecture.md), checked by `npm run lint` (depcruise node).
 *
 * A module is a folder of node/ (or one of the foundation files at node/'s top). A module may
 * import modules of LOWER layers only: never one above it, never another module of its own layer.
 * That makes every arrow point down and rules out cycles between modules; `no-circular` also
 * rules them out between files. Pure modules import no I/O library and no node:fs/net/child_process.
 */
const LAYERS = [
  // 0: foundation shared by everything
  ['types', 'errors', 'async', 'order', 'log', 'version', 'platform', 'http-json'],
  // 1: what one device is (config, identity), pure domain logic, the components' lifecycle
  ['config', 'identity', 'agentspec', 'placement', 'lifecycle'],
  // 2: one outside system each (files, CLI tools, processes, sockets)
  ['capabilities', 'discovery', 'bus', 'rpc', 'voice', 'home', 'heap'],
  // 3: services over one edge each
  ['membership', 'settings', 'join', 'agents', 'stt', 'router', 'tts', 'registry', 'v8-tier'],
  // 4: gRPC services that compose them
  ['agenthost', 'transcribe', 'models', 'removal'],
  // 5: the voice pipeline: utterance -> transcript -> intent -> run -> reply
  ['pipeline'],
  // 6: the control socket (API the CLI and the dashboard use)
  ['control'],
  // 6.5: the web dashboard, over control's routes
  ['dashboard'],
  // 7: the daemon wires the components
  ['daemon'],
  // 8: the command line, thin over control
  ['cli'],
];

/** Files that hold pure logic: no I/O library, no node:fs/net/child_process. */
const PURE = [
  '^node/(types|errors|async|order|lifecycle|platform)\\.ts$',
  '^node/agentspec/',
  '^node/placement/',
  '^node/registry/oci\\.ts$',
  '^node/agents/egress-policy\\.ts$',
  '^node/config/schema\\.ts$',
  '^node/membership/view\\.ts$',
  '^node/removal/record\\.ts$',
  '^node/bus/(route-manager|route-repair|unheard)\\.ts$',
  '^node/pipeline/arbitration\\.ts$',
  '^node/settings/(clock|merge|schema|errors|overlay|names)\\.ts$',
  '^node/home/(model|combine|house|switch|zigbee2mqtt/(parse|schema)|home-assistant/(model|protocol))\\.ts$',
];

const IO_CORE =
  '^(node:)?(fs|fs/promises|net|dgram|child_process|http|https|http2|tls|worker_threads|cluster)$';
const IO_LIBS =
  '^node_modules/(dockerode|docker-modem|mqtt|@grpc/|@nats-io/|multicast-dns|smart-whisper|pino|tar-stream|@libp2p/(mdns|tcp))';

const modulePath = (name) => `^node/(${name}/|${name}\\.ts$)`;

const layerRules = LAYERS.flatMap((layer, i) =>
  layer.map((name) => {
    const notBelow = LAYERS.slice(i)
      .flat()
      .filter((other) => other !== name);
    return {
      name: `layer-${name}`,
      comment: `${name} (layer ${i}) imports only modules of lower layers: not ${notBelow.join(', ')}`,
      severity: 'error',
      from: { path: modulePath(name) },
      to: { path: `^node/(${notBelow.join('|')})(/|\\.ts$)` },
    };
  }),
);

const known = LAYERS.flat().join('|');

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'module-in-a-layer',
      comment:
        'every folder of node/ has a layer in .dependency-cruiser.cjs and docs/architecture.md',
      severity: 'error',
      from: { path: '^node/', pathNot: [`^node/(${known})(/|\\.ts$)`, '^node/rpc/gen/'] },
      to: {},
    },
    {
      name: 'pure-no-io',
      comment:
        'pure modules are tested without servers: no I/O library, no node:fs/net/child_process',
      severity: 'error',
      from: { path: PURE },
      to: { path: [IO_CORE, IO_LIBS] },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles between files',
      severity: 'error',
      from: { path: '^node/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^node/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^node/rpc/gen/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
  },
};
