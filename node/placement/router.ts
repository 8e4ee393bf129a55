/**
 * Where the LLM router runs (pure; DESIGN.md §4): a GPU peer with the router model already
 * loaded, else a GPU peer holding it, else any peer holding it, else any peer with Ollama
 * (it will answer "model missing", which says what to pull). Ties: lowest RTT (self counts as
 * 0), then lowest load per core, then id.
 */
import type { PeerView } from '../types.js';

/** "llama3" and "llama3:latest" are the same model; other tags are distinct. */
export function sameModel(a: string, b: string): boolean {
  const norm = (m: string) => (m.includes(':') ? m : `${m}:latest`).toLowerCase();
  return norm(a) === norm(b);
}

/** Lower is better; null when the peer cannot route at all. */
function routerTier(peer: PeerView, model: string): number | null {
  if (peer.state !== 'alive' && !peer.self) return null;
  const ollama = peer.capabilities.ollama;
  if (ollama === null) return null;
  const gpu = peer.capabilities.gpu.length > 0;
  const loaded = ollama.loaded.some((m) => sameModel(m, model));
  const held = loaded || ollama.models.some((m) => sameModel(m, model));
  if (gpu && loaded) return 0;
  if (gpu && held) return 1;
  if (held) return 2;
  return 3;
}

/** The peer whose Ollama should route free-form requests, or null (see noRouterLlmMessage). */
export function pickRouterPeer(view: readonly PeerView[], model: string): PeerView | null {
  let best: { peer: PeerView; key: [number, number, number, string] } | null = null;
  for (const peer of view) {
    const tier = routerTier(peer, model);
    if (tier === null) continue;
    const rtt = peer.self ? 0 : (peer.rttMs ?? Number.POSITIVE_INFINITY);
    const key: [number, number, number, string] = [tier, rtt, peer.load.loadPerCore, peer.id];
    if (best === null || compareKeys(key, best.key) < 0) best = { peer, key };
  }
  return best?.peer ?? null;
}

/** What the person hears when no peer can route: what to install. */
export function noRouterLlmMessage(model: string): string {
  return `no router LLM in the mesh: install Ollama on a GPU machine and run \`ollama pull ${model}\` (simple commands still work through the fast matcher)`;
}

function compareKeys(
  a: [number, number, number, string],
  b: [number, number, number, string],
): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0 && !Number.isNaN(d)) return d;
  }
  return a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0;
}
