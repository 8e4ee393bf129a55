import { afterEach, describe, expect, it } from 'vitest';
import {
  OllamaError,
  OllamaHttpClient,
  OllamaModelMissingError,
  type PullProgress,
} from '../../node/router/index.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';

let fake: FakeOllama | null = null;
afterEach(async () => {
  await fake?.close();
  fake = null;
});

describe('Ollama HTTP client against the stand-in server', () => {
  it('lists models (/api/tags) with details', async () => {
    fake = await startFakeOllama({
      models: [{ name: 'llama3', parameterSize: '8.0B' }, { name: 'qwen3:8b' }],
    });
    const tags = await new OllamaHttpClient({ url: fake.url }).tags();
    expect(tags.models.map((m) => m.name)).toEqual(['llama3:latest', 'qwen3:8b']);
    expect(tags.models[0]?.details?.parameter_size).toBe('8.0B');
  });

  it('shows loaded models (/api/ps) with expires_at as a date string after keep_alive', async () => {
    fake = await startFakeOllama({ models: [{ name: 'llama3' }, { name: 'mistral' }] });
    const client = new OllamaHttpClient({ url: fake.url });
    expect((await client.ps()).models).toEqual([]);
    const before = Date.now();
    await client.chat({
      model: 'llama3',
      messages: [{ role: 'user', content: 'hi' }],
      keep_alive: '30m',
      stream: false,
    });
    const ps = await client.ps();
    expect(ps.models.map((m) => m.name)).toEqual(['llama3:latest']);
    const expires = Date.parse(ps.models[0]?.expires_at ?? '');
    expect(expires).toBeGreaterThanOrEqual(before + 29 * 60_000);
  });

  it('reads capabilities and model_info (/api/show), and a 404 for an unknown model', async () => {
    fake = await startFakeOllama({
      models: [
        { name: 'qwen3:8b', capabilities: ['completion', 'tools', 'thinking'], family: 'qwen3' },
      ],
    });
    const client = new OllamaHttpClient({ url: fake.url });
    const show = await client.show('qwen3:8b');
    expect(show.capabilities).toEqual(['completion', 'tools', 'thinking']);
    expect(show.details?.family).toBe('qwen3');
    expect(show.model_info?.['general.architecture']).toBe('qwen3');
    await expect(client.show('llama3')).rejects.toThrow(OllamaModelMissingError);
  });

  it('reads the server version', async () => {
    fake = await startFakeOllama({ version: '0.12.6' });
    expect(await new OllamaHttpClient({ url: fake.url }).version()).toBe('0.12.6');
  });

  it('joins a streamed chat answer and its thinking, keeping the final metrics', async () => {
    fake = await startFakeOllama({
      models: [{ name: 'qwen3:8b', capabilities: ['completion', 'thinking'] }],
    });
    fake.scriptChat({
      thinking: 'Let me think about this carefully.',
      content: '{"ok": true, "n": 12345}',
    });
    const reply = await new OllamaHttpClient({ url: fake.url }).chat({
      model: 'qwen3:8b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    expect(reply.chunks).toBeGreaterThan(2);
    expect(reply.content).toBe('{"ok": true, "n": 12345}');
    expect(reply.thinking).toBe('Let me think about this carefully.');
    expect(reply.doneReason).toBe('stop');
    expect(reply.evalCount).toBeGreaterThan(0);
    expect(reply.totalDurationNs).toBeGreaterThan(0);
  });

  it('pulls a model with progress until success, after which it is listed', async () => {
    fake = await startFakeOllama({ pullable: [{ name: 'llama3', sizeBytes: 3000 }] });
    const client = new OllamaHttpClient({ url: fake.url });
    const seen: PullProgress[] = [];
    for await (const p of client.pull('llama3')) seen.push(p);
    expect(seen[0]?.status).toBe('pulling manifest');
    expect(seen.at(-1)?.status).toBe('success');
    const downloads = seen.filter((p) => p.total !== undefined);
    expect(downloads.at(-1)).toMatchObject({ total: 3000, completed: 3000 });
    expect((await client.tags()).models.map((m) => m.name)).toContain('llama3:latest');
  });

  it.each([
    ['an unknown model', { pullable: [] }, 'file does not exist'],
    ['no internet', { offline: true }, 'no such host'],
  ])('fails a pull of %s with the server’s message', async (_name, opts, message) => {
    fake = await startFakeOllama(opts);
    const client = new OllamaHttpClient({ url: fake.url });
    const run = async () => {
      for await (const _ of client.pull('llama3')) void _;
    };
    await expect(run()).rejects.toThrow(OllamaError);
    await expect(run()).rejects.toThrow(message);
  });
});
