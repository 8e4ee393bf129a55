/** The part of `helix-node status --json` the harness reads (see docs/ for the full schema). */
import { z } from 'zod';

export type PeerState = 'alive' | 'suspect' | 'dead' | 'left';

/** The part of `helix-node status --json` the harness relies on (extra fields pass through). */
export const StatusViewSchema = z.looseObject({
  self: z.looseObject({ id: z.string(), name: z.string() }),
  nodes: z.array(
    z.looseObject({
      id: z.string(),
      name: z.string(),
      state: z.enum(['alive', 'suspect', 'dead', 'left']),
      addresses: z.array(z.string()),
      capabilities: z.unknown(),
      load: z.unknown(),
      rttMs: z.number().nullable(),
    }),
  ),
});
export type StatusView = z.infer<typeof StatusViewSchema>;

/** Parse and check a node's status output; the error names the node and what is wrong. */
export function parseStatus(text: string, i: number): StatusView {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`status of node ${i} printed no JSON: ${text.slice(0, 300)}`);
  }
  const parsed = StatusViewSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `status of node ${i} does not match the status schema: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
