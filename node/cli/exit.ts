/**
 * Leaving the CLI without losing output. process.exit() ends the process at once; what is still
 * queued for stdout or stderr is lost. Through a pipe (`helix-node --json run … | jq`) only what
 * fits the pipe's buffer (64 KiB on Linux) gets out, so a large result arrives cut short as
 * invalid JSON. Every exit of the CLI goes through exitWhenDrained instead.
 */

type Out = Pick<NodeJS.WriteStream, 'write' | 'once' | 'off' | 'writableLength'> & {
  destroyed?: boolean;
  writableFinished?: boolean;
};

/**
 * Resolves once everything written to `stream` so far has been handed to the OS (or the stream
 * failed or closed: a reader that went away, EPIPE, cannot be waited for).
 */
export function drained(stream: Out): Promise<void> {
  if (stream.destroyed || stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('error', done);
    stream.once('close', done);
    // Writes complete in order: the callback of an empty write runs after every earlier one.
    try {
      stream.write('', () => done());
    } catch {
      done();
    }
  });
}

/** Wait for stdout and stderr to drain, then exit with `code`. */
export async function exitWhenDrained(
  code: number,
  streams: readonly Out[] = [process.stdout, process.stderr],
): Promise<never> {
  process.exitCode = code;
  await Promise.all(streams.map(drained));
  process.exit(code);
}
