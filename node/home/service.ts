/**
 * The home on one node: runs the lights backends the mesh settings choose (zigbee2mqtt on the
 * broker, Home Assistant on its websocket), hands what they find to `onFound` (the daemon writes
 * it to the mesh settings, so every node resolves the same house), and lends its connections to
 * the host's light switch. A backend that cannot connect is retried with backoff and logged once;
 * a refused Home Assistant token is not retried until the settings change.
 */
import { describeError } from '../errors.js';
import { redactCredentials, type Logger } from '../log.js';
import type { LightsBackend } from './backend.js';
import { HomeAssistantAuthError, HomeConnectionError } from './errors.js';
import type { BackendChoice, FoundHome } from './house.js';
import type { BackendName } from './model.js';
import { createHomeAssistantBackend } from './home-assistant/backend.js';
import { createZigbee2mqttBackend } from './zigbee2mqtt/backend.js';
import { connectMqtt, type MqttTransport } from './zigbee2mqtt/mqtt-transport.js';

/** Where the house is read from: what the settings (and helix.toml) say now. */
export interface HomeSources {
  backend: BackendChoice;
  mqtt: { url: string; username?: string; password?: string; baseTopic: string } | null;
  homeAssistant: { url: string; token: string } | null;
}

export type BackendState = 'off' | 'connecting' | 'connected' | 'failed';

export interface BackendStatus {
  state: BackendState;
  /** broker or Home Assistant address, without credentials */
  address?: string;
  /** why it is not connected, with what to do */
  error?: string;
  rooms?: number;
  lights?: number;
}

export interface HomeStatus {
  zigbee2mqtt: BackendStatus;
  homeAssistant: BackendStatus;
}

export interface HomeServiceOptions {
  log: Logger;
  /** a backend read the whole home (again); called on every change */
  onFound: (backend: BackendName, found: FoundHome) => void;
  /** first retry delay after a failed connect; doubles up to 30 s */
  retryMs?: number;
  connectTimeoutMs?: number;
}

interface Running {
  key: string;
  /** the current attempt's backend; null until the first attempt is made */
  backend: LightsBackend | null;
  status: BackendStatus;
  /** set when stopped or replaced: the retry loop ends */
  abort: AbortController;
  transport?: MqttTransport;
}

export class HomeService {
  private z2m: Running | null = null;
  private ha: Running | null = null;
  private stopped = false;

  constructor(private readonly opts: HomeServiceOptions) {}

  /** Start, stop or restart backends so they match `sources`; cheap when nothing changed. */
  configure(sources: HomeSources): void {
    if (this.stopped) return;
    const wantZ2m = sources.backend !== 'home_assistant' && sources.mqtt !== null;
    const wantHa = sources.backend !== 'zigbee2mqtt' && sources.homeAssistant !== null;
    const z2mKey = wantZ2m ? JSON.stringify(sources.mqtt) : '';
    const haKey = wantHa ? JSON.stringify(sources.homeAssistant) : '';
    if ((this.z2m?.key ?? '') !== z2mKey) {
      void this.replace('zigbee2mqtt', null);
      if (wantZ2m) this.z2m = this.launchZigbee2mqtt(z2mKey, sources.mqtt!);
    }
    if ((this.ha?.key ?? '') !== haKey) {
      void this.replace('home-assistant', null);
      if (wantHa) this.ha = this.launchHomeAssistant(haKey, sources.homeAssistant!);
    }
  }

  /** This node's Home Assistant backend when connected (for switching lights), else null. */
  homeAssistant(): LightsBackend | null {
    return this.ha?.status.state === 'connected' ? this.ha.backend : null;
  }

  /** Publish a zigbee2mqtt `/set` message on this node's broker connection. */
  async publish(topic: string, payload: Record<string, unknown>): Promise<void> {
    const r = this.z2m;
    if (!r?.transport || !r.transport.connected) {
      throw new HomeConnectionError(
        r
          ? `the MQTT broker at ${r.status.address} is not reachable (${r.status.error ?? 'connecting'}); check it runs, or set its address with \`helix-node settings set mqtt.url mqtt://HOST:1883\``
          : 'no MQTT broker is set up for zigbee2mqtt on this node; set one with `helix-node settings set mqtt.url mqtt://HOST:1883` (and lights.backend to zigbee2mqtt or both)',
      );
    }
    await r.transport.publish(topic, JSON.stringify(payload));
  }

  status(): HomeStatus {
    const view = (r: Running | null): BackendStatus => {
      if (!r) return { state: 'off' };
      const home = r.backend?.home();
      return home
        ? { ...r.status, rooms: home.rooms.length, lights: home.lights.length }
        : r.status;
    };
    return { zigbee2mqtt: view(this.z2m), homeAssistant: view(this.ha) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.replace('zigbee2mqtt', null), this.replace('home-assistant', null)]);
  }

  private async replace(which: BackendName, next: Running | null): Promise<void> {
    const old = which === 'zigbee2mqtt' ? this.z2m : this.ha;
    if (which === 'zigbee2mqtt') this.z2m = next;
    else this.ha = next;
    if (!old) return;
    old.abort.abort();
    await old.backend
      ?.stop()
      .catch((err: unknown) =>
        this.opts.log.debug({ backend: which, err: describeError(err) }, 'home: stop failed'),
      );
  }

  private launchZigbee2mqtt(key: string, mqtt: NonNullable<HomeSources['mqtt']>): Running {
    const log = this.opts.log;
    const running: Running = {
      key,
      abort: new AbortController(),
      status: { state: 'connecting', address: redactCredentials(mqtt.url) },
      backend: null,
    };
    const attempt = (): LightsBackend => {
      const transport = connectMqtt({
        url: mqtt.url,
        username: mqtt.username,
        password: mqtt.password,
        connectTimeoutMs: this.opts.connectTimeoutMs,
        log,
      });
      running.transport = transport;
      return createZigbee2mqttBackend({
        baseTopic: mqtt.baseTopic,
        transport,
        connectTimeoutMs: this.opts.connectTimeoutMs ?? 5000,
        log,
      });
    };
    this.run('zigbee2mqtt', running, attempt);
    return running;
  }

  private launchHomeAssistant(key: string, ha: NonNullable<HomeSources['homeAssistant']>): Running {
    const running: Running = {
      key,
      abort: new AbortController(),
      status: { state: 'connecting', address: redactCredentials(ha.url) },
      backend: null,
    };
    const attempt = (): LightsBackend =>
      createHomeAssistantBackend({
        client: {
          url: ha.url,
          token: ha.token,
          log: this.opts.log,
          connectTimeoutMs: this.opts.connectTimeoutMs,
        },
        log: this.opts.log,
      });
    this.run('home-assistant', running, attempt);
    return running;
  }

  /** Start (and retry starting) one backend until it connects or is replaced. */
  private run(which: BackendName, r: Running, attempt: () => LightsBackend): void {
    const log = this.opts.log;
    const signal = r.abort.signal;
    const report = (backend: LightsBackend): void => {
      const found = backend.found();
      if (found && !signal.aborted) this.opts.onFound(which, found);
    };
    void (async () => {
      let delay = this.opts.retryMs ?? 1000;
      for (let tries = 0; !signal.aborted; tries++) {
        const backend = attempt();
        r.backend = backend;
        backend.onChange(() => report(backend));
        try {
          await backend.start(signal);
          if (signal.aborted) break;
          r.status = { state: 'connected', address: r.status.address };
          log.info({ backend: which, address: r.status.address }, 'home: lights backend connected');
          report(backend);
          return;
        } catch (err) {
          await backend.stop().catch(() => {});
          if (signal.aborted) break;
          const why = describeError(err);
          r.status = { state: 'failed', address: r.status.address, error: why };
          if (err instanceof HomeAssistantAuthError) {
            log.error(
              { backend: which, err: why },
              'home: lights backend refused; fix the settings',
            );
            return;
          }
          if (tries === 0)
            log.warn(
              { backend: which, address: r.status.address, err: why },
              'home: lights backend not reachable; retrying in the background',
            );
          else log.debug({ backend: which, err: why, tries }, 'home: retry failed');
          await sleep(delay, signal);
          delay = Math.min(30_000, delay * 2);
        }
      }
    })();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
