/** Errors of the agent host; each says what went wrong and what to do. */
import { HelixError } from '../errors.js';

/** An image could not be moved between peers (exit 69, EX_UNAVAILABLE). Nothing was loaded. */
export class ImageTransferError extends HelixError {
  override readonly exitCode = 69;
}

/** This node lacks an agent's image and can neither fetch nor build it (exit 69). */
export class ImageUnavailableError extends HelixError {
  override readonly exitCode = 69;
}
