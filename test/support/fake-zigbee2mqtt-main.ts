/**
 * The zigbee2mqtt stand-in as a process, for tests whose broker lives in a network namespace:
 *
 *   node --import tsx test/support/fake-zigbee2mqtt-main.ts mqtt://127.0.0.1:1883
 *
 * Publishes the retained bridge/devices and bridge/groups of test/home/fixtures/zigbee2mqtt.ts,
 * prints "ready" once they are out, then one JSON line {"topic", "payload"} per `/set` it answers.
 * Lines on stdin: "join <device-json>" pairs a device; anything else is ignored. Ends on SIGTERM.
 */
import { createInterface } from 'node:readline';
import { devices, groups } from '../home/fixtures/zigbee2mqtt.js';
import { FakeZigbee2mqtt } from './fake-zigbee2mqtt.js';

const url = process.argv[2];
if (!url) {
  console.error('usage: fake-zigbee2mqtt-main.ts MQTT_URL');
  process.exit(64);
}
const z2m = await FakeZigbee2mqtt.start(url, devices, groups);
let printed = 0;
const flush = (): void => {
  for (; printed < z2m.sets.length; printed++)
    process.stdout.write(`${JSON.stringify(z2m.sets[printed])}\n`);
};
const timer = setInterval(flush, 20);
process.stdout.write('ready\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.startsWith('join ')) void z2m.join(JSON.parse(line.slice(5)) as Record<string, unknown>);
});
process.once('SIGTERM', () => {
  clearInterval(timer);
  flush();
  void z2m.stop().then(() => process.exit(0));
});
