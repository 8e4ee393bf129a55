/**
 * mqtt.publish topics (issue 11): an agent could publish to "<base>/bridge/request/*", the
 * zigbee2mqtt bridge's control topics (permit join, remove a device, restart the bridge).
 */
import { describe, expect, it } from 'vitest';
import { createMqttPublisher, publishTopicProblem } from '../../node/agents/index.js';

describe('publishTopicProblem', () => {
  it.each([
    'zigbee2mqtt/kitchen_ceiling/set',
    'zigbee2mqtt/living room lamp/set',
    'zigbee2mqtt/bridge_lamp/set', // a device whose name starts with "bridge"
    'zigbee2mqtt/kitchen/bridge/set',
  ])('lets an agent publish to %s', (topic) => {
    expect(publishTopicProblem(topic, 'zigbee2mqtt')).toBeNull();
  });

  it.each([
    ['zigbee2mqtt/bridge/request/permit_join', /the Zigbee bridge's own control topics/],
    ['zigbee2mqtt/bridge/request/device/remove', /the Zigbee bridge's own control topics/],
    ['zigbee2mqtt/bridge/request/restart', /the Zigbee bridge's own control topics/],
    ['zigbee2mqtt/bridge/config', /the Zigbee bridge's own control topics/],
    ['zigbee2mqtt/bridge', /the Zigbee bridge's own control topics/],
    ['zigbee2mqtt/bridge/#', /no wildcards/],
    ['zigbee2mqtt/+/set', /no wildcards/],
    ['zigbee2mqtt/#', /no wildcards/],
    ['#', /no wildcards/],
    ['homeassistant/light/x/config', /only under "zigbee2mqtt\/"/],
    ['zigbee2mqttx/lamp/set', /only under "zigbee2mqtt\/"/],
    ['zigbee2mqtt', /only under "zigbee2mqtt\/"/],
    ['zigbee2mqtt/', /only under "zigbee2mqtt\/"/],
    ['$SYS/broker/x', /only under "zigbee2mqtt\/"/],
  ])('refuses %s', (topic, why) => {
    expect(publishTopicProblem(topic, 'zigbee2mqtt')).toMatch(why);
  });

  it('follows the configured base topic', () => {
    expect(publishTopicProblem('z2m/bridge/request/restart', 'z2m')).toMatch(/bridge/);
    expect(publishTopicProblem('z2m/lamp/set', 'z2m')).toBeNull();
  });
});

describe('the mqtt.publish handler', () => {
  it('refuses a bridge request topic before it connects to the broker', async () => {
    // Nothing listens on port 1: a refusal that came after connecting would say unreachable.
    const publisher = createMqttPublisher({
      url: 'mqtt://127.0.0.1:1',
      topicPrefix: 'zigbee2mqtt',
      connectTimeoutMs: 500,
    });
    try {
      await expect(
        publisher.publish({
          topic: 'zigbee2mqtt/bridge/request/permit_join',
          payload: { value: true, time: 254 },
          qos: 1,
          retain: false,
        }),
      ).rejects.toThrow(/the Zigbee bridge's own control topics/);
    } finally {
      await publisher.close();
    }
  });
});
