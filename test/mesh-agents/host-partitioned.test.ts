/**
 * A host lost mid-run without a word: node-b's link goes down (a laptop carried out of Wi-Fi
 * range). Its call just stalls; node-a learns of the loss from membership: the idempotent run
 * moves once node-b is suspect (3 s), the other ends when node-b is dead (10 s).
 */
import { B, describeHostLost } from './lost-host.js';

describeHostLost({
  how: 'partitioned',
  subnet: '100.64.83',
  lose: (m) => m.mesh.partition(m.index(B)),
  reason: /^the mesh reports node-b suspect$/,
});
