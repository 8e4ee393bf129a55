import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { lazySchema, SchemaScope } from '../node/types.js';
import { configSchemas, ConfigSchema, parseConfig } from '../node/config/index.js';

describe('lazySchema', () => {
  it('builds the schema on first use, once, and behaves as the schema itself', () => {
    let builds = 0;
    const Point = lazySchema(() => {
      builds++;
      return z.object({ x: z.number(), y: z.number().default(0) });
    });
    expect(builds).toBe(0);
    expect(Point.parse({ x: 1 })).toEqual({ x: 1, y: 0 });
    expect(Point.safeParse({ x: 'a' }).success).toBe(false);
    expect(Object.keys(Point.shape)).toEqual(['x', 'y']);
    expect(Point instanceof z.ZodObject).toBe(true);
    expect(builds).toBe(1);
  });

  it('composes: an outer schema built later takes the inner lazy one as a part', () => {
    let inner = 0;
    const Room = lazySchema(() => {
      inner++;
      return z.enum(['kitchen', 'office']);
    });
    const Cmd = lazySchema(() =>
      z.object({ room: Room.optional(), rooms: z.array(Room), either: z.union([Room, z.null()]) }),
    );
    const Extended = lazySchema(() => Cmd.extend({ level: z.number().int() }));
    expect(inner).toBe(0);
    expect(Extended.parse({ rooms: ['office'], either: null, level: 3 })).toEqual({
      rooms: ['office'],
      either: null,
      level: 3,
    });
    const bad = Extended.safeParse({ room: 'hall', rooms: [], either: 'office', level: 1 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['room']);
    expect(inner).toBe(1);
  });

  it('a scope drops what its schemas built; the next use builds them again, the same', () => {
    const scope = new SchemaScope();
    let builds = 0;
    const Port = lazySchema(() => {
      builds++;
      return z.number().int().min(1).max(65535);
    }, scope);
    const Server = lazySchema(() => z.strictObject({ port: Port.default(80) }), scope);
    expect(Server.parse({})).toEqual({ port: 80 });
    scope.release();
    expect(Server.safeParse({ port: 0 }).success).toBe(false);
    expect(Server.parse({ port: 8080 })).toEqual({ port: 8080 });
    expect(builds).toBe(2);
  });
});

describe('the config schema', () => {
  it('is released after every parse and gives the same result when built again', () => {
    const first = parseConfig({ node: { name: 'a' } });
    expect(configSchemas.slots.every((s) => s.real === undefined)).toBe(true);
    expect(parseConfig({ node: { name: 'a' } })).toEqual(first);
    expect(() => parseConfig({ nodee: {} })).toThrow(/unknown key/);
    expect(configSchemas.slots.every((s) => s.real === undefined)).toBe(true);
    // used directly (tests, the harness), it still works and is kept until the next parse
    expect(ConfigSchema.safeParse({}).success).toBe(true);
  });
});
