/**
 * The mesh test harness: N nodes in network namespaces with a stand-in tailscale. Tests and
 * benchmarks import from here.
 */
export {
  helixNodeCommand,
  helixNodeCommandWith,
  runsBundle,
  MeshHarness,
  NO_DOCKER_SOCKET,
  cliEntry,
  REPO_ROOT,
  type MeshCommand,
  type MeshHarnessOptions,
  type MeshNodeInfo,
  type MeshNodeSpec,
  type SignalScope,
} from './mesh.js';
export { parseStatus, StatusViewSchema, type PeerState, type StatusView } from './status-view.js';
export { FatalWaitError, NodeExitedError, waitFor, type WaitOptions } from '../support/wait.js';
export {
  IP_BIN,
  killGroup,
  listHxtNamespaces,
  MAX_NODES,
  NETNS_PREFIX,
  NetnsLab,
  sweepStale,
  type ExecOptions,
  type LabNode,
  type NetnsLabOptions,
  type RunResult,
} from './netns.js';
export {
  DEFAULT_USER,
  FAKE_TAILSCALE,
  nodeKeyFor,
  type BackendState,
  type FakeTailnetNode,
  type FakeTailnetWorld,
  type TailnetUser,
} from './tailnet.js';
export { natsServerCommand, TOY_NODE, toyNodeCommand } from './toy.js';
// useMeshHarness lives in ./vitest.js (it imports vitest, which benchmarks must not load).
