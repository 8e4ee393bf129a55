import { HelixError } from '../errors.js';

/** The local nats-server failed: would not start, exited, or rejected a reload (exit 69). */
export class NatsServerError extends HelixError {
  override readonly exitCode = 69;
  constructor(
    message: string,
    /** the child's last log lines, oldest first */
    readonly logTail: string[] = [],
    options?: ErrorOptions,
  ) {
    super(
      logTail.length > 0 ? `${message}\nnats-server said:\n  ${logTail.join('\n  ')}` : message,
      options,
    );
  }
}
