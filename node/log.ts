/**
 * Structured logging (pino). Info for state changes, debug for traffic; never audio or secrets.
 * Logs go to stderr so stdout stays clean for command output and --json.
 */
import { pino, destination, type Logger } from 'pino';

export type { Logger };

export function createLogger(
  level: string = process.env.HELIX_LOG_LEVEL ?? 'info',
  bindings: Record<string, unknown> = {},
): Logger {
  return pino(
    { level, base: bindings, redact: ['secret', 'meshSecret', '*.secret', '*.meshSecret'] },
    destination(2),
  );
}

/** A logger that drops everything (tests, pure modules' defaults). */
export const silentLogger: Logger = pino({ level: 'silent' });
