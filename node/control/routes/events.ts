/**
 * What must be live, for the CLI and the dashboard alike, and what `doctor` finds:
 *
 *   GET /v1/events     a stream (NDJSON, or server-sent events for `Accept: text/event-stream`)
 *                      of EventLine: the status report at once, again at each membership change
 *                      and every `statusEveryMs` (load, RTT); each transition; each new trace
 *   GET /v1/doctor     DoctorReport: every dependency checked on this node, with its fix
 *
 * The stream ends when the client goes away or the node stops. Status events are coalesced for a
 * client that does not keep up (only the newest is worth sending).
 */
import type { DoctorCheck } from '../../capabilities/doctor.js';
import type { Transition } from '../../membership/view.js';
import type { Trace } from '../../pipeline/trace.js';
import type { ControlServer } from '../server.js';
import type { StatusReport } from '../types.js';

/** The events of `GET /v1/events` (docs/status-json.md). */
export type LiveEvent =
  | { type: 'status'; status: StatusReport }
  | { type: 'member'; transition: Transition }
  | { type: 'trace'; trace: Trace };

export interface DoctorReport {
  schema: 'helix.doctor/v1';
  node: string;
  checks: DoctorCheck[];
}

export interface EventSources {
  status(): Promise<StatusReport>;
  /** membership transitions; returns unsubscribe */
  onMember(listener: (t: Transition) => void): () => void;
  /** traces added to this node's store; returns unsubscribe (null: no voice services) */
  onTrace: ((listener: (t: Trace) => void) => () => void) | null;
  doctor(): Promise<DoctorReport>;
  /** how often the status goes out when nothing changed (load and RTT move) */
  statusEveryMs?: number;
}

export function addEventRoutes(control: ControlServer, s: EventSources): void {
  control.route('GET', '/v1/doctor', () => s.doctor());

  control.route('GET', '/v1/events', async (_query, _req, res) => {
    const signal = res.signal;
    let pending: Promise<void> | null = null;
    let again = false;
    // one status at a time; a change while one is being made asks for another after it
    const sendStatus = (): void => {
      if (signal.aborted) return;
      if (pending) {
        again = true;
        return;
      }
      pending = s
        .status()
        .then((status) => {
          if (!signal.aborted) res.event({ type: 'status', status } satisfies LiveEvent);
        })
        .catch(() => undefined)
        .finally(() => {
          pending = null;
          if (again) {
            again = false;
            sendStatus();
          }
        });
    };
    const offMember = s.onMember((transition) => {
      res.event({ type: 'member', transition } satisfies LiveEvent);
      sendStatus();
    });
    const offTrace = s.onTrace?.((trace) =>
      res.event({ type: 'trace', trace } satisfies LiveEvent),
    );
    const tick = setInterval(sendStatus, s.statusEveryMs ?? 2000);
    sendStatus();
    try {
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      clearInterval(tick);
      offMember();
      offTrace?.();
    }
    return undefined;
  });
}
