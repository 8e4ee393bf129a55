/**
 * A zod schema built on first use instead of when its module loads.
 *
 * zod 4 builds every schema eagerly, and each one is a heavy object: its internals, a dozen
 * closures (`parse`, `optional`, `extend`...) and a dictionary-mode shape. The daemon's modules
 * declare about 150 schemas at their top level (protocol messages of Home Assistant, zigbee2mqtt,
 * Ollama, agents, traces, the config...), some 1900 zod objects with their parts, and a node that
 * never speaks to Home Assistant or an LLM never parses most of them (docs/architecture.md,
 * "Memory").
 *
 * `lazySchema(() => z.object({...}))` returns a stand-in with the schema's own type: the first
 * property read (`.parse`, `.shape`, zod's `_zod` when another schema composes it) builds the real
 * one, and every read after that goes to it. Methods are zod's own closures over the real
 * instance, so `this` never matters; `instanceof` works through zod's `Symbol.hasInstance`.
 */
export function lazySchema<T extends object>(build: () => T, scope?: SchemaScope): T {
  const slot: { real?: T } = {};
  scope?.slots.push(slot);
  const target = (): T => (slot.real ??= build());
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    has: (_, key) => Reflect.has(target(), key),
    set: (_, key, value) => Reflect.set(target(), key, value),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      // a proxy may not report a property its (empty) target lacks as non-configurable
      return descriptor && { ...descriptor, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(target()),
  });
}

/**
 * Lazy schemas that are used in one burst and then not for a long time (the config: parsed when
 * the node starts): `release()` drops what they built, and the next use builds it again.
 */
export class SchemaScope {
  readonly slots: { real?: unknown }[] = [];

  release(): void {
    for (const slot of this.slots) delete slot.real;
  }
}
