/**
 * Structured logging (pino). Info for state changes, debug for traffic; never audio or secrets.
 * Logs go to stderr so stdout stays clean for command output and --json: JSON lines by default,
 * or through another stream (`helix-node join` on a terminal passes cli/log-pretty.ts's).
 */
import { pino, destination, type DestinationStream, type Logger } from 'pino';

export type { DestinationStream, Logger };

/** How log lines are written: JSON objects, readable lines, or readable on a terminal only. */
export type LogFormat = 'auto' | 'json' | 'pretty';

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

/**
 * A value with every string inside it (arrays and plain objects too) passed through
 * `redactCredentials`: what an agent's context gets of a helix.toml value.
 */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redactCredentials(value) as T;
  if (Array.isArray(value)) return value.map(redactValue) as T;
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v)])) as T;
  return value;
}

export function createLogger(
  level: string = process.env.HELIX_LOG_LEVEL ?? 'info',
  bindings: Record<string, unknown> = {},
  stream: DestinationStream = destination(2),
): Logger {
  return pino(
    {
      level,
      base: bindings,
      redact: ['secret', 'meshSecret', '*.secret', '*.meshSecret'],
      // Keys can be redacted by path; a URL's password can sit in any string (an error message,
      // a peer's answer), so each finished line is checked once before it is written: before
      // any stream, so a readable (pretty) stream gets it already redacted too.
      hooks: { streamWrite: redactCredentials },
    },
    stream,
  );
}

/** A logger that drops everything (tests, pure modules' defaults). */
export const silentLogger: Logger = pino({ level: 'silent' });
