/** Mesh commands: join, status, invite, dashboard, doctor, service. */
import { Option, type Command } from 'commander';
import type { LogFormat } from '../../log.js';
import { controlCall, type StatusReport } from '../../control/index.js';
import { UsageError } from '../../errors.js';
import { cliContext, configuredContext, showAction } from '../context.js';
import { paint, safeText } from '../output.js';
import type { RemoveResult } from '../../removal/index.js';
import { renderStatus } from '../status.js';
import type { DashboardInfo, LoginCode } from '../../dashboard/index.js';

export function registerMeshCommands(program: Command): void {
  program
    .command('join')
    .description(
      'run this node in the foreground: create a mesh on the first device, join it on the others (Ctrl-C leaves)',
    )
    .option(
      '--invite <code>',
      'one-time code from `helix-node invite` on a member (plain LAN, no shared tailnet)',
    )
    .option('--name <name>', 'node name (default: host name)')
    .option(
      '--address <ipv4>',
      'mesh address to listen on (default: Tailscale IPv4, else the first LAN IPv4)',
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'logs on stderr: readable lines, JSON lines, or auto: readable on a terminal (default: log.format, HELIX_LOG_FORMAT)',
      ).choices(['auto', 'json', 'pretty']),
    )
    .action(
      async (
        opts: { invite?: string; name?: string; address?: string; logFormat?: LogFormat },
        cmd: Command,
      ) => {
        const ctx = await configuredContext(cmd, {
          'node.name': opts.name,
          'mesh.address': opts.address,
        });
        const { runDaemon } = await import('../run-daemon.js');
        await runDaemon({
          loaded: ctx,
          invite: opts.invite,
          output: ctx.o,
          ...(opts.logFormat ? { logFormat: opts.logFormat } : {}),
          ...(ctx.globals.color === false ? { color: false } : {}),
        });
      },
    );

  program
    .command('status')
    .description('every node of the mesh: state, RTT, capabilities, load')
    .action(showAction<StatusReport>('/v1/status', (ctx, report) => renderStatus(ctx.o, report)));

  program
    .command('invite')
    .description(
      'print a one-time code another device on the LAN uses with `helix-node join --invite CODE`',
    )
    .option(
      '--ttl <duration>',
      'how long the code is valid, e.g. 10m, 1h (default: join.invite_ttl_s)',
    )
    .action(async (opts: { ttl?: string }, cmd: Command) => {
      const ctx = await configuredContext(cmd);
      const ttlS = opts.ttl ? parseDuration(opts.ttl) : ctx.config.join.invite_ttl_s;
      const answer = await controlCall<{ code: string; expiresAt: string }>(
        ctx.stateDir,
        '/v1/invite',
        {
          method: 'POST',
          body: { ttlS },
        },
      );
      if (ctx.o.json) ctx.o.printJson(answer);
      else {
        ctx.o.out(answer.code);
        ctx.o.err(
          `valid once, until ${answer.expiresAt}; on the new device run: helix-node join --invite ${answer.code}`,
        );
      }
    });

  const dashboard = program
    .command('dashboard')
    .description('print the address of this node’s web dashboard and open it in a browser')
    .option('--no-open', 'only print the address')
    .action(async (opts: { open: boolean }, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const info = await controlCall<DashboardInfo>(ctx.stateDir, '/v1/dashboard');
      if (!info.enabled || !info.url)
        throw new UsageError(
          'the dashboard is off on this node: set [dashboard] enabled = true in helix.toml and restart it',
        );
      let opened = false;
      if (opts.open && !ctx.o.json) {
        const { openInBrowser } = await import('../dashboard.js');
        opened = await openInBrowser(info.url);
      }
      ctx.o.print({ ...info, opened }, () =>
        [
          info.url!,
          ...(info.meshUrl
            ? [`on the mesh: ${info.meshUrl} (members sign in with \`helix-node dashboard code\`)`]
            : []),
        ].join('\n'),
      );
    });
  dashboard
    .command('code')
    .description(
      'print a one-time login code for the dashboard on the mesh address (valid once, a few minutes)',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await cliContext(cmd);
      const answer = await controlCall<LoginCode>(ctx.stateDir, '/v1/dashboard/code', {
        method: 'POST',
      });
      if (ctx.o.json) ctx.o.printJson(answer);
      else {
        ctx.o.out(answer.code);
        ctx.o.err(`valid once, until ${answer.expiresAt}; open ${answer.url} and type it there`);
      }
    });

  program
    .command('remove')
    .argument('<node>', 'the node to remove: its name or id (as `helix-node status` lists them)')
    .description(
      'remove a lost or stolen device: revoke its certificate and rotate the mesh keys on every other member (no restart)',
    )
    .addHelpText(
      'after',
      [
        '',
        'Run it on any member; the node may be offline. The member makes a new mesh secret and CA,',
        'every other member takes them and re-issues its own certificate without a restart, and the',
        "removed node's certificate, old secret and open invites stop working. A member that is",
        'offline now catches up when it returns. To bring the device back, clear its state dir and',
        'join it with a fresh code from `helix-node invite`.',
        '',
        'Exit codes: 0 removed, 64 no such node (or this node), 69 no daemon running here.',
      ].join('\n'),
    )
    .action(async (node: string, _opts: unknown, cmd: Command) => {
      const ctx = await configuredContext(cmd);
      const result = await controlCall<RemoveResult>(ctx.stateDir, '/v1/remove', {
        method: 'POST',
        body: { node },
        // telling each member takes a round trip and a reload; offline ones time out at 10 s
        timeoutMs: 60_000,
      });
      ctx.o.print(result, () => renderRemoved(result));
    });

  program
    .command('doctor')
    .description('check every dependency and say how to fix what is missing')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await configuredContext(cmd);
      const { runDoctor } = await import('../../capabilities/index.js');
      const checks = await runDoctor(ctx.config, undefined, { stateDir: ctx.stateDir });
      if (ctx.o.json) ctx.o.printJson({ checks });
      else {
        for (const c of checks) {
          ctx.o.out(
            `${c.ok ? paint(ctx.o, 'green', 'OK  ') : paint(ctx.o, 'red', 'MISS')} ${c.name}: ${c.detail}`,
          );
          if (!c.ok && c.fix) ctx.o.out(`     fix: ${c.fix}`);
        }
      }
      // doctor reports; only a missing hard dependency (nats-server) makes it fail
      if (checks.some((c) => !c.ok && c.name === 'nats-server')) process.exitCode = 69;
    });

  const service = program.command('service').description('run the node at boot with systemd');
  service
    .command('install')
    .description('write a systemd unit for `helix-node join`')
    .option('--dry-run', 'print the unit instead of writing it')
    .option('--user', 'a user unit (~/.config/systemd/user) instead of a system unit')
    .action(async (opts: { dryRun?: boolean; user?: boolean }, cmd: Command) => {
      const ctx = await configuredContext(cmd);
      const { renderUnit, installUnit, unitPath } = await import('../service.js');
      const { jitNeed, quickTierFacts } = await import('../../v8-tier.js');
      const system = !opts.user && process.getuid?.() === 0;
      // V8's compiler by the node's parts as they are now (node/v8-tier.ts)
      const needsJit = jitNeed(ctx.config.node.jit, await quickTierFacts(ctx.config));
      const v8 = needsJit === null ? 'interpreter' : 'full';
      const unit = renderUnit({
        stateDir: ctx.stateDir,
        configPath: ctx.configPath,
        user: process.env.SUDO_USER ?? process.env.USER ?? 'root',
        system,
        interpreterOnly: needsJit === null,
      });
      const v8Line =
        needsJit === null
          ? 'V8: interpreter only (no voice, speech-to-text or Docker here): run `helix-node service install` again after adding one'
          : `V8: with its optimising compiler (${needsJit})`;
      if (opts.dryRun) {
        ctx.o.print({ path: unitPath(system), unit, v8 }, () => unit);
        return;
      }
      const result = installUnit(unit, system);
      ctx.o.print({ ...result, v8 }, () => `wrote ${result.path}\n${v8Line}\nnext: ${result.next}`);
    });
}

/** What `remove` prints (peer names are shown with control characters made visible). */
export function renderRemoved(r: RemoveResult): string {
  const lines = [
    `removed ${safeText(r.removed.name)} (${r.removed.id}) from the mesh; new mesh keys, epoch ${r.epoch}`,
  ];
  for (const m of r.members)
    lines.push(
      m.ok
        ? `  ${safeText(m.name)}: has the new keys`
        : `  ${safeText(m.name)}: not reached now (${safeText(m.detail)})`,
    );
  if (r.members.length === 0) lines.push('  (no other member known to this node)');
  lines.push(
    `${safeText(r.removed.name)}'s certificate and the old mesh secret are refused from now on${r.invitesVoided > 0 ? `; ${r.invitesVoided} open invite(s) voided` : ''}`,
  );
  return lines.join('\n');
}

export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (!m)
    throw new UsageError(
      `--ttl ${JSON.stringify(text)} is not a duration; use e.g. 90s, 10m or 1h`,
    );
  const n = Number(m[1]);
  return m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : n;
}
