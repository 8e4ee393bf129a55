/**
 * The settings component as the daemon wires it: the store (loaded first) and its replication
 * over the bus, with one lifecycle. start() loads the file then joins the exchange; stop() leaves
 * the exchange then saves anything pending.
 */
import type { Bus } from '../bus/index.js';
import type { Logger } from '../log.js';
import { SettingsReplicator } from './replicator.js';
import { SettingsStore } from './store.js';

export interface SettingsServiceOptions {
  stateDir: string;
  selfId: string;
  meshId: string;
  /** the mesh secret; messages are signed with deriveKey(secret, 'settings') */
  secret: Uint8Array;
  bus: Bus;
  logger: Logger;
  /** wall clock in ms (default Date.now) */
  clock?: () => number;
  digestIntervalMs?: number;
  maxMessageBytes?: number;
}

export class SettingsService {
  readonly store: SettingsStore;
  readonly replicator: SettingsReplicator;

  constructor(options: SettingsServiceOptions) {
    const { stateDir, selfId, logger, clock } = options;
    this.store = new SettingsStore({ stateDir, selfId, logger, clock });
    this.replicator = new SettingsReplicator({
      bus: options.bus,
      store: this.store,
      meshId: options.meshId,
      secret: options.secret,
      logger,
      digestIntervalMs: options.digestIntervalMs,
      maxMessageBytes: options.maxMessageBytes,
    });
  }

  async start(signal?: AbortSignal): Promise<void> {
    await this.store.start(signal);
    try {
      await this.replicator.start(signal);
    } catch (err) {
      await this.store.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.replicator.stop();
    await this.store.stop();
  }
}
