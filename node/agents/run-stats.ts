/**
 * How each agent's runs went on this node since it started: runs, failures, and the median
 * duration of the last `window` runs. In memory only; the registry keeps per-image counts on disk.
 */
export interface AgentRunStats {
  /** runs that ended with a result or an error since the node started */
  runs: number;
  /** of those, the runs that ended with an error (the agent's fault, or the deadline) */
  failures: number;
  /** the median duration of the last runs, ms; null before the first run */
  p50Ms: number | null;
}

export class RunStats {
  private readonly byAgent = new Map<string, { runs: number; failures: number; ms: number[] }>();

  constructor(private readonly window = 100) {}

  record(agent: string, durationMs: number, ok: boolean): void {
    const s = this.byAgent.get(agent) ?? { runs: 0, failures: 0, ms: [] };
    s.runs += 1;
    if (!ok) s.failures += 1;
    s.ms.push(durationMs);
    if (s.ms.length > this.window) s.ms.shift();
    this.byAgent.set(agent, s);
  }

  of(agent: string): AgentRunStats {
    const s = this.byAgent.get(agent);
    if (!s) return { runs: 0, failures: 0, p50Ms: null };
    return { runs: s.runs, failures: s.failures, p50Ms: median(s.ms) };
  }
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const m = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return Math.round(m * 10) / 10;
}
