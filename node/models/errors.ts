/** What can go wrong with model files, each saying what to do. */
import { InputError, UnreachableError, UsageError } from '../errors.js';

/** A name `helix-node models` does not know. */
export class UnknownModelError extends UsageError {
  constructor(name: string, known: string) {
    super(`unknown model ${JSON.stringify(name)}; known models: ${known}`);
  }
}

/** A model file whose size or checksum is not the published one. */
export class ModelChecksumError extends InputError {
  constructor(
    readonly file: string,
    readonly problem: string,
    fix: string,
  ) {
    super(`${file} failed verification (${problem}); ${fix}`);
  }
}

/** The model host cannot be reached: no internet, DNS down, a firewall. */
export class ModelHostUnreachableError extends UnreachableError {}

/** The model host answered, but not with the file (HTTP error, cut-off transfer, stall). */
export class ModelDownloadError extends UnreachableError {}
