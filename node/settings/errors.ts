/** Errors of the settings module; each says what to do. */
import { UsageError } from '../errors.js';

/** A value that a known setting does not allow (the value shown is redacted for secrets). */
export class InvalidSettingError extends UsageError {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
    options?: ErrorOptions,
  ) {
    super(`setting ${key} = ${show(value)} is invalid; allowed: ${allowed}`, options);
  }
}

/** A key this version does not know. */
export class UnknownSettingError extends UsageError {
  constructor(
    readonly key: string,
    readonly known: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`unknown setting ${JSON.stringify(key)}; the settings are: ${known.join(', ')}`, options);
  }
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
