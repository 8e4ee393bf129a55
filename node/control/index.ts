export {
  ControlServer,
  controlSocketPath,
  type ControlHandler,
  type ControlResponse,
} from './server.js';
export { controlCall, controlStream, RemoteError, type ControlCallOptions } from './client.js';
export type { StatusReport } from './types.js';
export { statusReport, type StatusInputs } from './status.js';
