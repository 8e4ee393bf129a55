import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifest, pickContext } from '../../node/agentspec/index.js';

describe('agent.toml validation', () => {
  const base = 'name = "x"\ntier = "warm"\n[[intents]]\nname = "go"\n';
  it.each([
    ['not TOML', 'name = ', /is not valid TOML/],
    ['a missing tier', 'name = "x"\n[[intents]]\nname = "go"\n', /tier: /],
    ['an unknown key', `${base}colour = "red"\n`, /Unrecognized key|unrecognized/i],
    [
      'an unknown call',
      base.replace('tier = "warm"', 'tier = "warm"\ncalls = ["shell.exec"]'),
      /calls\.0/,
    ],
    [
      'http.fetch without egress',
      base.replace('tier = "warm"', 'tier = "warm"\ncalls = ["http.fetch"]'),
      /http\.fetch needs network = "egress"/,
    ],
    [
      'a credential in context',
      base.replace('tier = "warm"', 'tier = "warm"\ncontext = ["mqtt.password"]'),
      /credentials are never handed to agents/,
    ],
    ['duplicate intents', `${base}[[intents]]\nname = "go"\n`, /duplicate intent "go"/],
  ])('rejects %s with a message naming the key', (_what, text, message) => {
    expect(() => parseManifest(text, 'x/agent.toml')).toThrow(ManifestError);
    expect(() => parseManifest(text, 'x/agent.toml')).toThrow(message);
  });

  it('hands an agent only the helix.toml keys its manifest lists', () => {
    const config = {
      mqtt: { base_topic: 'z2m', password: 'hunter2', url: 'mqtt://x' },
      lights: { rooms: { kitchen: ['k'] } },
    };
    expect(pickContext(['lights.rooms', 'mqtt.base_topic'], config)).toEqual({
      'lights.rooms': { kitchen: ['k'] },
      'mqtt.base_topic': 'z2m',
    });
    expect(pickContext(['lights.missing'], config)).toEqual({});
  });
});
