/** The message bus as the rest of the node sees it (core NATS underneath; no JetStream). */
export interface BusMessage {
  subject: string;
  data: Uint8Array;
  /** reply to a request; no-op when the sender asked for no reply */
  respond(data: Uint8Array): void;
}

export interface Subscription {
  unsubscribe(): void;
}

export interface Bus {
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, onMessage: (msg: BusMessage) => void): Subscription;
  request(subject: string, data: Uint8Array, opts: { timeoutMs: number }): Promise<Uint8Array>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Username/password pair nats-server checks for routes or clients. */
export interface NatsCredentials {
  user: string;
  pass: string;
}
