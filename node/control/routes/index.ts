/**
 * The daemon's control routes, one file per service: what `helix-node agents|run` (agents.ts) and
 * `helix-node say|transcribe|listen|trace|models pull --router` (voice.ts) and `helix-node
 * settings|rooms|node room` (settings.ts) call on the socket.
 * Imported by the daemon only: the CLI needs control's client (control/index.ts), not the services.
 */
export { addAgentRoutes } from './agents.js';
export {
  addNodeRoutes,
  addSettingsRoutes,
  type NodeRenamed,
  type SettingDeleted,
  type SettingValue,
  type SettingsList,
} from './settings.js';
export {
  registerVoiceControlRoutes,
  type CommandResultLine,
  type CommandStreamLine,
} from './voice.js';
export { addEventRoutes, type DoctorReport, type EventSources, type LiveEvent } from './events.js';
