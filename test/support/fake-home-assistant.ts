/**
 * A stand-in for Home Assistant's websocket API (Home Assistant itself cannot be installed here),
 * on a real socket at ws://127.0.0.1:<port from the OS>/api/websocket. It speaks the protocol of
 * homeassistant/components/websocket_api: auth_required -> auth -> auth_ok | auth_invalid,
 * increasing ids (id_reuse otherwise), `result` with success/error, `subscribe_events` answered by
 * `event` messages carrying the subscription's id, the config/*_registry/list commands, get_states
 * and call_service. Tests change its registries and break its connections on purpose.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

type Json = Record<string, unknown>;

export interface FakeHomeAssistantData {
  areas: Json[];
  devices: Json[];
  entities: Json[];
  states: Json[];
}

interface Client {
  socket: WebSocket;
  authed: boolean;
  lastId: number;
  /** subscription id -> event type ("*" when subscribe_events had none) */
  subscriptions: Map<number, string>;
}

export interface ServiceCall {
  domain: string;
  service: string;
  service_data: Json;
  target: Json;
}

export class FakeHomeAssistant {
  readonly token: string;
  readonly calls: ServiceCall[] = [];
  /** Command types the server receives but never answers (to drop a connection mid-call). */
  readonly unanswered = new Set<string>();
  /** Every auth attempt, in order (true: accepted). */
  readonly auths: boolean[] = [];
  private readonly clients = new Set<Client>();
  private data: FakeHomeAssistantData;
  private wss: WebSocketServer | null = null;
  private nextContext = 1;
  port = 0;

  constructor(data: FakeHomeAssistantData, token = 'valid-long-lived-token') {
    this.data = structuredClone(data);
    this.token = token;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connected and authenticated clients. */
  get authedClients(): number {
    return [...this.clients].filter((c) => c.authed).length;
  }

  subscriptionsFor(eventType: string): number {
    let n = 0;
    for (const c of this.clients)
      for (const t of c.subscriptions.values()) if (t === eventType) n++;
    return n;
  }

  async start(port = 0): Promise<void> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/api/websocket' });
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    this.port = (wss.address() as AddressInfo).port;
    wss.on('connection', (socket) => this.accept(socket));
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.socket.terminate();
    this.clients.clear();
    const wss = this.wss;
    this.wss = null;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  /** Drop every connection as a restarting Home Assistant would (no close frame). */
  dropConnections(): void {
    for (const c of this.clients) c.socket.terminate();
  }

  /** Send raw text to every authenticated client. */
  sendRaw(text: string): void {
    for (const c of this.clients) if (c.authed) c.socket.send(text);
  }

  /** Rename or add an area, as the UI does, and fire area_registry_updated. */
  upsertArea(area: Json): void {
    const i = this.data.areas.findIndex((a) => a.area_id === area.area_id);
    if (i >= 0) this.data.areas[i] = area;
    else this.data.areas.push(area);
    this.fire('area_registry_updated', {
      action: i >= 0 ? 'update' : 'create',
      area_id: area.area_id,
    });
  }

  /** Move an entity to another area and fire entity_registry_updated. */
  updateEntity(entityId: string, changes: Json): void {
    const entry = this.data.entities.find((e) => e.entity_id === entityId);
    if (!entry) throw new Error(`no entity ${entityId}`);
    const old = Object.fromEntries(Object.keys(changes).map((k) => [k, entry[k]]));
    Object.assign(entry, changes);
    this.fire('entity_registry_updated', { action: 'update', entity_id: entityId, changes: old });
  }

  /** Delete an entity as Home Assistant does: registry removal, then its state goes. */
  removeEntity(entityId: string): void {
    this.data.entities = this.data.entities.filter((e) => e.entity_id !== entityId);
    this.fire('entity_registry_updated', { action: 'remove', entity_id: entityId });
    const old = this.data.states.find((s) => s.entity_id === entityId) ?? null;
    this.data.states = this.data.states.filter((s) => s.entity_id !== entityId);
    this.fire('state_changed', { entity_id: entityId, old_state: old, new_state: null });
  }

  /** Remove an entity without telling anyone (a client that missed the events). */
  removeEntitySilently(entityId: string): void {
    this.data.entities = this.data.entities.filter((e) => e.entity_id !== entityId);
    this.data.states = this.data.states.filter((s) => s.entity_id !== entityId);
  }

  fire(eventType: string, data: Json): void {
    const event = {
      event_type: eventType,
      data,
      origin: 'LOCAL',
      time_fired: new Date().toISOString(),
      context: this.context(),
    };
    for (const c of this.clients) {
      if (!c.authed) continue;
      for (const [id, type] of c.subscriptions) {
        if (type === eventType || type === '*')
          c.socket.send(JSON.stringify({ id, type: 'event', event }));
      }
    }
  }

  private context(): Json {
    return { id: `01JFAKECONTEXT${this.nextContext++}`, parent_id: null, user_id: null };
  }

  private accept(socket: WebSocket): void {
    const client: Client = { socket, authed: false, lastId: 0, subscriptions: new Map() };
    this.clients.add(client);
    socket.on('close', () => this.clients.delete(client));
    socket.send(JSON.stringify({ type: 'auth_required', ha_version: '2025.6.0' }));
    socket.on('message', (raw) => {
      let msg: Json;
      try {
        msg = JSON.parse(raw.toString()) as Json;
      } catch {
        socket.close(1003);
        return;
      }
      if (!client.authed) return this.authenticate(client, msg);
      this.handle(client, msg);
    });
  }

  private authenticate(client: Client, msg: Json): void {
    if (msg.type !== 'auth') {
      // auth.py: anything else during auth is an invalid auth message
      client.socket.send(
        JSON.stringify({
          type: 'auth_invalid',
          message: 'Auth message incorrectly formatted: expected auth',
        }),
      );
      client.socket.close();
      return;
    }
    const ok = msg.access_token === this.token;
    this.auths.push(ok);
    if (ok) {
      client.authed = true;
      client.socket.send(JSON.stringify({ type: 'auth_ok', ha_version: '2025.6.0' }));
    } else {
      client.socket.send(
        JSON.stringify({ type: 'auth_invalid', message: 'Invalid access token or password' }),
      );
      client.socket.close();
    }
  }

  private handle(client: Client, msg: Json): void {
    const id = msg.id;
    const send = (m: Json): void => client.socket.send(JSON.stringify({ id, ...m }));
    const ok = (result: unknown): void => send({ type: 'result', success: true, result });
    const error = (code: string, message: string): void =>
      send({ type: 'result', success: false, error: { code, message } });
    if (typeof id !== 'number')
      return error(
        'invalid_format',
        "Message incorrectly formatted: required key not provided @ data['id']",
      );
    if (id <= client.lastId) return error('id_reuse', 'Identifier values have to increase.');
    client.lastId = id;
    if (typeof msg.type === 'string' && this.unanswered.has(msg.type)) return;
    switch (msg.type) {
      case 'config/area_registry/list':
        return ok(this.data.areas);
      case 'config/device_registry/list':
        return ok(this.data.devices);
      case 'config/entity_registry/list':
        return ok(this.data.entities);
      case 'get_states':
        return ok(this.data.states);
      case 'subscribe_events':
        client.subscriptions.set(id, typeof msg.event_type === 'string' ? msg.event_type : '*');
        return ok(null);
      case 'call_service':
        return this.callService(msg, ok, error);
      case 'ping':
        return send({ type: 'pong' });
      default:
        return error('unknown_command', 'Unknown command.');
    }
  }

  private callService(
    msg: Json,
    ok: (r: unknown) => void,
    error: (c: string, m: string) => void,
  ): void {
    const call: ServiceCall = {
      domain: String(msg.domain),
      service: String(msg.service),
      service_data: (msg.service_data as Json | undefined) ?? {},
      target: (msg.target as Json | undefined) ?? {},
    };
    if (call.domain !== 'light' || !['turn_on', 'turn_off', 'toggle'].includes(call.service)) {
      return error('not_found', `Service ${call.domain}.${call.service} not found.`);
    }
    this.calls.push(call);
    const ids = ([] as unknown[]).concat(call.target.entity_id ?? []);
    for (const entityId of ids) {
      const old = this.data.states.find((s) => s.entity_id === entityId);
      // Home Assistant only logs "Referenced entities ... are missing or not currently available"
      // for an entity that does not exist, and answers success; the client must know its lights.
      if (!old) continue;
      const next = {
        ...old,
        state: call.service === 'turn_off' ? 'off' : 'on',
        last_changed: new Date().toISOString(),
        last_updated: new Date().toISOString(),
        context: this.context(),
      };
      this.data.states = this.data.states.map((s) => (s === old ? next : s));
      this.fire('state_changed', { entity_id: entityId, old_state: old, new_state: next });
    }
    ok({ context: this.context(), response: null });
  }
}
