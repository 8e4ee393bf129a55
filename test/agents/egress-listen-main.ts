/** A TCP (HTTP) and UDP listener on 0.0.0.0:<port> that prints one line per arrival. */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const name = process.argv[3] ?? 'listener';
createServer((req, res) => {
  console.log(`tcp ${req.socket.localAddress ?? ''}`);
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`page from ${name}`);
})
  .on('connection', (s) => console.log(`conn ${s.localAddress ?? ''}`))
  .listen(port, '0.0.0.0', () => console.log('ready'));
createSocket('udp4')
  .on('message', (m) => console.log(`udp ${m.toString()}`))
  .bind(port, '0.0.0.0');
