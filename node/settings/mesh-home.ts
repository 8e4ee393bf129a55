/**
 * The house, wired to the mesh settings on one node:
 * - the settings (with helix.toml's [mqtt] as the fallback) say which lights backends to run and
 *   where; the HomeService runs them;
 * - what a backend finds is written to `home.found.<backend>` when it differs from what the mesh
 *   holds, so every node (including one that cannot reach the broker, or joins later) resolves
 *   the same house, and it survives restarts;
 * - `house()` and `overlay()` give the resolved house and the config tree agents and the voice
 *   vocabulary read, cached until the settings change;
 * - `switchLights` is the host's home.call_service.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  createLightSwitch,
  HomeService,
  type BackendName,
  type FoundHome,
  type HomeSources,
  type HomeStatus,
  type House,
  type SwitchOutcome,
} from '../home/index.js';
import { houseOf, overlayMeshSettings } from './overlay.js';
import type { MeshSettings } from './schema.js';
import type { SettingsStore } from './store.js';
import { compareText } from '../order.js';

/** helix.toml's part: the broker when the mesh settings name none. */
export interface LocalMqttConfig {
  url: string;
  username?: string;
  password?: string;
  base_topic: string;
}

export interface MeshHomeOptions {
  store: SettingsStore;
  mqtt: LocalMqttConfig;
  log: Logger;
  /** for tests: backends retry faster */
  retryMs?: number;
  connectTimeoutMs?: number;
}

const FOUND_KEY: Record<BackendName, string> = {
  zigbee2mqtt: 'home.found.zigbee2mqtt',
  'home-assistant': 'home.found.home_assistant',
};

/** Where the backends read from, as the settings (then helix.toml) say. Pure. */
export function homeSources(s: MeshSettings, local: LocalMqttConfig): HomeSources {
  const url = s.mqtt.url ?? local.url;
  return {
    backend: s.lights.backend,
    mqtt: url
      ? {
          url,
          ...((s.mqtt.username ?? local.username) && {
            username: s.mqtt.username ?? local.username,
          }),
          ...((s.mqtt.password ?? local.password) && {
            password: s.mqtt.password ?? local.password,
          }),
          baseTopic: s.mqtt.baseTopic ?? local.base_topic,
        }
      : null,
    homeAssistant:
      s.homeAssistant.url && s.homeAssistant.token
        ? { url: s.homeAssistant.url, token: s.homeAssistant.token }
        : null,
  };
}

/** JSON with object keys sorted: two equal values give one string whatever their key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => compareText(a, b)))
      : x,
  );
}

/** The settings as last read, the house resolved from them, and config trees overlaid with it. */
interface HouseCache {
  settings: MeshSettings;
  house: House;
  trees: WeakMap<object, object>;
}

export class MeshHome {
  readonly service: HomeService;
  #cache: HouseCache | null = null;
  #unsubscribe: (() => void) | null = null;
  readonly #switch: ReturnType<typeof createLightSwitch>;

  constructor(private readonly opts: MeshHomeOptions) {
    this.service = new HomeService({
      log: opts.log,
      onFound: (backend, found) => this.#found(backend, found),
      retryMs: opts.retryMs,
      connectTimeoutMs: opts.connectTimeoutMs,
    });
    this.#switch = createLightSwitch({
      house: () => this.house(),
      baseTopic: () => homeSources(this.#settings(), opts.mqtt).mqtt?.baseTopic ?? 'zigbee2mqtt',
      publish: (topic, payload) => this.service.publish(topic, payload),
      homeAssistant: () => this.service.homeAssistant(),
    });
  }

  start(): void {
    this.#unsubscribe = this.opts.store.onChange(() => {
      this.#cache = null;
      this.service.configure(homeSources(this.#settings(), this.opts.mqtt));
    });
    this.service.configure(homeSources(this.#settings(), this.opts.mqtt));
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    await this.service.stop();
  }

  house(): House {
    return this.#current().house;
  }

  /** `config` with the house laid over it (overlay.ts); the same object until settings change. */
  overlay<T extends object>(config: T): T {
    const c = this.#current();
    let tree = c.trees.get(config) as T | undefined;
    if (!tree) {
      tree = overlayMeshSettings(config, c.settings, c.house);
      c.trees.set(config, tree);
    }
    return tree;
  }

  status(): HomeStatus {
    return this.service.status();
  }

  switchLights(req: {
    lights: readonly string[];
    command: { on: boolean; brightnessPct?: number };
    signal?: AbortSignal;
  }): Promise<SwitchOutcome> {
    return this.#switch(req);
  }

  #settings(): MeshSettings {
    return this.#cache?.settings ?? this.opts.store.settings();
  }

  #current(): HouseCache {
    if (!this.#cache) {
      const settings = this.opts.store.settings();
      this.#cache = { settings, house: houseOf(settings), trees: new WeakMap() };
    }
    return this.#cache;
  }

  #found(backend: BackendName, found: FoundHome): void {
    const key = FOUND_KEY[backend];
    const held = this.opts.store.get(key);
    if (held !== undefined && canonical(held) === canonical(found)) return;
    try {
      this.opts.store.set(key, found as never);
      this.opts.log.info(
        { backend, rooms: found.rooms.length, lights: found.lights.length },
        'home: found rooms and lights written to the mesh settings',
      );
    } catch (err) {
      this.opts.log.warn(
        { backend, err: describeError(err) },
        'home: could not keep what the backend found in the mesh settings',
      );
    }
  }
}
