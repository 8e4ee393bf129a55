/** The bus: this node's supervised nats-server and its NATS connection (core NATS only). */
export type { Bus, BusMessage, NatsCredentials, Subscription } from './types.js';
export {
  renderNatsConfig,
  normalizeRoutes,
  routeUrl,
  NATS_PING_INTERVAL,
  NATS_PING_MAX,
  NATS_WRITE_DEADLINE,
  type NatsConfigOptions,
  type ClusterTlsFiles,
  type RouteTarget,
} from './natsConfig.js';
export {
  NatsSupervisor,
  findExecutable,
  type NatsSupervisorOptions,
  type NatsSupervisorEvent,
  type NatsSupervisorState,
} from './supervisor.js';
export {
  NatsRoutezSchema,
  NatsVarzSchema,
  routedServers,
  type NatsRoute,
  type NatsRoutez,
  type NatsVarz,
} from './monitor.js';
export { connectBus, type ConnectBusOptions } from './connection.js';
export { NatsServerError } from './errors.js';
export {
  RouteManager,
  routeTargets,
  type RouteManagerOptions,
  type RouteServer,
  type CandidateSource,
} from './route-manager.js';
export { RouteRepair } from './route-repair.js';
