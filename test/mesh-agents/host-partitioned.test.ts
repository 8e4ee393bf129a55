/**
 * A host lost mid-run without a word: node-b's link goes down (a laptop carried out of Wi-Fi
 * range). Its call just stalls; node-a learns of the loss from membership (dead after 10 s).
 */
import { B, describeHostLost } from './lost-host.js';

describeHostLost({
  how: 'partitioned',
  subnet: '100.64.83',
  lose: (m) => m.mesh.partition(m.index(B)),
  reason: /^the mesh reports node-b dead$/,
});
