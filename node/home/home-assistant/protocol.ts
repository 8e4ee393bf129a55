/**
 * zod schemas of the Home Assistant websocket API messages HelixOS reads, mirroring
 * homeassistant/components/websocket_api (messages.py, auth.py, commands.py) and the registry
 * commands in homeassistant/components/config/{area,device,entity}_registry.py.
 * Docs: https://developers.home-assistant.io/docs/api/websocket/
 * Objects are loose: Home Assistant adds fields every release; only the ones named here are read.
 */
import { z } from 'zod';
import { lazySchema } from '../../types.js';

export const AuthRequiredSchema = lazySchema(() =>
  z.looseObject({
    type: z.literal('auth_required'),
    ha_version: z.string().optional(),
  }),
);
export const AuthOkSchema = lazySchema(() =>
  z.looseObject({
    type: z.literal('auth_ok'),
    ha_version: z.string().optional(),
  }),
);
export const AuthInvalidSchema = lazySchema(() =>
  z.looseObject({
    type: z.literal('auth_invalid'),
    message: z.string().optional(),
  }),
);

export const ResultSchema = lazySchema(() =>
  z.union([
    z.looseObject({
      id: z.number(),
      type: z.literal('result'),
      success: z.literal(true),
      result: z.unknown().optional(),
    }),
    z.looseObject({
      id: z.number(),
      type: z.literal('result'),
      success: z.literal(false),
      error: z.looseObject({ code: z.string(), message: z.string() }),
    }),
  ]),
);

export const EventSchema = lazySchema(() =>
  z.looseObject({
    event_type: z.string(),
    data: z.unknown(),
    origin: z.string().optional(),
    time_fired: z.string().optional(),
  }),
);
export type HaEvent = z.infer<typeof EventSchema>;

export const EventMessageSchema = lazySchema(() =>
  z.looseObject({
    id: z.number(),
    type: z.literal('event'),
    event: EventSchema,
  }),
);

export const PongSchema = lazySchema(() =>
  z.looseObject({ id: z.number(), type: z.literal('pong') }),
);

/** Every message a server sends after the auth phase. */
export const ServerMessageSchema = lazySchema(() =>
  z.union([
    ResultSchema,
    EventMessageSchema,
    PongSchema,
    AuthRequiredSchema,
    AuthOkSchema,
    AuthInvalidSchema,
  ]),
);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;

/** An element of `config/area_registry/list` (AreaEntry, area_registry.py _entry_dict). */
export const AreaSchema = lazySchema(() =>
  z.looseObject({
    area_id: z.string(),
    name: z.string(),
    aliases: z.array(z.string()).optional(),
    floor_id: z.string().nullable().optional(),
  }),
);
export type Area = z.infer<typeof AreaSchema>;

/** An element of `config/device_registry/list` (DeviceEntry.dict_repr). */
export const DeviceEntrySchema = lazySchema(() =>
  z.looseObject({
    id: z.string(),
    area_id: z.string().nullable(),
    name: z.string().nullable().optional(),
    name_by_user: z.string().nullable().optional(),
    disabled_by: z.string().nullable().optional(),
  }),
);
export type DeviceEntry = z.infer<typeof DeviceEntrySchema>;

/** An element of `config/entity_registry/list` (RegistryEntry.as_partial_dict). */
export const EntityEntrySchema = lazySchema(() =>
  z.looseObject({
    entity_id: z.string(),
    area_id: z.string().nullable(),
    device_id: z.string().nullable(),
    disabled_by: z.string().nullable(),
    hidden_by: z.string().nullable().optional(),
    name: z.string().nullable().optional(),
    original_name: z.string().nullable().optional(),
    platform: z.string().optional(),
  }),
);
export type EntityEntry = z.infer<typeof EntityEntrySchema>;

/** An element of `get_states`, and `new_state` of a state_changed event (State.as_dict). */
export const StateSchema = lazySchema(() =>
  z.looseObject({
    entity_id: z.string(),
    state: z.string(),
    attributes: z.record(z.string(), z.unknown()),
    last_changed: z.string().optional(),
    last_updated: z.string().optional(),
  }),
);
export type HaState = z.infer<typeof StateSchema>;

export const StateChangedDataSchema = lazySchema(() =>
  z.looseObject({
    entity_id: z.string(),
    old_state: StateSchema.nullable().optional(),
    new_state: StateSchema.nullable(),
  }),
);

export const AreasSchema = lazySchema(() => z.array(AreaSchema));
export const DevicesSchema = lazySchema(() => z.array(DeviceEntrySchema));
export const EntitiesSchema = lazySchema(() => z.array(EntityEntrySchema));
export const StatesSchema = lazySchema(() => z.array(StateSchema));

/** The registry events that change rooms or lights; each triggers a re-read of the registries. */
export const REGISTRY_EVENTS = [
  'area_registry_updated',
  'device_registry_updated',
  'entity_registry_updated',
] as const;
