/**
 * Readable log lines on a terminal, through pino-pretty (DESIGN.md: "pretty logs: pino-pretty when
 * stdout is a TTY"). pino-pretty parses each JSON line pino writes (after the logger's credential
 * redaction) and filters it; log-format.ts shapes the whole line, with this CLI's own colours and
 * every string made safe, so pino-pretty's own colouring and object dumps stay off. Imported only
 * when `join` logs to a terminal (run-daemon.ts), so a JSON start-up never loads pino-pretty.
 */
import { destination, type DestinationStream } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { formatLogLine, type LogRecord } from './log-format.js';

export function prettyLogStream(opts: {
  color: boolean;
  /** debug or trace: every field follows the message as key=value */
  verbose: boolean;
  /** where lines go; default stderr, as the JSON lines do */
  to?: DestinationStream;
}): DestinationStream {
  const prettify = prettyFactory({
    colorize: false,
    hideObject: true,
    // The whole line is log-format.ts's: pino-pretty's "[time] LEVEL (name/pid on host):" prefix
    // is dropped (these keys are removed after the message is made from the whole record).
    ignore: 'time,level,name,pid,hostname,caller',
    messageFormat: (log) => formatLogLine(log as LogRecord, opts),
  });
  const out = opts.to ?? destination(2);
  return {
    write(line: string) {
      const pretty = prettify(line);
      if (pretty) out.write(pretty);
    },
  };
}
