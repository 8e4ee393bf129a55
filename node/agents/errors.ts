/** Errors of the agents module; each says what to do (the CLI maps exitCode to the exit status). */
import { HelixError } from '../errors.js';

/** An agent.toml (or the folder around it) is invalid (exit 65, EX_DATAERR). */
export class ManifestError extends HelixError {
  override readonly exitCode = 65;
}

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
