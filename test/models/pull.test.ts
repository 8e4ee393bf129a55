/**
 * `models pull | check | list` against a real HTTP server on 127.0.6.x serving real bytes (the
 * shared whisper.cpp test model), and against hosts that cannot be reached.
 */
import { createServer, type Server } from 'node:http';
import { lookup } from 'node:dns/promises';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  checkModels,
  findModel,
  listModels,
  ModelChecksumError,
  ModelDownloadError,
  ModelHostUnreachableError,
  pullModel,
  type ModelPullProgress,
  type ModelSpec,
} from '../../node/models/index.js';
import { HOST, tempDir } from '../pipeline/support/net.js';
import { canMount, mountTinyFs } from '../support/tmpfs.js';
import { sharedFile } from '../voice/shared-data.js';
import { freePort } from '../support/ports.js';

const TEST_MODEL = sharedFile('for-tests-ggml-tiny.en.bin');

/** The shared test model as if it were a registry entry (sha256 from ../shared/data/README.md). */
const TEST_SPEC: ModelSpec = {
  name: 'for-tests-tiny.en',
  kind: 'whisper',
  file: 'ggml-for-tests-tiny.en.bin',
  repo: 'ggerganov/whisper.cpp',
  bytes: 586_836,
  approxSize: '573 KiB',
  sha256: 'dd6b7796204a1cdf7164666423034e6e1a7a3e9f5c22327b4b7974c4584bd82d',
  description: 'test model',
};

type Behaviour = 'ok' | 'corrupt' | 'missing' | 'cut';

describe.skipIf(!TEST_MODEL)(
  'pulling a model file (needs ../shared/data/for-tests-ggml-tiny.en.bin)',
  () => {
    const bytes = TEST_MODEL ? readFileSync(TEST_MODEL) : Buffer.alloc(0);
    let behaviour: Behaviour = 'ok';
    let server: Server;
    let baseUrl = '';
    const dirs: Array<() => void> = [];
    const dir = () => {
      const t = tempDir('models');
      dirs.push(t.remove);
      return path.join(t.dir, 'models');
    };

    beforeAll(async () => {
      server = createServer((req, res) => {
        if (
          req.url !== `/${TEST_SPEC.repo}/resolve/main/${TEST_SPEC.file}` ||
          behaviour === 'missing'
        ) {
          res.writeHead(404).end('Entry not found');
          return;
        }
        const body = Buffer.from(bytes);
        if (behaviour === 'corrupt') body[body.length >> 1]! ^= 0xff;
        res.writeHead(200, {
          'content-length': body.length,
          'content-type': 'application/octet-stream',
        });
        if (behaviour === 'cut') {
          // half the file, then the connection drops
          res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
          return;
        }
        // in pieces, so progress has steps to report
        let at = 0;
        const next = () => {
          if (at >= body.length) return void res.end();
          const piece = body.subarray(at, at + 64 * 1024);
          at += piece.length;
          res.write(piece, next);
        };
        next();
      });
      const port = await freePort();
      await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
      baseUrl = `http://${HOST}:${port}`;
    });
    afterEach(() => {
      behaviour = 'ok';
      for (const remove of dirs.splice(0)) remove();
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('downloads with progress, verifies the checksum and installs the file', async () => {
      const models = dir();
      const progress: ModelPullProgress[] = [];
      const pulled = await pullModel(TEST_SPEC, {
        dir: models,
        baseUrl,
        onProgress: (p) => progress.push(p),
      });
      expect(pulled).toMatchObject({
        alreadyPresent: false,
        bytes: TEST_SPEC.bytes,
        sha256: TEST_SPEC.sha256,
      });
      expect(readFileSync(pulled.path).equals(bytes)).toBe(true);
      expect(progress.length).toBeGreaterThan(2);
      expect(progress.at(-1)).toEqual({
        model: TEST_SPEC.name,
        receivedBytes: TEST_SPEC.bytes,
        totalBytes: TEST_SPEC.bytes,
      });
      const received = progress.map((p) => p.receivedBytes);
      expect([...received].sort((a, b) => a - b)).toEqual(received);
      expect(readdirSync(models)).toEqual([TEST_SPEC.file]);

      const again = await pullModel(TEST_SPEC, { dir: models, baseUrl });
      expect(again.alreadyPresent).toBe(true);

      const checks = await checkModels({ dir: models, known: [TEST_SPEC] });
      expect(checks).toEqual([
        { name: TEST_SPEC.name, path: pulled.path, ok: true, detail: 'sha256 verified' },
      ]);
    });

    it('rejects a corrupted download and installs nothing', async () => {
      const models = dir();
      behaviour = 'corrupt';
      const err = await pullModel(TEST_SPEC, { dir: models, baseUrl }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelChecksumError);
      expect((err as Error).message).toMatch(/sha256 [0-9a-f]{64}, expected dd6b7796/);
      expect((err as Error).message).toMatch(/nothing was installed/);
      expect(readdirSync(models)).toEqual([]);
    });

    it('replaces an installed file that fails its checksum', async () => {
      const models = dir();
      await pullModel(TEST_SPEC, { dir: models, baseUrl });
      const file = path.join(models, TEST_SPEC.file);
      const damaged = readFileSync(file);
      damaged[1000]! ^= 0x01;
      writeFileSync(file, damaged);

      const [check] = await checkModels({ dir: models, known: [TEST_SPEC] });
      expect(check).toMatchObject({
        ok: false,
        fix: expect.stringContaining('models pull for-tests-tiny.en --force'),
      });
      expect(check?.detail).toMatch(/corrupt/);

      const pulled = await pullModel(TEST_SPEC, { dir: models, baseUrl });
      expect(pulled.alreadyPresent).toBe(false);
      expect(readFileSync(file).equals(bytes)).toBe(true);
    });

    it('says the model is not there when the host answers 404', async () => {
      const models = dir();
      behaviour = 'missing';
      const err = await pullModel(TEST_SPEC, { dir: models, baseUrl }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelDownloadError);
      expect((err as Error).message).toContain('HTTP 404');
      expect(existsSync(models) ? readdirSync(models) : []).toEqual([]);
    });

    it('leaves no partial file when the connection drops mid-transfer', async () => {
      const models = dir();
      behaviour = 'cut';
      const err = await pullModel(TEST_SPEC, { dir: models, baseUrl }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelDownloadError);
      expect((err as Error).message).toMatch(/broke off after \d+ bytes/);
      expect(readdirSync(models)).toEqual([]);
    });

    it.skipIf(!canMount)(
      'on a full disk says so, and leaves neither a partial file nor a model behind',
      async () => {
        const fs = mountTinyFs(256); // the model is 573 KiB
        try {
          const models = path.join(fs.dir, 'models');
          const err = await pullModel(TEST_SPEC, { dir: models, baseUrl }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(ModelDownloadError);
          expect((err as Error).message).toMatch(
            /cannot write ggml-for-tests-tiny\.en\.bin in .* after \d+ of 586836 bytes: the disk is full; free some space and try again \(ENOSPC[^)]*\); nothing was installed/,
          );
          expect(readdirSync(models)).toEqual([]);
        } finally {
          fs.unmount();
        }
      },
    );

    it('lists known models, installed or not, and files it does not know', async () => {
      const models = dir();
      await pullModel(TEST_SPEC, { dir: models, baseUrl });
      writeFileSync(path.join(models, 'ggml-custom.bin'), 'not a model');
      const base = findModel('base.en')!;
      const entries = await listModels({
        dir: models,
        known: [TEST_SPEC, base],
        inUse: [path.join(models, TEST_SPEC.file)],
      });
      expect(entries.map((e) => [e.name, e.installed, e.known, e.inUse])).toEqual([
        ['for-tests-tiny.en', true, true, true],
        ['base.en', false, true, false],
        ['ggml-custom.bin', true, false, false],
      ]);
      const checks = await checkModels({ dir: models, known: [TEST_SPEC, base] });
      expect(checks.find((c) => c.name === 'ggml-custom.bin')).toMatchObject({
        ok: false,
        detail: 'not a ggml (whisper.cpp) model file',
      });
    });
  },
);

describe('pulling without a way to the model host', () => {
  const dirs: Array<() => void> = [];
  afterAll(() => dirs.forEach((remove) => remove()));
  const dir = () => {
    const t = tempDir('models-offline');
    dirs.push(t.remove);
    return path.join(t.dir, 'models');
  };

  it('fails at once with a message that says the machine is offline and what to do', async () => {
    const models = dir();
    // .invalid never resolves (RFC 6761): the same failure as a machine without DNS
    const err = await pullModel(findModel('base.en')!, {
      dir: models,
      baseUrl: 'https://models.invalid',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelHostUnreachableError);
    const message = (err as Error).message;
    expect(message).toMatch(/cannot reach models\.invalid \((ENOTFOUND|EAI_AGAIN)\)/);
    expect(message).toContain('offline');
    expect(message).toContain(`copy ggml-base.en.bin into ${models}`);
    expect(existsSync(models) ? readdirSync(models) : []).toEqual([]);
  });

  it('treats a refused connection as unreachable', async () => {
    const port = await freePort();
    const err = await pullModel(findModel('tiny.en')!, {
      dir: dir(),
      baseUrl: `http://${HOST}:${port}`,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelHostUnreachableError);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });
});

// The real default host, only where it cannot be resolved (this machine), so no test ever
// starts a 142 MiB download.
const huggingFaceResolves = await lookup('huggingface.co').then(
  () => true,
  () => false,
);
describe.skipIf(huggingFaceResolves)('pulling from Hugging Face on an offline machine', () => {
  it('fails at once naming huggingface.co', async () => {
    const t = tempDir('models-hf');
    try {
      const err = await pullModel(findModel('base.en')!, { dir: path.join(t.dir, 'models') }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelHostUnreachableError);
      expect((err as Error).message).toMatch(/cannot reach huggingface\.co .*offline/);
    } finally {
      t.remove();
    }
  });
});
