/** A real pino logger whose JSON lines land in `lines`, to check what was logged and why. */
import { pino, type LevelWithSilent } from 'pino';

export function capturingLogger(level: LevelWithSilent = 'debug') {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, lines };
}
