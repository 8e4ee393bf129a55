import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createHomeAssistantBackend,
  createHomeAssistantClient,
  HomeAssistantAuthError,
  HomeConnectionError,
  UnknownLightError,
  type Home,
  type LightsBackend,
} from '../../node/home/index.js';
import { FakeHomeAssistant } from '../support/fake-home-assistant.js';
import { waitFor } from '../support/wait.js';
import { area, household } from './fixtures/home-assistant.js';
import { capturingLogger } from '../support/log.js';

describe('Home Assistant backend against a websocket stand-in', () => {
  let ha: FakeHomeAssistant;
  let backend: LightsBackend | null = null;

  beforeEach(async () => {
    ha = new FakeHomeAssistant(household());
    await ha.start();
  });
  afterEach(async () => {
    await backend?.stop();
    backend = null;
    await ha.stop();
  });

  const startBackend = async (token = ha.token, log = capturingLogger().log) => {
    backend = createHomeAssistantBackend({
      client: { url: ha.url, token, reconnectMinMs: 50, reconnectMaxMs: 200, callTimeoutMs: 3000 },
      log,
    });
    await backend.start(AbortSignal.timeout(5000));
    return backend;
  };

  it('authenticates, reads areas and lights, and subscribes to the registry and state events', async () => {
    const b = await startBackend();
    expect(ha.auths).toEqual([true]);
    expect(b.home().rooms.map((r) => r.key)).toEqual(['living room', 'kitchen', 'study']);
    expect(
      b
        .home()
        .lights.map((l) => `${l.name}@${l.room}`)
        .sort(),
    ).toEqual([
      'Floor lamp@living room',
      'Kitchen ceiling@kitchen',
      'LED strip@study',
      'Porch@null',
    ]);
    for (const event of [
      'area_registry_updated',
      'device_registry_updated',
      'entity_registry_updated',
      'state_changed',
    ]) {
      expect(ha.subscriptionsFor(event)).toBe(1);
    }
  });

  it('refuses a wrong token with a message that says to make a long-lived access token, and does not retry', async () => {
    const err = await startBackend('wrong-token').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HomeAssistantAuthError);
    expect((err as Error).message).toMatch(
      /refused the access token \(Invalid access token or password\)/,
    );
    expect((err as Error).message).toMatch(
      /long-lived access token in your Home Assistant profile/,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(ha.auths).toEqual([false]);
  });

  it('switches lights with call_service, brightness_pct only to lights that dim', async () => {
    const b = await startBackend();
    await b.set('home-assistant:light.floor_lamp', { on: true, brightnessPct: 40 });
    await b.set('home-assistant:light.kitchen_ceiling', { on: true, brightnessPct: 40 });
    await b.set('home-assistant:light.floor_lamp', { on: false });
    expect(ha.calls).toEqual([
      {
        domain: 'light',
        service: 'turn_on',
        service_data: { brightness_pct: 40 },
        target: { entity_id: 'light.floor_lamp' },
      },
      {
        domain: 'light',
        service: 'turn_on',
        service_data: {},
        target: { entity_id: 'light.kitchen_ceiling' },
      },
      {
        domain: 'light',
        service: 'turn_off',
        service_data: {},
        target: { entity_id: 'light.floor_lamp' },
      },
    ]);
  });

  it('changes the home when an area is renamed or an entity moves (registry events)', async () => {
    const b = await startBackend();
    const changes: Home[] = [];
    b.onChange((h) => changes.push(h));
    ha.upsertArea(area('study', 'Reading Room'));
    await waitFor(() => b.home().rooms.some((r) => r.key === 'reading room'), {
      timeoutMs: 3000,
      what: 'area rename',
    });
    await waitFor(
      () =>
        b.home().lights.find((l) => l.id === 'home-assistant:light.led_strip')?.room ===
        'reading room',
      { timeoutMs: 3000, what: 'light in renamed area' },
    );
    ha.updateEntity('light.floor_lamp', { area_id: 'kitchen' });
    await waitFor(
      () =>
        b.home().lights.find((l) => l.id === 'home-assistant:light.floor_lamp')?.room === 'kitchen',
      { timeoutMs: 3000, what: 'entity moved' },
    );
    expect(changes.length).toBeGreaterThanOrEqual(2);
  });

  it('names a light that vanished instead of calling Home Assistant for it', async () => {
    const b = await startBackend();
    ha.removeEntity('light.led_strip');
    await waitFor(() => !b.home().lights.some((l) => l.id === 'home-assistant:light.led_strip'), {
      timeoutMs: 3000,
      what: 'removal',
    });
    const err = await b
      .set('home-assistant:light.led_strip', { on: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownLightError);
    expect((err as Error).message).toMatch(
      /no light home-assistant:light\.led_strip; the lights are .*light\.floor_lamp/,
    );
    expect(ha.calls).toEqual([]);
  });

  it('rejects a call in flight when the connection drops, then reconnects, subscribes again and works', async () => {
    const b = await startBackend();
    ha.unanswered.add('call_service');
    const inFlight = b
      .set('home-assistant:light.floor_lamp', { on: true })
      .catch((e: unknown) => e);
    await waitFor(() => ha.calls.length === 0 && ha.authedClients === 1, {
      timeoutMs: 1000,
      what: 'call sent',
    });
    await new Promise((r) => setTimeout(r, 50));
    ha.dropConnections();
    const err = await inFlight;
    expect(err).toBeInstanceOf(HomeConnectionError);
    expect((err as Error).message).toMatch(
      /dropped while waiting for the answer to call_service.*reconnects by itself/,
    );

    ha.unanswered.clear();
    await waitFor(() => ha.auths.length === 2, { timeoutMs: 5000, what: 'second auth' });
    await waitFor(
      () => ha.authedClients === 1 && ha.subscriptionsFor('area_registry_updated') === 1,
      { timeoutMs: 5000, what: 'reconnect' },
    );
    expect(ha.auths).toEqual([true, true]);
    // Events reach the re-subscribed backend.
    ha.upsertArea(area('hall', 'Hall'));
    await waitFor(() => b.home().rooms.some((r) => r.key === 'hall'), {
      timeoutMs: 3000,
      what: 'event after reconnect',
    });
    await b.set('home-assistant:light.floor_lamp', { on: true });
    expect(ha.calls).toHaveLength(1);
  });

  it('keeps retrying while Home Assistant restarts, then reads everything again', async () => {
    const b = await startBackend();
    const port = ha.port;
    await ha.stop();
    await new Promise((r) => setTimeout(r, 400)); // several refused attempts
    ha = new FakeHomeAssistant(household());
    ha.upsertArea(area('hall', 'Hall')); // changed while we were away
    await ha.start(port);
    await waitFor(() => b.home().rooms.some((r) => r.key === 'hall'), {
      timeoutMs: 5000,
      what: 'home read after restart',
    });
    expect(ha.subscriptionsFor('state_changed')).toBe(1);
  });

  it('logs and ignores garbage, and keeps working', async () => {
    const { log, lines } = capturingLogger();
    const b = await startBackend(ha.token, log);
    ha.sendRaw('this is not json');
    ha.sendRaw(JSON.stringify({ id: 'x', type: 42 }));
    ha.sendRaw(JSON.stringify({ id: 999, type: 'result', success: true, result: [] }));
    await waitFor(
      () =>
        lines.filter((l) => /ignored a Home Assistant message/.test(String(l.msg))).length === 2,
      { timeoutMs: 2000, what: 'log lines' },
    );
    expect(lines.find((l) => /not JSON/.test(String(l.msg)))).toMatchObject({
      source: expect.stringContaining('/api/websocket'),
    });
    await b.set('home-assistant:light.floor_lamp', { on: true });
    expect(ha.calls).toHaveLength(1);
  });
});

describe('Home Assistant client', () => {
  it('says Home Assistant is not reachable when nothing listens', async () => {
    const ha = new FakeHomeAssistant(household());
    await ha.start();
    const url = ha.url;
    await ha.stop();
    const client = createHomeAssistantClient({ url, token: 't', connectTimeoutMs: 2000 });
    await expect(client.start()).rejects.toThrow(HomeConnectionError);
    await client.stop();
  });

  it('turns a Home Assistant error result into a typed error with its code', async () => {
    const ha = new FakeHomeAssistant(household());
    await ha.start();
    const client = createHomeAssistantClient({ url: ha.url, token: ha.token });
    try {
      await client.start();
      await expect(client.command({ type: 'no/such/command' })).rejects.toThrow(
        'Home Assistant refused no/such/command: unknown_command: Unknown command.',
      );
      await expect(
        client.command({ type: 'call_service', domain: 'light', service: 'explode', target: {} }),
      ).rejects.toThrow(/not_found: Service light\.explode not found/);
    } finally {
      await client.stop();
      await ha.stop();
    }
  });
});
