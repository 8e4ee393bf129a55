/**
 * Switching lights for an agent (the host's `home.call_service`): each light id is looked up in
 * the house every node resolves the same way (house.ts), then sent through its own backend —
 * zigbee2mqtt's `<base>/<friendly_name>/set` over the host's broker connection, Home Assistant's
 * call_service over the host's websocket. Brightness reaches only lights that dim, in each one's
 * own scale. Credentials stay on the host.
 */
import { describeError } from '../errors.js';
import type { LightsBackend } from './backend.js';
import { HomeConnectionError, UnknownLightError } from './errors.js';
import type { FoundLight, House } from './house.js';
import type { LightCommand } from './model.js';
import { bridgeLightOf, setMessage } from './zigbee2mqtt/parse.js';

export interface LightSwitchDeps {
  /** the house as resolved now */
  house: () => House;
  /** zigbee2mqtt's base_topic */
  baseTopic: () => string;
  /** publish one zigbee2mqtt `/set` message on the broker */
  publish: (topic: string, payload: Record<string, unknown>, signal?: AbortSignal) => Promise<void>;
  /** this node's Home Assistant connection, or null when Home Assistant is not set up */
  homeAssistant: () => LightsBackend | null;
}

export interface SwitchRequest {
  lights: readonly string[];
  command: LightCommand;
  signal?: AbortSignal;
}

export interface SwitchOutcome {
  switched: string[];
  without_brightness: string[];
  failed: Array<{ light: string; error: string }>;
}

/** Switches lights; every light is tried. Throws only when none could be switched. */
export function createLightSwitch(d: LightSwitchDeps) {
  const one = async (light: FoundLight, command: LightCommand, signal?: AbortSignal) => {
    const a = light.address;
    if (a.kind === 'zigbee2mqtt') {
      const { topic, payload } = setMessage(d.baseTopic(), bridgeLightOf(light, a), command);
      await d.publish(topic, payload, signal);
      return;
    }
    const ha = d.homeAssistant();
    if (!ha)
      throw new HomeConnectionError(
        'Home Assistant is not set up on this node; set it with `helix-node settings set home_assistant.url URL` and `helix-node settings set home_assistant.token TOKEN`',
      );
    await ha.set(light.id, command, { signal });
  };

  return async (req: SwitchRequest): Promise<SwitchOutcome> => {
    const house = d.house();
    const byId = new Map(house.lights.map((l) => [l.id, l]));
    const out: SwitchOutcome = { switched: [], without_brightness: [], failed: [] };
    const errors: unknown[] = [];
    await Promise.all(
      req.lights.map(async (id) => {
        const light = byId.get(id);
        if (!light) {
          const err = new UnknownLightError(
            id,
            house.lights.map((l) => l.name),
          );
          errors.push(err);
          out.failed.push({ light: id, error: err.message });
          return;
        }
        try {
          await one(light, req.command, req.signal);
          out.switched.push(light.name);
          if (
            req.command.on &&
            req.command.brightnessPct !== undefined &&
            !light.features.brightness
          )
            out.without_brightness.push(light.name);
        } catch (err) {
          errors.push(err);
          out.failed.push({ light: light.name, error: describeError(err) });
        }
      }),
    );
    if (out.switched.length === 0 && errors.length > 0) throw errors[0];
    // in the order asked, whatever order the backends answered in
    const order = req.lights.map((id) => byId.get(id)?.name ?? id);
    const byOrder = (a: string, b: string) => order.indexOf(a) - order.indexOf(b);
    out.switched.sort(byOrder);
    out.without_brightness.sort(byOrder);
    return out;
  };
}
