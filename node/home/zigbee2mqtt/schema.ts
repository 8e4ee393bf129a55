/**
 * zod schemas of the zigbee2mqtt 2.x bridge payloads HelixOS reads, mirroring what
 * lib/extension/bridge.ts publishes (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html
 * and https://www.zigbee2mqtt.io/guide/usage/exposes.html). Objects are loose: zigbee2mqtt adds
 * fields between releases, and only the ones named here are read.
 */
import { z } from 'zod';
import { lazySchema } from '../../types.js';

/** One entry of an expose's `features` (binary state, numeric brightness/color_temp, composite...). */
export const ExposeFeatureSchema = lazySchema(() =>
  z.looseObject({
    type: z.string(),
    name: z.string().optional(),
    /** The key in `<device>/set` payloads: "state", or "state_l1" for an endpoint's feature. */
    property: z.string().optional(),
    endpoint: z.string().optional(),
    access: z.number().optional(),
    value_min: z.number().optional(),
    value_max: z.number().optional(),
    value_on: z.unknown().optional(),
    value_off: z.unknown().optional(),
  }),
);
export type ExposeFeature = z.infer<typeof ExposeFeatureSchema>;

/** A top-level entry of `definition.exposes`: specific ("light", "switch", ...) or generic. */
export const ExposeSchema = lazySchema(() =>
  z.looseObject({
    type: z.string(),
    endpoint: z.string().optional(),
    features: z.array(ExposeFeatureSchema).optional(),
  }),
);
export type Expose = z.infer<typeof ExposeSchema>;

export const DefinitionSchema = lazySchema(() =>
  z.looseObject({
    model: z.string(),
    vendor: z.string(),
    description: z.string().optional(),
    exposes: z.array(ExposeSchema),
  }),
);

/** One element of the retained `<base>/bridge/devices` array. */
export const DeviceSchema = lazySchema(() =>
  z.looseObject({
    ieee_address: z.string(),
    type: z.string(), // Coordinator | Router | EndDevice | Unknown | GreenPower
    friendly_name: z.string(),
    supported: z.boolean().optional(),
    disabled: z.boolean().optional(),
    definition: DefinitionSchema.nullable().optional(),
    /** Deprecated since 2.1 in favour of interview_state, still published. */
    interviewing: z.boolean().optional(),
    interview_completed: z.boolean().optional(),
    /** PENDING | IN_PROGRESS | SUCCESSFUL | FAILED (zigbee-herdsman InterviewState). */
    interview_state: z.string().optional(),
    /** Keyed by endpoint ID ("1", "11"); `name` is the definition's endpoint name ("l1") when it has one. */
    endpoints: z.record(z.string(), z.looseObject({ name: z.string().optional() })).optional(),
  }),
);
export type Device = z.infer<typeof DeviceSchema>;
export const DevicesSchema = lazySchema(() => z.array(DeviceSchema));

/** One element of the retained `<base>/bridge/groups` array. */
export const GroupSchema = lazySchema(() =>
  z.looseObject({
    id: z.number(),
    friendly_name: z.string(),
    description: z.string().nullable().optional(),
    members: z.array(z.looseObject({ ieee_address: z.string(), endpoint: z.number() })),
  }),
);
export type Group = z.infer<typeof GroupSchema>;
export const GroupsSchema = lazySchema(() => z.array(GroupSchema));

const EventDevice = lazySchema(() =>
  z.looseObject({ ieee_address: z.string(), friendly_name: z.string() }),
);

/** `<base>/bridge/event` (not retained). */
export const BridgeEventSchema = lazySchema(() =>
  z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('device_joined'), data: EventDevice }),
    z.looseObject({ type: z.literal('device_announce'), data: EventDevice }),
    z.looseObject({ type: z.literal('device_leave'), data: EventDevice }),
    z.looseObject({
      type: z.literal('device_interview'),
      data: EventDevice.extend({
        status: z.enum(['started', 'successful', 'failed']),
        supported: z.boolean().optional(),
        definition: DefinitionSchema.nullable().optional(),
      }),
    }),
  ]),
);
export type BridgeEvent = z.infer<typeof BridgeEventSchema>;

/** `<base>/bridge/response/device/rename`; renames also re-publish bridge/devices. */
export const RenameResponseSchema = lazySchema(() =>
  z.looseObject({
    status: z.enum(['ok', 'error']),
    data: z.looseObject({ from: z.string().optional(), to: z.string().optional() }).optional(),
    error: z.string().optional(),
  }),
);

/** The groups zigbee2mqtt makes for itself, not rooms (default_bind_group is ID 901). */
export const DEFAULT_BIND_GROUP_ID = 901;
