/** A host lost mid-run: node-b's whole namespace is killed (daemon and nats-server, a power cut). */
import { B, describeHostLost } from './lost-host.js';

describeHostLost({
  how: 'killed',
  subnet: '100.64.82',
  lose: (m) => m.mesh.kill(m.index(B), 'SIGKILL', 'namespace'),
  // The call's connection breaks at once; membership would say "dead" only 10 s later.
  reason: /^(the connection to node-b broke|node-b dropped the call|node-b ended the call)/,
});
