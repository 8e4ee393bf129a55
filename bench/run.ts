/**
 * `npm run bench [-- NAME …]`: runs the named benchmarks (all of them without a name). Each one
 * prints its figures as ratios against a baseline measured in the same run; none asserts a time.
 * Most need root (network namespaces, dockerd) like the integration tests.
 */
import { spawnSync } from 'node:child_process';

const BENCHES: Record<string, { file: string; about: string; args?: string[] }> = {
  matcher: { file: 'bench/router/matcher.ts', about: 'fast intent matcher vs a plain RegExp' },
  'agents-baseline': {
    file: 'bench/agents/baseline.ts',
    about: 'bare container stdio and docker run',
  },
  warm: {
    file: 'bench/agenthost/warm.ts',
    about: 'warm path over gRPC (plaintext and mesh TLS) vs bare stdio round trip',
  },
  'rpc-tls': {
    file: 'bench/rpc/tls.ts',
    about: 'one gRPC call and one streamed utterance: plaintext vs mesh TLS 1.3',
  },
  cold: { file: 'bench/agenthost/cold.ts', about: 'cold run vs bare docker run, same sandbox' },
  transfer: {
    file: 'bench/agenthost/transfer.ts',
    about: 'image transfer (ImageStore.Fetch, mirror pull) vs docker save | load',
  },
  'stt-overhead': {
    file: 'bench/pipeline/stt-overhead.ts',
    about: 'pipeline STT vs the engine alone',
  },
  phrases: {
    file: 'bench/stt/phrases.ts',
    about:
      'phrase recogniser: right / refused / wrong on tuning and held-out sets, non-commands, end of speech -> action',
  },
  converge: {
    file: 'bench/mesh/converge.ts',
    about: 'mesh convergence and dead detection, 3 and 8 nodes',
  },
  'voice-warm': {
    file: 'bench/e2e/voice-warm.ts',
    about: 'end of speech to action on the harness mesh',
  },
  'settings-converge': {
    file: 'bench/settings/converge.ts',
    about: 'mesh-wide settings: write to last node, partition heal, late join; 3 and 8 nodes',
  },
  'cli-start': {
    file: 'bench/cli/start.ts',
    about: 'helix-node --help, status, run echo echo and the daemon import vs node -e 0',
  },
  'node-start': {
    file: 'bench/node/start.ts',
    about: 'Pi-class: join until status (unconstrained and 25 % of a core), converge, idle RSS',
  },
  vocabulary: {
    file: 'bench/settings/vocabulary.ts',
    about: 'speech vocabulary rebuild after a room change: matcher, phrase grammar, LLM schema',
  },
};

const names = process.argv.slice(2);
if (names.includes('--help') || names.includes('-h')) {
  for (const [name, b] of Object.entries(BENCHES)) console.log(`${name.padEnd(16)} ${b.about}`);
  process.exit(0);
}
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`,
  );
  process.exit(64);
}
let failed = 0;
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  const b = BENCHES[name]!;
  console.log(`\n== ${name}: ${b.about}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', b.file, ...(b.args ?? [])], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed += 1;
}
process.exit(failed > 0 ? 1 : 0);
