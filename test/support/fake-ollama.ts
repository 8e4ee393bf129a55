/**
 * A stand-in Ollama server (node:http on 127.0.0.1) speaking the real wire format of
 * /api/chat (one object or NDJSON), /api/tags, /api/ps, /api/show, /api/version and /api/pull,
 * after ollama/ollama docs/api.md. It behaves like the real server where the router depends on
 * it: unknown model -> 404 "try pulling it first"; `think` sent for a model without the
 * "thinking" capability -> 400 "does not support thinking"; thinking models put their trace
 * in message.thinking (or, in legacy mode, inline as <think>…</think> in content).
 * Each test scripts the chat answers it needs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fnv1a } from '../../node/agentspec/index.js';

export interface FakeModel {
  /** "llama3:latest"; "llama3" is read as "llama3:latest" */
  name: string;
  /** /api/show capabilities, e.g. ["completion", "thinking"] (default ["completion"]) */
  capabilities?: string[];
  family?: string;
  parameterSize?: string;
  quantization?: string;
  sizeBytes?: number;
  /** loaded in memory (shows in /api/ps) */
  loaded?: boolean;
}

/** One scripted /api/chat answer. */
export interface ChatScript {
  /** message.content of the answer */
  content?: string;
  /** the reasoning trace; sent as message.thinking, or inline in legacy mode */
  thinking?: string;
  /** send thinking even when the request said think: false (gpt-oss cannot turn it off) */
  forceThinking?: boolean;
  /** reply with this HTTP status and {"error": error} instead */
  status?: number;
  error?: string;
  /** wait this long before answering (timeouts) */
  delayMs?: number;
  /** 200 with this body verbatim (malformed replies) */
  rawBody?: string;
  /** stream some content, then an {"error": …} line (a model crashing mid-answer) */
  streamError?: string;
  /** close the connection without a reply (a restarted server, a stale keep-alive socket) */
  dropConnection?: boolean;
}

export interface FakeOllamaOptions {
  models?: FakeModel[];
  /** /api/version (default "0.12.6") */
  version?: string;
  /**
   * Behave like Ollama before 0.9: /api/show has no capabilities, `think` is ignored, and
   * thinking models write "<think>…</think>" into content.
   */
  legacy?: boolean;
  /** models /api/pull can fetch; any other fails like the registry's "file does not exist" */
  pullable?: FakeModel[];
  /** /api/pull fails as a machine without internet does */
  offline?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
  /** the body as sent, byte for byte (prompt-cache prefixes) */
  raw: string;
}

export interface FakeOllama {
  readonly url: string;
  readonly port: number;
  /** every request, in order */
  readonly requests: RecordedRequest[];
  /** bodies of POST /api/chat, in order */
  chatBodies(): Record<string, unknown>[];
  /** queue answers for the next /api/chat requests; when the queue is empty, `fallback` answers */
  scriptChat(...answers: ChatScript[]): void;
  /** answer for chats with no queued script (default: content "{}") */
  fallback: (body: Record<string, unknown>) => ChatScript;
  close(): Promise<void>;
}

const fullName = (m: string) => (m.includes(':') ? m : `${m}:latest`);

function digestOf(name: string): string {
  return fnv1a(name).toString(16).padStart(8, '0').repeat(8);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Parse an Ollama keep_alive ("30m", "1h", "45s", seconds as a number) to ms; negative: forever. */
function keepAliveMs(v: unknown): number {
  if (typeof v === 'number') return v * 1000;
  if (typeof v !== 'string') return 5 * 60_000;
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return 5 * 60_000;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  return n * unit;
}

export async function startFakeOllama(opts: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const models = new Map<string, Required<FakeModel> & { expiresAt: number }>();
  const addModel = (m: FakeModel) =>
    models.set(fullName(m.name), {
      name: fullName(m.name),
      capabilities: m.capabilities ?? ['completion'],
      family: m.family ?? 'llama',
      parameterSize: m.parameterSize ?? '8.0B',
      quantization: m.quantization ?? 'Q4_0',
      sizeBytes: m.sizeBytes ?? 4_661_224_676,
      loaded: m.loaded ?? false,
      expiresAt: Date.now() + 5 * 60_000,
    });
  for (const m of opts.models ?? []) addModel(m);
  const version = opts.version ?? (opts.legacy ? '0.5.7' : '0.12.6');
  const legacy = opts.legacy ?? false;
  const requests: RecordedRequest[] = [];
  const queue: ChatScript[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const started = Date.now();

  const details = (m: Required<FakeModel>) => ({
    parent_model: '',
    format: 'gguf',
    family: m.family,
    families: [m.family],
    parameter_size: m.parameterSize,
    quantization_level: m.quantization,
  });

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  const later = (req: IncomingMessage, ms: number, fn: () => void) => {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    req.socket.once('close', () => {
      clearTimeout(t);
      timers.delete(t);
    });
  };

  const fake: FakeOllama = {
    url: '',
    port: 0,
    requests,
    chatBodies: () =>
      requests
        .filter((r) => r.path === '/api/chat' && r.body)
        .map((r) => r.body as Record<string, unknown>),
    scriptChat: (...answers) => void queue.push(...answers),
    fallback: () => ({ content: '{}' }),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closing = [...sockets].map(
        (s) => new Promise<void>((resolve) => s.once('close', () => resolve())),
      );
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => server.close(() => resolve())),
        ...closing,
      ]);
    },
  };

  const chat = (req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>) => {
    const name = typeof body.model === 'string' ? body.model : '';
    const model = models.get(fullName(name));
    const script = queue.shift() ?? fake.fallback(body);
    later(req, script.delayMs ?? 0, () => {
      if (res.destroyed) return;
      if (script.dropConnection) return void req.socket.destroy();
      if (script.status !== undefined)
        return sendJson(res, script.status, { error: script.error ?? 'error' });
      if (model === undefined)
        return sendJson(res, 404, { error: `model "${name}" not found, try pulling it first` });
      const canThink = model.capabilities.includes('thinking');
      // As server/routes.go: a truthy `think` for a model without the capability is refused.
      if (!legacy && body.think !== undefined && body.think !== false && !canThink) {
        return sendJson(res, 400, { error: `"${name}" does not support thinking` });
      }
      if (script.rawBody !== undefined) {
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
        return res.end(script.rawBody);
      }
      model.loaded = true;
      model.expiresAt = Date.now() + keepAliveMs(body.keep_alive);

      // Since 0.12.4 thinking is on by default for models that can think.
      const thinkOn = canThink && (body.think === undefined || body.think !== false);
      let content = script.content ?? '';
      let thinking: string | undefined;
      if (script.thinking !== undefined) {
        if (legacy) content = `<think>\n${script.thinking}\n</think>\n\n${content}`;
        else if (thinkOn || script.forceThinking) thinking = script.thinking;
      }
      const metrics = {
        total_duration: 812_345_678,
        load_duration: 12_345_678,
        prompt_eval_count: 120,
        prompt_eval_duration: 90_000_000,
        eval_count: Math.max(1, Math.ceil(content.length / 4)),
        eval_duration: 700_000_000,
      };
      const stream = body.stream !== false;
      if (!stream) {
        const message: Record<string, unknown> = { role: 'assistant', content };
        if (thinking !== undefined) message.thinking = thinking;
        return sendJson(res, 200, {
          model: name,
          created_at: new Date().toISOString(),
          message,
          done_reason: 'stop',
          done: true,
          ...metrics,
        });
      }
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      const line = (o: unknown) => res.write(`${JSON.stringify(o)}\n`);
      const chunk = (message: Record<string, unknown>) =>
        line({
          model: name,
          created_at: new Date().toISOString(),
          message: { role: 'assistant', ...message },
          done: false,
        });
      for (const piece of pieces(thinking ?? '')) chunk({ content: '', thinking: piece });
      const contentPieces = pieces(content);
      if (script.streamError !== undefined) {
        for (const piece of contentPieces.slice(0, 1)) chunk({ content: piece });
        line({ error: script.streamError });
        return res.end();
      }
      for (const piece of contentPieces) chunk({ content: piece });
      line({
        model: name,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: '' },
        done_reason: 'stop',
        done: true,
        ...metrics,
      });
      res.end();
    });
  };

  const pull = (res: ServerResponse, body: Record<string, unknown>) => {
    const name = String(body.model ?? body.name ?? '');
    const stream = body.stream !== false;
    const fail = (error: string) => {
      if (!stream) return sendJson(res, 500, { error });
      res.write(`${JSON.stringify({ error })}\n`);
      res.end();
    };
    if (stream) res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    const progress = (o: unknown) => stream && res.write(`${JSON.stringify(o)}\n`);
    progress({ status: 'pulling manifest' });
    if (opts.offline) {
      return fail(
        `pull model manifest: Get "https://registry.ollama.ai/v2/library/${name.split(':')[0]}/manifests/${name.split(':')[1] ?? 'latest'}": dial tcp: lookup registry.ollama.ai: no such host`,
      );
    }
    const found = (opts.pullable ?? []).find((m) => fullName(m.name) === fullName(name));
    if (found === undefined) return fail('pull model manifest: file does not exist');
    const total = found.sizeBytes ?? 4_661_224_676;
    const digest = `sha256:${digestOf(name)}`;
    for (const completed of [0, Math.floor(total / 3), Math.floor((2 * total) / 3), total]) {
      progress({ status: `pulling ${digest.slice(7, 19)}`, digest, total, completed });
    }
    progress({ status: 'verifying sha256 digest' });
    progress({ status: 'writing manifest' });
    addModel(found);
    if (stream) {
      progress({ status: 'success' });
      res.end();
    } else sendJson(res, 200, { status: 'success' });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] as string;
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> | null = null;
      if (text !== '') {
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          requests.push({ method: req.method ?? '', path, body: null, raw: text });
          return sendJson(res, 400, { error: 'invalid character in request body' });
        }
      }
      requests.push({ method: req.method ?? '', path, body, raw: text });
      const route = `${req.method} ${path}`;
      switch (route) {
        case 'POST /api/chat':
          return chat(req, res, body ?? {});
        case 'GET /api/tags':
          return sendJson(res, 200, {
            models: [...models.values()].map((m) => ({
              name: m.name,
              model: m.name,
              modified_at: iso(started - 86_400_000),
              size: m.sizeBytes,
              digest: digestOf(m.name),
              details: details(m),
            })),
          });
        case 'GET /api/ps':
          return sendJson(res, 200, {
            models: [...models.values()]
              .filter((m) => m.loaded && (m.expiresAt > Date.now() || m.expiresAt < started))
              .map((m) => ({
                name: m.name,
                model: m.name,
                size: m.sizeBytes,
                digest: digestOf(m.name),
                details: details(m),
                expires_at: iso(m.expiresAt),
                size_vram: m.sizeBytes,
                context_length: 4096,
              })),
          });
        case 'POST /api/show': {
          const name = String(body?.model ?? body?.name ?? '');
          const m = models.get(fullName(name));
          if (m === undefined) return sendJson(res, 404, { error: `model '${name}' not found` });
          const show: Record<string, unknown> = {
            license: 'LLAMA 3 COMMUNITY LICENSE AGREEMENT',
            modelfile: `# Modelfile generated by "ollama show"\nFROM ${m.name}\n`,
            parameters: 'stop "<|eot_id|>"',
            template: '{{ .Prompt }}',
            details: details(m),
            model_info: {
              'general.architecture': m.family,
              'general.parameter_count': 8_030_261_248,
              [`${m.family}.context_length`]: 8192,
            },
            modified_at: iso(started - 86_400_000),
          };
          if (!legacy) show.capabilities = m.capabilities;
          return sendJson(res, 200, show);
        }
        case 'GET /api/version':
          return sendJson(res, 200, { version });
        case 'POST /api/pull':
          return pull(res, body ?? {});
        default:
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('404 page not found');
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // port 0: the OS picks a free port, so no fixed port or range can collide
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  Object.assign(fake, { port, url: `http://127.0.0.1:${port}` });
  return fake;
}

/** Split text into a few stream pieces, as a model emits tokens. */
function pieces(text: string): string[] {
  if (text === '') return [];
  const size = Math.max(1, Math.ceil(text.length / 4));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
