/**
 * Home Assistant as a LightsBackend: reads the area, device and entity registries and the light
 * states on every (re)connect, re-reads the registries on their *_registry_updated events, follows
 * state_changed for lights, and switches lights with call_service light.turn_on / turn_off.
 */
import type { z } from 'zod';
import { describeError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { Listeners, type LightsBackend } from '../backend.js';
import { HomeAssistantCommandError, UnknownLightError } from '../errors.js';
import { emptyHome, sameHome, type Home, type LightCommand } from '../model.js';
import {
  createHomeAssistantClient,
  type HomeAssistantClientOptions,
  type HomeAssistantConnection,
} from './client.js';
import { entityIdOf, homeFromRegistries, isLightEntity, type Registries } from './model.js';
import {
  AreasSchema,
  DevicesSchema,
  EntitiesSchema,
  REGISTRY_EVENTS,
  StateChangedDataSchema,
  StatesSchema,
  type HaState,
} from './protocol.js';

export interface HomeAssistantBackendOptions {
  /** The client's options; ignored when `connection` is given. */
  client?: HomeAssistantClientOptions;
  /** For tests with plain objects; default: createHomeAssistantClient(client). */
  connection?: HomeAssistantConnection;
  log?: Logger;
}

export function createHomeAssistantBackend(opts: HomeAssistantBackendOptions): LightsBackend {
  const log = opts.log ?? silentLogger;
  const conn =
    opts.connection ??
    createHomeAssistantClient({
      log,
      ...(opts.client ?? { url: 'http://127.0.0.1:8123', token: '' }),
    });
  const listeners = new Listeners<Home>((err) =>
    log.warn({ err: describeError(err) }, 'home: a change listener threw'),
  );
  let registries: Registries | null = null;
  let current: Home = emptyHome;
  let refreshing: Promise<void> | null = null;
  let again = false;

  const rebuild = (): void => {
    if (!registries) return;
    const next = homeFromRegistries(registries);
    if (sameHome(current, next)) return;
    current = next;
    log.info(
      { rooms: next.rooms.length, lights: next.lights.length },
      'home: Home Assistant rooms and lights changed',
    );
    listeners.emit(next);
  };

  const read = async <S extends z.ZodType>(type: string, schema: S): Promise<z.infer<S>> => {
    const result = await conn.command({ type });
    const parsed = schema.safeParse(result);
    if (!parsed.success) {
      throw new Error(
        `Home Assistant's ${type} answer has an unexpected shape: ${parsed.error.issues[0]?.message}`,
      );
    }
    return parsed.data;
  };

  /** Read everything again; calls during a read coalesce into one more read after it. */
  const refresh = (): Promise<void> => {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        again = false;
        const [areas, devices, entities, states] = await Promise.all([
          read('config/area_registry/list', AreasSchema),
          read('config/device_registry/list', DevicesSchema),
          read('config/entity_registry/list', EntitiesSchema),
          read('get_states', StatesSchema),
        ]);
        const lightStates = new Map<string, HaState>(
          states.filter((s) => isLightEntity(s.entity_id)).map((s) => [s.entity_id, s]),
        );
        registries = { areas, devices, entities, states: lightStates };
        rebuild();
      } while (again);
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };

  const refreshLogged = (why: string): void => {
    refresh().catch((err: unknown) =>
      log.warn(
        { why, err: describeError(err) },
        'home: reading Home Assistant registries failed; keeping the last good state',
      ),
    );
  };

  for (const eventType of REGISTRY_EVENTS) {
    conn.subscribeEvents(eventType, () => refreshLogged(eventType));
  }
  conn.subscribeEvents('state_changed', (event) => {
    const data = StateChangedDataSchema.safeParse(event.data);
    if (!data.success) {
      log.warn(
        { why: data.error.issues[0]?.message },
        'home: ignored a malformed state_changed event',
      );
      return;
    }
    const { entity_id: entityId, new_state: state } = data.data;
    if (!isLightEntity(entityId) || !registries) return;
    if (state) registries.states.set(entityId, state);
    else registries.states.delete(entityId);
    rebuild();
  });
  conn.onConnected(() => refreshLogged('connected'));

  return {
    name: 'home-assistant',
    async start(signal) {
      await conn.start(signal);
      // The connected handler has begun the first read already; wait for that one.
      await (refreshing ?? refresh());
    },
    stop: () => conn.stop(),
    home: () => current,
    found: () =>
      registries
        ? {
            rooms: current.rooms,
            lights: current.lights.map((l) => ({
              ...l,
              address: { kind: 'home-assistant' as const, entityId: entityIdOf(l.id) ?? l.id },
            })),
          }
        : null,
    onChange: (listener) => listeners.add(listener),
    async set(lightId: string, command: LightCommand, o) {
      const entityId = entityIdOf(lightId);
      const light = current.lights.find((l) => l.id === lightId);
      if (!entityId || !light) {
        throw new UnknownLightError(
          lightId,
          current.lights.map((l) => l.id),
        );
      }
      const serviceData: Record<string, unknown> = {};
      if (command.on && command.brightnessPct !== undefined && light.features.brightness) {
        serviceData.brightness_pct = Math.round(Math.min(100, Math.max(0, command.brightnessPct)));
      }
      try {
        await conn.command(
          {
            type: 'call_service',
            domain: 'light',
            service: command.on ? 'turn_on' : 'turn_off',
            service_data: serviceData,
            target: { entity_id: entityId },
          },
          { signal: o?.signal },
        );
      } catch (err) {
        // Home Assistant names a missing entity in not_found / validation errors; say it our way.
        if (
          err instanceof HomeAssistantCommandError &&
          (err.code === 'not_found' || err.code === 'service_validation_error') &&
          err.message.includes(entityId)
        ) {
          throw new UnknownLightError(
            lightId,
            current.lights.filter((l) => l.id !== lightId).map((l) => l.id),
            { cause: err },
          );
        }
        throw err;
      }
    },
  };
}
