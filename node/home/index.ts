/**
 * The home module: rooms and lights from zigbee2mqtt and Home Assistant (docs/home.md).
 * Other modules import only this file.
 */
export type { BackendName, Home, Light, LightCommand, LightFeatures, Room } from './model.js';
export { emptyHome, lightsIn, nameKey, sameHome, spokenName } from './model.js';
export type { LightsBackend } from './backend.js';
export { combineBackends, combineHomes } from './combine.js';
export {
  BackendStoppedError,
  HomeAssistantAuthError,
  HomeAssistantCommandError,
  HomeConnectionError,
  UnknownLightError,
} from './errors.js';
export { createZigbee2mqttBackend, type Zigbee2mqttOptions } from './zigbee2mqtt/backend.js';
export type { MqttTransport, MqttTransportOptions } from './zigbee2mqtt/mqtt-transport.js';
export {
  applyBridgeUpdate,
  emptyBridgeState,
  homeFromBridge,
  parseBridgeMessage,
  type BridgeState,
} from './zigbee2mqtt/parse.js';
export {
  createHomeAssistantBackend,
  type HomeAssistantBackendOptions,
} from './home-assistant/backend.js';
export {
  createHomeAssistantClient,
  websocketUrl,
  type HomeAssistantClientOptions,
  type HomeAssistantConnection,
} from './home-assistant/client.js';
export { homeFromRegistries, type Registries } from './home-assistant/model.js';
export {
  FoundHomeSchema,
  agentView,
  emptyHouse,
  resolveHouse,
  roomLights,
  typedLightId,
  type BackendChoice,
  type FoundHome,
  type FoundLight,
  type House,
  type HouseInput,
  type HouseRoom,
  type LightAddress,
  type UserRoom,
} from './house.js';
export { createLightSwitch, type LightSwitchDeps, type SwitchOutcome } from './switch.js';
export {
  HomeService,
  type BackendStatus,
  type HomeServiceOptions,
  type HomeSources,
  type HomeStatus,
} from './service.js';
