/** Errors of the home module; each says what failed and what to do. */
import { HelixError, MeshAccessError, UnreachableError } from '../errors.js';

/** A light id that the backend does not know (never existed, or removed since). */
export class UnknownLightError extends HelixError {
  override readonly exitCode = 65;
  constructor(
    readonly lightId: string,
    readonly known: string[],
    options?: ErrorOptions,
  ) {
    super(
      `no light ${lightId}${known.length ? `; the lights are ${known.join(', ')}` : '; no lights are known'} (it may have been removed or renamed in the backend)`,
      options,
    );
  }
}

/** Home Assistant refused the access token. Not retried: a token does not heal itself. */
export class HomeAssistantAuthError extends MeshAccessError {
  constructor(url: string, haMessage: string, options?: ErrorOptions) {
    super(
      `Home Assistant at ${url} refused the access token (${haMessage}); make a long-lived access token in your Home Assistant profile (Profile > Security > Long-lived access tokens) and set it as the home_assistant token`,
      options,
    );
  }
}

/** Home Assistant (or the MQTT broker) cannot be reached or dropped the connection. */
export class HomeConnectionError extends UnreachableError {}

/** Home Assistant answered a command with success: false. */
export class HomeAssistantCommandError extends HelixError {
  constructor(
    readonly command: string,
    readonly code: string,
    haMessage: string,
    options?: ErrorOptions,
  ) {
    super(`Home Assistant refused ${command}: ${code}: ${haMessage}`, options);
  }
}

/** A backend method was used before start() or after stop(). */
export class BackendStoppedError extends HelixError {}
