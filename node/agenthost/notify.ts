/**
 * The `notify` host call: tell a node something (a timer went off). The note goes to that node
 * over the bus on `helix.v1.notify.<node id>`; the node logs it and hands it to its listeners
 * (the voice pipeline says it). A note for a node that is not alive fails, so the agent knows
 * it was not delivered.
 */
import { z } from 'zod';
import type { CallContext } from '../agents/index.js';
import type { NotifyParams } from '../agentspec/index.js';
import type { Bus, Subscription } from '../bus/index.js';
import { silentLogger, type Logger } from '../log.js';
import type { PeerView } from '../types.js';
import { lazySchema } from '../types.js';

export function notifySubject(nodeId: string): string {
  return `helix.v1.notify.${nodeId}`;
}

export const NotificationSchema = lazySchema(() =>
  z.object({
    v: z.literal(1),
    /** name of the node whose agent sent it */
    from: z.string().max(64),
    agent: z.string().max(64),
    text: z.string().min(1).max(1000),
    data: z.unknown().optional(),
    traceId: z.string().max(128).optional(),
    /** ms since epoch */
    at: z.number(),
  }),
);
export type Notification = z.infer<typeof NotificationSchema>;

export type NotifyListener = (note: Notification) => void;

export interface NotifierOptions {
  bus: Bus | null;
  view: () => readonly PeerView[];
  self: { id: string; name: string };
  log?: Logger;
}

export class Notifier {
  private readonly listeners = new Set<NotifyListener>();
  private sub: Subscription | null = null;
  private readonly log: Logger;

  constructor(private readonly o: NotifierOptions) {
    this.log = o.log ?? silentLogger;
  }

  /** Starts receiving this node's notes from the bus. */
  start(): void {
    if (!this.o.bus || this.sub) return;
    this.sub = this.o.bus.subscribe(notifySubject(this.o.self.id), (msg) => {
      const note = NotificationSchema.safeParse(decode(msg.data));
      if (!note.success) {
        this.log.warn({ subject: msg.subject }, 'dropped a malformed notification');
        return;
      }
      this.deliver(note.data);
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
    this.listeners.clear();
  }

  onNotify(listener: NotifyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The host-call handler. `params.node` (a name or id) defaults to this node. */
  handler = async (
    params: NotifyParams,
    ctx: Pick<CallContext, 'agent' | 'traceId'>,
  ): Promise<{ node: string }> => {
    const note: Notification = {
      v: 1,
      from: this.o.self.name,
      agent: ctx.agent.name,
      text: params.text,
      data: params.data,
      traceId: ctx.traceId,
      at: Date.now(),
    };
    const wanted = params.node;
    if (!wanted || wanted === this.o.self.id || wanted === this.o.self.name) {
      this.deliver(note);
      return { node: this.o.self.name };
    }
    const view = this.o.view();
    const target = view.find((p) => p.id === wanted) ?? view.find((p) => p.name === wanted);
    if (!target) {
      const known = view.map((p) => p.name).sort();
      throw new Error(
        `no node ${JSON.stringify(wanted)} in the mesh (nodes: ${known.join(', ') || 'none'})`,
      );
    }
    if (target.self) {
      this.deliver(note);
      return { node: target.name };
    }
    if (target.state !== 'alive' && target.state !== 'suspect') {
      throw new Error(`${target.name} is ${target.state}; the notification was not delivered`);
    }
    if (!this.o.bus) throw new Error(`the bus is not connected; cannot notify ${target.name}`);
    this.o.bus.publish(notifySubject(target.id), encode(note));
    return { node: target.name };
  };

  private deliver(note: Notification): void {
    this.log.info(
      { from: note.from, agent: note.agent, traceId: note.traceId },
      `notify: ${note.text}`,
    );
    for (const l of this.listeners) {
      try {
        l(note);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'notify listener failed');
      }
    }
  }
}

function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function decode(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}
