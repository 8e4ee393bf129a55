import type { Bus, BusMessage, Subscription } from '../../../node/bus/types.js';

/** An in-process Bus with NATS subject matching ('*' one token, '>' the rest), for service unit tests. */
export class MemoryBus implements Bus {
  readonly published: { subject: string; data: Uint8Array }[] = [];
  readonly #subs = new Set<{ pattern: string; onMessage: (msg: BusMessage) => void }>();
  closed = false;

  publish(subject: string, data: Uint8Array): void {
    if (this.closed) throw new Error('bus closed');
    this.published.push({ subject, data });
    this.#deliver(subject, data, () => {});
  }

  subscribe(pattern: string, onMessage: (msg: BusMessage) => void): Subscription {
    const sub = { pattern, onMessage };
    this.#subs.add(sub);
    return { unsubscribe: () => this.#subs.delete(sub) };
  }

  request(
    subject: string,
    data: Uint8Array,
    { timeoutMs }: { timeoutMs: number },
  ): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`request ${subject} timed out`)), timeoutMs);
      const answered = this.#deliver(subject, data, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      if (!answered) {
        clearTimeout(timer);
        reject(new Error(`no responders for ${subject}`));
      }
    });
  }

  async flush(): Promise<void> {
    if (this.closed) throw new Error('bus closed');
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  subscriptions(): string[] {
    return [...this.#subs].map((s) => s.pattern);
  }

  #deliver(subject: string, data: Uint8Array, respond: (d: Uint8Array) => void): boolean {
    let delivered = false;
    for (const sub of [...this.#subs]) {
      if (!matches(sub.pattern, subject)) continue;
      delivered = true;
      sub.onMessage({ subject, data, respond });
    }
    return delivered;
  }
}

function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
