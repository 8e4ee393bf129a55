/** Errors of the agents module; each says what to do (the CLI maps exitCode to the exit status). */
import { HelixError } from '../errors.js';

/** `go build` or the Docker image build failed (exit 70, EX_SOFTWARE). */
export class ImageBuildError extends HelixError {
  override readonly exitCode = 70;
  constructor(
    readonly agent: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`building agent ${agent} failed: ${message}`, options);
  }
}

/**
 * `go build` refused the agent's source (a syntax or type error): the same source fails on every
 * node, so there is nothing to try elsewhere. The message carries the compiler's.
 */
export class AgentCompileError extends ImageBuildError {}

/** The engine keeps an image because a container uses it (exit 75, EX_TEMPFAIL: try again later). */
export class ImageBusyError extends HelixError {
  override readonly exitCode = 75;
}

/**
 * An image of another platform than the node runs agents as: never started (exit 70). The
 * message says which two platforms.
 */
export class ImagePlatformError extends HelixError {
  override readonly exitCode = 70;
}
