/**
 * Debian's mosquitto as a real MQTT broker for tests: one per test, on a port the OS picks, with
 * persistence on (as Debian's default config has it) so retained topics survive a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export class Mosquitto {
  private child: ChildProcess | null = null;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<Mosquitto> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'helix-test-mosquitto-'));
    const broker = new Mosquitto(dir, await freePort());
    await writeFile(
      path.join(dir, 'mosquitto.conf'),
      [
        `listener ${broker.port} 127.0.0.1`,
        'allow_anonymous true',
        // Started as root, mosquitto would drop to its own user, which cannot write this directory.
        'user root',
        'persistence true',
        `persistence_location ${dir}/`,
        '',
      ].join('\n'),
    );
    await broker.run();
    return broker;
  }

  private async run(): Promise<void> {
    const child = spawn('mosquitto', ['-c', path.join(this.dir, 'mosquitto.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    await waitFor(
      async () => {
        if (gone) throw new Error(`mosquitto exited on start: ${this.log}`);
        return accepting(this.port);
      },
      { timeoutMs: 10_000, what: `mosquitto on port ${this.port}` },
    );
  }

  /** SIGTERM and wait: mosquitto writes its persistence file on the way out. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.run();
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}
