import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyMissingError, InputError } from '../../node/errors.js';
import {
  TailscaleCli,
  TailscaleCommandError,
  parseTailscaleStatus,
} from '../../node/discovery/index.js';
import { TAILSCALE_FIXTURES } from '../fixtures/tailscale.js';

const fixtures = TAILSCALE_FIXTURES;

/**
 * Stand-in `tailscale` executables: real child processes printing the real CLI's output
 * (fixtures) or failing the way the real one does.
 */
let dir: string;
const bin = (name: string) => path.join(dir, name);

function script(name: string, body: string): void {
  writeFileSync(bin(name), `#!/bin/sh\n${body}\n`);
  chmodSync(bin(name), 0o755);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'helix-tailscale-cli-'));
  script(
    'tailscale',
    `case "$1" in
  status) [ "$2" = "--json" ] && exec cat "${fixtures}/status-running.json" ;;
  whois)
    [ "$2" = "--json" ] || exit 2
    case "$3" in
      100.101.1.2) exec cat "${fixtures}/whois-tagged.json" ;;
      *) echo "peer not found" >&2; exit 1 ;;
    esac ;;
  ip) [ "$2" = "-4" ] && exec cat "${fixtures}/ip4.txt" ;;
esac
echo "unexpected arguments: $*" >&2; exit 2`,
  );
  script(
    'tailscale-down',
    `echo "failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)" >&2; exit 1`,
  );
  script('tailscale-slow', 'exec sleep 30');
  script('tailscale-garbage', 'echo "Logged out."');
  writeFileSync(bin('tailscale-not-executable'), '#!/bin/sh\n');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('TailscaleCli', () => {
  it('reads `status --json` as the real schema', async () => {
    const cli = new TailscaleCli({ bin: bin('tailscale') });
    const parsed = parseTailscaleStatus(await cli.status());
    expect(parsed.state.kind).toBe('running');
    expect(parsed.peers.map((p) => p.name)).toContain('pi-kitchen');
  });

  it('asks `whois --json <ip>` and parses the answer', async () => {
    const whois = await new TailscaleCli({ bin: bin('tailscale') }).whois('100.101.1.2');
    expect(whois.node.tags).toEqual(['tag:helix']);
    expect(whois.user.loginName).toBe('tagged-devices');
  });

  it('reads `ip -4`', async () => {
    expect(await new TailscaleCli({ bin: bin('tailscale') }).ip4()).toEqual(['100.101.1.1']);
  });

  it('refuses a whois argument that is not an IP address, without running anything', async () => {
    await expect(new TailscaleCli({ bin: bin('tailscale') }).whois('--help')).rejects.toThrow(
      InputError,
    );
  });

  it('reports an unknown address with the CLI’s own words', async () => {
    const err = await new TailscaleCli({ bin: bin('tailscale') })
      .whois('100.101.1.99')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TailscaleCommandError);
    expect((err as TailscaleCommandError).status).toBe(1);
    expect((err as Error).message).toContain('peer not found');
  });

  it('names the install page when the binary is missing', async () => {
    const err = await new TailscaleCli({ bin: bin('no-such-tailscale') })
      .status()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect((err as Error).message).toContain('https://tailscale.com/download');
  });

  it('says the binary is not executable', async () => {
    const err = await new TailscaleCli({ bin: bin('tailscale-not-executable') })
      .status()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyMissingError);
    expect((err as Error).message).toContain('not executable');
  });

  it('passes stderr on and says how to start tailscaled when it is not running', async () => {
    const err = await new TailscaleCli({ bin: bin('tailscale-down') })
      .status()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TailscaleCommandError);
    expect((err as Error).message).toContain("doesn't appear to be running");
    expect((err as Error).message).toContain('systemctl enable --now tailscaled');
  });

  it('gives up on a CLI that does not answer within its timeout', async () => {
    const err = await new TailscaleCli({ bin: bin('tailscale-slow'), timeoutMs: 200 })
      .status()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TailscaleCommandError);
    expect((err as Error).message).toContain('did not answer within 200 ms');
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    const pending = new TailscaleCli({ bin: bin('tailscale-slow'), timeoutMs: 20_000 }).status(
      controller.signal,
    );
    controller.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TailscaleCommandError);
    expect((err as Error).message).toContain('cancelled');
  });

  it('rejects output that is not JSON', async () => {
    await expect(new TailscaleCli({ bin: bin('tailscale-garbage') }).status()).rejects.toThrow(
      InputError,
    );
  });
});
