/**
 * What the person hears when something goes wrong: what failed and where, in one sentence.
 * Pure. Messages from lower layers already say what to do; these put them in a person's words.
 */
import { GrpcStatus, RpcCallError } from '../rpc/index.js';
import { describeError } from '../errors.js';
import { nameKey } from '../home/index.js';

export function sentence(text: string): string {
  const t = text.trim();
  if (t === '') return t;
  const first = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** True when the peer was never reached or stopped answering (rather than answering with an error). */
export function isUnreachable(err: unknown): boolean {
  return (
    err instanceof RpcCallError &&
    (err.code === GrpcStatus.UNAVAILABLE || err.code === GrpcStatus.DEADLINE_EXCEEDED)
  );
}

/** The peer's own words for a gRPC failure (its status details), else the error's message. */
export function peerDetail(err: unknown): string {
  const cause = (err as { cause?: { details?: string } }).cause;
  if (err instanceof RpcCallError && typeof cause?.details === 'string' && cause.details !== '') {
    return cause.details;
  }
  return describeError(err);
}

/** Why a peer could not be reached, short enough to say aloud. */
export function unreachableReason(err: unknown): string {
  if (err instanceof RpcCallError && err.code === GrpcStatus.DEADLINE_EXCEEDED) {
    return 'it did not answer in time';
  }
  return 'it is not answering; check that helix-node runs there';
}

/** "a", "a and b", "a, b and c" */
export function spokenList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** "lights.rooms" -> "room", "home.lights" -> "light": what a value of that list is called. */
function nounOf(from: string): string {
  const last = from.split('.').at(-1) ?? from;
  return last.endsWith('s') ? last.slice(0, -1) : last;
}

export const replies = {
  /** "I don't know a room called garage; the rooms are kitchen, bedroom and living room." */
  unknownValue: (u: { value: string; from: string; allowed: readonly string[] }) => {
    const noun = nounOf(u.from);
    const known = [...new Set(u.allowed.map(nameKey))].sort();
    const rest =
      known.length === 0
        ? `no ${noun}s are set up yet (helix-node rooms set, or connect zigbee2mqtt or Home Assistant)`
        : known.length === 1
          ? `the only ${noun} is ${known[0]}`
          : `the ${noun}s are ${spokenList(known)}`;
    return `I don't know a ${noun} called ${nameKey(u.value)}; ${rest}.`;
  },
  noTranscriber: (why: string) => sentence(why),
  transcriberUnreachable: (node: string, err: unknown) =>
    sentence(`I couldn't reach the transcriber on ${node}: ${unreachableReason(err)}`),
  transcriberFailed: (node: string, err: unknown) =>
    sentence(`Speech recognition failed on ${node}: ${peerDetail(err)}`),
  nothingHeard: () => "I didn't hear any words.",
  notCaught: (heard: string) =>
    heard ? `I didn't catch that: '${heard}'.` : "I didn't catch that.",
  /** the recogniser's own sentence (it says what it heard and that it is not sure) */
  uncertain: (why: string) => sentence(why),
  notUnderstood: (transcript: string, reason: string) =>
    `I didn't catch that: '${transcript}'${reason ? ` (${reason.replace(/\.$/, '')})` : ''}.`,
  routerUnreachable: (node: string, err: unknown) =>
    sentence(`I couldn't reach the router on ${node}: ${unreachableReason(err)}`),
  routerFailed: (node: string, err: unknown) =>
    sentence(`The router on ${node} failed: ${peerDetail(err)}`),
  noRouter: (message: string) => sentence(message),
  runFailed: (agent: string, node: string | undefined, message: string) =>
    sentence(`${agent} failed${node ? ` on ${node}` : ''}: ${message}`),
  noHost: (agent: string, message: string) => sentence(`I can't run ${agent} anywhere: ${message}`),
  done: () => 'Done.',
  cancelled: (stage: string) => `Cancelled during ${stage}.`,
};
