/** Errors of the agent services; each says what to do (the CLI maps exitCode to the exit status). */
import { HelixError } from '../errors.js';

/** The command names an agent or intent this node does not have (exit 64, EX_USAGE). */
export class UnknownAgentError extends HelixError {
  override readonly exitCode = 64;
}

/** An agent's image is in use by running containers and cannot be removed now (exit 75, EX_TEMPFAIL). */
export class ImageInUseError extends HelixError {
  override readonly exitCode = 75;
}
