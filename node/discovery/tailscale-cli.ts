/**
 * TailscaleClient over the `tailscale` CLI (the binary talks to tailscaled's LocalAPI for us,
 * so no socket path or API version to track). Every call is time-bounded and cancellable.
 */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { DependencyMissingError, HelixError, InputError } from '../errors.js';
import {
  parseTailscaleIp4,
  parseTailscaleWhois,
  type TailscaleClient,
  type TailscaleWhois,
} from './tailscale.js';

export const TAILSCALE_INSTALL_HINT =
  'install Tailscale from https://tailscale.com/download and run `tailscale up`, or set discovery.tailscale = false in helix.toml';

/** `tailscale <args>` ran but failed: exit status, timeout or unreadable output. */
export class TailscaleCommandError extends HelixError {
  override readonly exitCode = 69;
  constructor(
    readonly command: string,
    /** the child's exit status; null when it was killed (timeout, abort) */
    readonly status: number | null,
    readonly stderr: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface TailscaleCliOptions {
  /** binary name on PATH or a path (discovery.tailscale_bin) */
  bin?: string;
  /** per-command limit */
  timeoutMs?: number;
}

export class TailscaleCli implements TailscaleClient {
  readonly bin: string;
  readonly timeoutMs: number;

  constructor(opts: TailscaleCliOptions = {}) {
    this.bin = opts.bin ?? 'tailscale';
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  async status(signal?: AbortSignal): Promise<unknown> {
    return parseJson(await this.run(['status', '--json'], signal), 'status --json');
  }

  async whois(ip: string, signal?: AbortSignal): Promise<TailscaleWhois> {
    // only a literal IP reaches the command line, so a hostile string can never become a flag
    if (isIP(ip) === 0)
      throw new InputError(`tailscale whois needs an IP address, got ${JSON.stringify(ip)}`);
    return parseTailscaleWhois(
      parseJson(await this.run(['whois', '--json', ip], signal), 'whois --json'),
    );
  }

  async ip4(signal?: AbortSignal): Promise<string[]> {
    return parseTailscaleIp4(await this.run(['ip', '-4'], signal));
  }

  private run(args: string[], signal?: AbortSignal): Promise<string> {
    const command = `${this.bin} ${args.join(' ')}`;
    return new Promise((resolve, reject) => {
      execFile(
        this.bin,
        args,
        {
          timeout: this.timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 16 * 1024 * 1024,
          signal,
          encoding: 'utf8',
          env: { ...process.env, LC_ALL: 'C' },
        },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & {
            code?: string | number;
            killed?: boolean;
            signal?: string | null;
          };
          if (e.code === 'ENOENT') {
            return reject(
              new DependencyMissingError(`tailscale (${this.bin})`, TAILSCALE_INSTALL_HINT, {
                cause: err,
              }),
            );
          }
          if (e.code === 'EACCES') {
            return reject(
              new DependencyMissingError(
                `tailscale (${this.bin})`,
                `${this.bin} is not executable; fix its mode or set discovery.tailscale_bin`,
                { cause: err },
              ),
            );
          }
          if (e.name === 'AbortError') {
            return reject(
              new TailscaleCommandError(command, null, stderr, `\`${command}\` was cancelled`, {
                cause: err,
              }),
            );
          }
          if (e.killed || e.signal) {
            return reject(
              new TailscaleCommandError(
                command,
                null,
                stderr,
                `\`${command}\` did not answer within ${this.timeoutMs} ms; is tailscaled stuck? try \`systemctl restart tailscaled\``,
                {
                  cause: err,
                },
              ),
            );
          }
          const status = typeof e.code === 'number' ? e.code : null;
          const detail = stderr.trim() || stdout.trim() || 'no output';
          reject(
            new TailscaleCommandError(
              command,
              status,
              stderr,
              `\`${command}\` failed (exit ${status ?? '?'}): ${detail}${adviceFor(detail)}`,
              { cause: err },
            ),
          );
        },
      );
    });
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(
      `\`tailscale ${what}\` printed something that is not JSON; check \`tailscale version\``,
      { cause: err },
    );
  }
}

/** The CLI's own wording for the common failures, turned into what to do. */
function adviceFor(stderr: string): string {
  if (/doesn't appear to be running|failed to connect to local tailscale/i.test(stderr)) {
    return '; start it with `systemctl enable --now tailscaled` and run `tailscale up`';
  }
  if (/no match for IP|peer not found|not found/i.test(stderr))
    return '; that address is not on this tailnet';
  return '';
}
