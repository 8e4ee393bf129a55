export {
  ControlServer,
  controlSocketPath,
  STREAM_LIMITS,
  type StreamLimits,
  type ControlHandler,
  type ControlResponse,
} from './server.js';
export {
  controlCall,
  controlStream,
  controlEvents,
  RemoteError,
  type ControlCallOptions,
} from './client.js';
export { parseBody, clientGone, type StreamLine, type ErrorLine } from './envelope.js';
export type { StatusReport } from './types.js';
export { statusReport, type StatusInputs } from './status.js';
// the wire shape of the voice commands' streams, for the CLI (types only: no service is loaded)
export type { CommandResultLine, CommandStreamLine } from './routes/voice.js';
export type {
  HomeLightView,
  HomeReport,
  NodeRenamed,
  SettingDeleted,
  SettingValue,
  SettingsList,
} from './routes/settings.js';
