/**
 * Structured logging (pino). Info for state changes, debug for traffic; never audio or secrets.
 * Logs go to stderr so stdout stays clean for command output and --json.
 */
import { pino, destination, type Logger } from 'pino';

export type { Logger };

/** `scheme://user:password@` inside any text: the credentials part of a URL. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;

/**
 * Text with the credentials of every URL in it replaced by `***` ("mqtt://***@broker:1883"), so
 * a broker or Home Assistant URL with a password never reaches a log line, a trace, `status` or
 * an agent. Pure; cheap when there is no "://" in the text.
 */
export function redactCredentials(text: string): string {
  return text.includes('://') ? text.replace(URL_CREDENTIALS, '$1***@') : text;
}

export function createLogger(
  level: string = process.env.HELIX_LOG_LEVEL ?? 'info',
  bindings: Record<string, unknown> = {},
): Logger {
  return pino(
    {
      level,
      base: bindings,
      redact: ['secret', 'meshSecret', '*.secret', '*.meshSecret'],
      // Keys can be redacted by path; a URL's password can sit in any string (an error message,
      // a peer's answer), so each finished line is checked once before it is written.
      hooks: { streamWrite: redactCredentials },
    },
    destination(2),
  );
}

/** A logger that drops everything (tests, pure modules' defaults). */
export const silentLogger: Logger = pino({ level: 'silent' });
