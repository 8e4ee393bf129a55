import { describe, expect, it } from 'vitest';
import {
  InvalidSettingError,
  REDACTED,
  UnknownSettingError,
  meshSettings,
  publicView,
  validateSetting,
  type SettingEntry,
} from '../../node/settings/index.js';

const at = (node = 'n1', wall = 1) => ({ wall, logical: 0, node });

describe('settings schema', () => {
  const good: [string, unknown][] = [
    ['rooms.kitchen', { lights: ['kitchen_ceiling', 'kitchen_counter'] }],
    ['rooms.living room', { lights: [] }],
    ['nodes.12D3KooWabc.room', 'study'],
    ['nodes.12D3KooWabc.name', 'desk'],
    ['lights.backend', 'both'],
    ['lights.preferred', 'home_assistant'],
    ['mqtt.url', 'mqtt://192.168.1.10:1883'],
    ['mqtt.username', 'helix'],
    ['mqtt.password', 'hunter2'],
    ['home_assistant.url', 'http://homeassistant.local:8123'],
    ['home_assistant.token', 'eyJhbGciOi...'],
  ];
  for (const [key, value] of good) {
    it(`accepts ${key} = ${JSON.stringify(value)}`, () => {
      expect(validateSetting(key, value)).toEqual(value);
    });
  }

  const bad: [string, unknown, RegExp][] = [
    [
      'lights.backend',
      'hue',
      /lights\.backend = "hue" is invalid; allowed: zigbee2mqtt, home_assistant, both/,
    ],
    [
      'rooms.kitchen',
      { lights: 'kitchen_ceiling' },
      /rooms\.kitchen = .* allowed: \{"lights": \[light names\]\}/,
    ],
    [
      'rooms.Kitchen!',
      { lights: [] },
      /unknown setting "rooms\.Kitchen!"; the settings are: rooms\.<room>/,
    ],
    [
      'mqtt.url',
      'http://broker',
      /mqtt\.url = "http:\/\/broker" is invalid; allowed: mqtt:\/\/host:1883/,
    ],
    ['mqtt.url', 'mqtt://user:pw@broker', /no user or password inside the URL/],
    [
      'nodes.abc.room',
      'Living Room',
      /nodes\.abc\.room = "Living Room" is invalid; allowed: a room name/,
    ],
    ['volume', 3, /unknown setting "volume"/],
  ];
  for (const [key, value, message] of bad) {
    it(`refuses ${key} = ${JSON.stringify(value)}, naming the key, value and what is allowed`, () => {
      expect(() => validateSetting(key, value)).toThrow(message);
    });
  }

  it('never echoes a refused secret', () => {
    const err = (() => {
      try {
        validateSetting('home_assistant.token', '');
      } catch (e) {
        return e as InvalidSettingError;
      }
    })();
    expect(err).toBeInstanceOf(InvalidSettingError);
    expect(err!.message).toContain(REDACTED);
    expect(err!.exitCode).toBe(64);
    expect(() => validateSetting('nope', 1)).toThrow(UnknownSettingError);
  });
});

describe('public view (redaction)', () => {
  const entries: SettingEntry[] = [
    { key: 'mqtt.password', value: 'hunter2', hlc: at() },
    { key: 'home_assistant.token', value: 'tok-123', hlc: at('n2', 5) },
    { key: 'mqtt.username', value: 'helix', hlc: at() },
    { key: 'rooms.gone', deleted: true, hlc: at() },
  ];

  it('shows a secret as set without its value, and leaves deleted keys out', () => {
    const view = publicView(entries);
    expect(view.map((s) => s.key)).toEqual([
      'home_assistant.token',
      'mqtt.password',
      'mqtt.username',
    ]);
    expect(view.find((s) => s.key === 'mqtt.password')).toMatchObject({
      value: REDACTED,
      secret: true,
    });
    expect(view.find((s) => s.key === 'home_assistant.token')).toMatchObject({
      value: REDACTED,
      writer: 'n2',
      writtenAt: 5,
    });
    expect(JSON.stringify(view)).not.toMatch(/hunter2|tok-123/);
  });

  it('gives components typed settings with defaults (secrets included)', () => {
    const s = meshSettings([
      ...entries,
      { key: 'rooms.kitchen', value: { lights: ['a'] }, hlc: at() },
      { key: 'nodes.n1.room', value: 'kitchen', hlc: at() },
      { key: 'lights.backend', value: 'not-a-backend', hlc: at() },
    ]);
    expect(s).toEqual({
      rooms: { kitchen: { lights: ['a'] } },
      nodes: { n1: { room: 'kitchen' } },
      lights: { backend: 'zigbee2mqtt', preferred: 'zigbee2mqtt' },
      mqtt: { password: 'hunter2', username: 'helix' },
      homeAssistant: { token: 'tok-123' },
      found: {},
    });
  });
});
