/** Errors of the agent host and its services; each says what went wrong and what to do. */
import { HelixError } from '../errors.js';

/** An image could not be moved between peers (exit 69, EX_UNAVAILABLE). Nothing was loaded. */
export class ImageTransferError extends HelixError {
  override readonly exitCode = 69;
}

/** This node lacks an agent's image and can neither fetch nor build it (exit 69). */
export class ImageUnavailableError extends HelixError {
  override readonly exitCode = 69;
}

/** The command names an agent or intent this node does not have (exit 64, EX_USAGE). */
export class UnknownAgentError extends HelixError {
  override readonly exitCode = 64;
}

/** An agent's image is in use by running containers and cannot be removed now (exit 75, EX_TEMPFAIL). */
export class ImageInUseError extends HelixError {
  override readonly exitCode = 75;
}

/**
 * This node lacks an agent's image and building it failed because its source does not compile
 * (exit 70, EX_SOFTWARE): the message carries the compiler's; no other node would do better.
 */
export class AgentBuildFailedError extends HelixError {
  override readonly exitCode = 70;
}
