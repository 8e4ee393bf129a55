/**
 * URL credentials never leave a node's log lines or its control answers (issue 11, point 5): a
 * broker or Home Assistant URL with a password may sit in any string (an error, a peer's answer).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlServer, controlCall, controlSocketPath } from '../../node/control/index.js';
import { redactCredentials, silentLogger } from '../../node/log.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('redactCredentials', () => {
  it.each([
    ['mqtt://helix:hunter2@broker.lan:1883', 'mqtt://***@broker.lan:1883'],
    ['mqtts://user@broker:8883/x', 'mqtts://***@broker:8883/x'],
    [
      'the MQTT broker at mqtt://a:b@10.0.0.2:1883 is not reachable; also http://x:y@ha.local:8123/api',
      'the MQTT broker at mqtt://***@10.0.0.2:1883 is not reachable; also http://***@ha.local:8123/api',
    ],
    ['{"url":"ws://u:p%40ss@h/ws","n":1}', '{"url":"ws://***@h/ws","n":1}'],
  ])('%s', (input, output) => {
    expect(redactCredentials(input)).toBe(output);
  });

  it('leaves URLs without credentials, e-mail addresses and paths alone', () => {
    for (const text of [
      'mqtt://127.0.0.1:1883',
      'http://ha.local:8123/api/websocket?x=a@b',
      'alice@example.com wrote to bob@example.com',
      'mqtt://broker/topic@1',
    ])
      expect(redactCredentials(text)).toBe(text);
  });
});

describe('where credentials could leave a node', () => {
  it('a log line carrying a URL with a password in any field is written without it', () => {
    const script = `
      import { createLogger } from './node/log.ts';
      const log = createLogger('info');
      log.warn({ err: 'connect ECONNREFUSED mqtt://helix:hunter2@10.0.0.2:1883' }, 'broker at mqtt://helix:hunter2@10.0.0.2:1883 went away');
    `;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('mqtt://***@10.0.0.2:1883 went away');
    expect(r.stderr).not.toContain('hunter2');
    expect(JSON.parse(r.stderr.trim())).toMatchObject({
      err: 'connect ECONNREFUSED mqtt://***@10.0.0.2:1883',
    });
  });

  it('a control answer carries no URL credentials', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'helix-redact-'));
    const s = new ControlServer(controlSocketPath(stateDir), silentLogger);
    s.route('GET', '/v1/status', async () => ({
      home: { address: 'mqtt://helix:hunter2@broker:1883' },
    }));
    await s.start();
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    cleanups.push(() => s.stop());
    const answer = await controlCall<{ home: { address: string } }>(stateDir, '/v1/status');
    expect(answer.home.address).toBe('mqtt://***@broker:1883');
  });
});
