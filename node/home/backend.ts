/** The interface every source of lights implements, and a small change-listener helper. */
import type { BackendName, FoundHome, Home, LightCommand } from './model.js';

export interface LightsBackend {
  readonly name: BackendName | 'combined';
  /** Connects and begins reading; resolves once connected (the home may still be empty). */
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  /** The home as last read; never partially updated. */
  home(): Home;
  /**
   * The home with each light's address, once a whole read is in (zigbee2mqtt: both retained
   * bridge topics; Home Assistant: the registries); null before. What the mesh replicates.
   */
  found(): FoundHome | null;
  /** Called with the new home whenever rooms or lights change; returns an unsubscribe. */
  onChange(listener: (home: Home) => void): () => void;
  /** Switch a light by its backend-qualified id; brightness only reaches lights that dim. */
  set(lightId: string, command: LightCommand, opts?: { signal?: AbortSignal }): Promise<void>;
}

/** A set of listeners where one throwing does not stop the others. */
export class Listeners<T> {
  private readonly listeners = new Set<(value: T) => void>();
  constructor(private readonly onError: (err: unknown) => void) {}
  add(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(value: T): void {
    for (const listener of this.listeners) {
      try {
        listener(value);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
