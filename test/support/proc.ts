/** /proc readings shared by the test harness and the test engine's start lock. */
import { readFileSync } from 'node:fs';

/**
 * A process's start time (clock ticks since boot, field 22 of /proc/PID/stat), or null when it is
 * not running. Pid and start time together name a process even after its pid is reused.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command; starttime is field 22 overall, 20th after ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
