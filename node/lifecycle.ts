/**
 * One lifecycle for everything the daemon starts (js-libp2p's `Startable`): start with an
 * AbortSignal, stop in reverse order. Nothing starts itself on import; the daemon only lists
 * components, and `ComponentStack` starts and stops them.
 */
import { describeError } from './errors.js';

export interface Component {
  /** for logs ("nats-server", "membership") */
  readonly name: string;
  /** Resolves once the component serves; the signal aborts a start that waits (Ctrl-C). */
  start(signal: AbortSignal): Promise<void>;
  /** Idempotent; never called for a component whose start() failed. */
  stop(): Promise<void>;
}

export interface ComponentStackOptions {
  /** a stop() that failed: the others still stop (default: ignored) */
  onStopError?: (name: string, err: unknown) => void;
}

/**
 * Starts components in order and stops them in reverse. A component that fails to start stops
 * those already started (in reverse), then its error propagates.
 */
export class ComponentStack {
  private readonly started: Component[] = [];

  constructor(private readonly opts: ComponentStackOptions = {}) {}

  /** Names of the components running now, in start order. */
  get running(): string[] {
    return this.started.map((c) => c.name);
  }

  async start(components: Iterable<Component>, signal: AbortSignal): Promise<void> {
    try {
      for (const component of components) {
        signal.throwIfAborted();
        await component.start(signal);
        this.started.push(component);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    for (let c = this.started.pop(); c; c = this.started.pop()) {
      try {
        await c.stop();
      } catch (err) {
        this.opts.onStopError?.(c.name, err);
      }
    }
  }
}

/** A component from two closures (the daemon's steps are mostly a line or two each). */
export function component(
  name: string,
  start: (signal: AbortSignal) => Promise<void> | void,
  stop: () => Promise<void> | void = () => undefined,
): Component {
  return {
    name,
    start: async (signal) => {
      await start(signal);
    },
    stop: async () => {
      await stop();
    },
  };
}

/** describeError for stop failures, so callers log one line per component. */
export function stopErrorLogger(warn: (fields: object, msg: string) => void) {
  return (name: string, err: unknown) =>
    warn({ component: name, err: describeError(err) }, 'stop failed');
}
