/**
 * The egress network's firewall: agents with network = "egress" reach the public internet and
 * nothing else, by any protocol, whatever they open (http.fetch is checked on the host by
 * ../egress-policy.ts; this is for what a container sends by itself).
 *
 * As Docker setups do it, with iptables in the engine's network namespace:
 * - chain HX-EGRESS-<bridge>: every IPv4 special-purpose block of ../egress-policy.ts (RFC 1918,
 *   CGNAT/the tailnet, link-local, loopback, multicast, TEST-NETs, benchmarking, 240/4, …)
 *   rejected, the rest returned to Docker's own rules; jumped to from DOCKER-USER for packets
 *   coming in on the bridge (`-i <bridge>`). DOCKER-USER sees forwarded traffic only, before
 *   Docker's accept rules, and Docker leaves it alone across restarts.
 * - INPUT `-i <bridge>` rejected: the host itself (the bridge gateway and every other address the
 *   host has, public or not; all of them are local delivery, so INPUT sees them) is never
 *   reached. The container needs nothing from the host over the network: host calls travel on
 *   its stdio, and the engine's DNS (127.0.0.11) lives in the container's own namespace.
 * - IPv6: the network has none (no EnableIPv6), and ip6tables drops whatever comes in on the
 *   bridge (link-local to the host, or forwarded), so an fe80:: address reaches nothing.
 * Installed idempotently (chain flushed and refilled, jumps added if missing) each time the
 * runtime finds or creates the egress network; `removeEgressFirewall` takes it all out again.
 * Refusals are `REJECT` with "administratively prohibited", so a blocked connect fails at once.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { IPV4_SPECIAL } from '../egress-policy.js';

/** One iptables or ip6tables invocation. */
export interface FirewallCommand {
  bin: 'iptables' | 'ip6tables';
  args: string[];
}

/** The chain holding a bridge's destination policy (bridge names are at most 15 chars). */
export function egressChain(bridge: string): string {
  return `HX-EGRESS-${bridge}`;
}

const REJECT4 = ['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'];

/** The chain's contents, in order (pure; tests read it as a table). */
export function egressChainRules(bridge: string): string[][] {
  const chain = egressChain(bridge);
  return [
    ...IPV4_SPECIAL.map(([net, bits]) => ['-A', chain, '-d', `${net}/${bits}`, ...REJECT4]),
    ['-A', chain, '-j', 'RETURN'],
  ];
}

/** The rules outside the chain: [table's chain, rule] pairs, each added once (checked with -C). */
export function egressJumps(bridge: string): FirewallCommand[] {
  const comment = ['-m', 'comment', '--comment', `helix egress ${bridge}`];
  return [
    { bin: 'iptables', args: ['DOCKER-USER', '-i', bridge, ...comment, '-j', egressChain(bridge)] },
    { bin: 'iptables', args: ['INPUT', '-i', bridge, ...comment, ...REJECT4] },
    { bin: 'ip6tables', args: ['INPUT', '-i', bridge, ...comment, '-j', 'DROP'] },
    { bin: 'ip6tables', args: ['FORWARD', '-i', bridge, ...comment, '-j', 'DROP'] },
  ];
}

export interface EgressFirewallOptions {
  /**
   * run the commands in another network namespace: a prefix such as
   * ["nsenter", "--net=/run/netns/x"] (the engine's namespace; default: this process's)
   */
  prefix?: string[];
}

export interface EgressFirewall {
  /** Makes the rules for `bridge` hold (idempotent); throws with the fix when it cannot. */
  install(bridge: string): Promise<void>;
  remove(bridge: string): Promise<void>;
}

export class IptablesEgressFirewall implements EgressFirewall {
  constructor(private readonly opts: EgressFirewallOptions = {}) {}

  async install(bridge: string): Promise<void> {
    const chain = egressChain(bridge);
    try {
      // DOCKER-USER exists whenever the engine manages iptables; made here if it does not.
      await this.ensureChain('DOCKER-USER');
      await this.ensureRule({ bin: 'iptables', args: ['FORWARD', '-j', 'DOCKER-USER'] });
      await this.ensureChain(chain);
      await this.run('iptables', ['-F', chain]);
      for (const rule of egressChainRules(bridge)) await this.run('iptables', rule);
      for (const jump of egressJumps(bridge)) {
        if (jump.bin === 'ip6tables' && !this.ipv6()) continue;
        await this.ensureRule(jump);
      }
    } catch (err) {
      throw new Error(
        `cannot install the egress firewall for bridge ${bridge}: ${(err as Error).message}; the node needs root (or CAP_NET_ADMIN) and iptables to run agents with network = "egress"`,
        { cause: err },
      );
    }
  }

  async remove(bridge: string): Promise<void> {
    for (const jump of egressJumps(bridge)) {
      // Delete every copy.
      for (let i = 0; i < 10; i++) {
        const ok = await this.run(jump.bin, ['-D', ...jump.args]).then(
          () => true,
          () => false,
        );
        if (!ok) break;
      }
    }
    const chain = egressChain(bridge);
    await this.run('iptables', ['-F', chain]).catch(() => undefined);
    await this.run('iptables', ['-X', chain]).catch(() => undefined);
  }

  private ipv6(): boolean {
    // Without IPv6 in the kernel there is nothing to filter (and no ip6tables table to do it in).
    return existsSync('/proc/net/if_inet6');
  }

  private async ensureChain(chain: string): Promise<void> {
    const exists = await this.run('iptables', ['-n', '-L', chain]).then(
      () => true,
      () => false,
    );
    if (!exists) await this.run('iptables', ['-N', chain]);
  }

  private async ensureRule(rule: FirewallCommand): Promise<void> {
    const [table, ...rest] = rule.args;
    const present = await this.run(rule.bin, ['-C', table as string, ...rest]).then(
      () => true,
      () => false,
    );
    if (!present) await this.run(rule.bin, ['-I', table as string, '1', ...rest]);
  }

  private run(bin: string, args: string[]): Promise<void> {
    const prefix = this.opts.prefix ?? [];
    const [cmd, ...pre] = [...prefix, bin, '-w', '5', ...args];
    return new Promise((resolve, reject) => {
      execFile(cmd as string, pre, { timeout: 15_000 }, (err, _stdout, stderr) => {
        if (err)
          reject(new Error(`${bin} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
        else resolve();
      });
    });
  }
}

/** Removes a bridge's egress rules (tests, and a network that is removed). */
export function removeEgressFirewall(bridge: string, opts: EgressFirewallOptions = {}) {
  return new IptablesEgressFirewall(opts).remove(bridge);
}
