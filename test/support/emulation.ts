/**
 * Real emulation of other platforms for tests: Debian's qemu-user-static registered with the
 * kernel's binfmt_misc (through binfmt-support's update-binfmts, with the F flag, so the
 * interpreter is opened at registration and works inside containers whose root file system lacks
 * it). Then the machine's Docker engine runs arm64 and armv7 images for real. The registration is
 * the kernel's, machine-wide, and is left in place (as installing binfmt-support does).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const BINFMT = '/proc/sys/fs/binfmt_misc';

/** binfmt_misc entry name -> what it runs, and Debian's interpreter for it. */
const ENTRIES = [
  { name: 'qemu-aarch64', platform: 'linux/arm64', interpreter: 'aarch64-binfmt-P' },
  { name: 'qemu-arm', platform: 'linux/arm/v7', interpreter: 'arm-binfmt-P' },
] as const;

let verdict: string | null | undefined;

/**
 * Registers qemu for arm64 and armv7 when the kernel allows it. Null when both run; else what is
 * missing, said so a skipped test's message tells what to install or allow.
 */
export function emulationUnavailable(): string | null {
  if (verdict === undefined) verdict = register();
  return verdict;
}

function register(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to register qemu-user-static with binfmt_misc';
  const noQemu = ENTRIES.filter(
    (e) =>
      !existsSync(`/usr/libexec/qemu-binfmt/${e.interpreter}`) &&
      !existsSync(`/usr/bin/${e.name}-static`),
  );
  if (noQemu.length > 0)
    return `needs qemu-user-static for ${noQemu.map((e) => e.platform).join(', ')} (apt-get install qemu-user-static binfmt-support)`;
  if (!existsSync(`${BINFMT}/status`)) {
    const mount = spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (mount.status !== 0 || !existsSync(`${BINFMT}/status`))
      return `binfmt_misc is not mounted at ${BINFMT} and mounting it failed (${(mount.stderr || mount.error?.message || '').trim() || `exit ${mount.status}`}); this kernel or container does not allow registering interpreters`;
  }
  for (const e of ENTRIES) {
    if (!existsSync(`${BINFMT}/${e.name}`)) {
      const enable = spawnSync('update-binfmts', ['--enable', e.name], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      if ((enable.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
        return 'needs update-binfmts (apt-get install binfmt-support)';
      if (enable.status !== 0 || !existsSync(`${BINFMT}/${e.name}`))
        return `update-binfmts --enable ${e.name} failed: ${(enable.stderr || '').trim() || `exit ${enable.status}`}`;
    }
    const entry = readFileSync(`${BINFMT}/${e.name}`, 'utf8');
    if (!/^enabled$/m.test(entry))
      return `${BINFMT}/${e.name} is registered but disabled (update-binfmts --enable ${e.name})`;
    const flags = /^flags: (\S*)$/m.exec(entry)?.[1] ?? '';
    if (!flags.includes('F'))
      return `${BINFMT}/${e.name} is registered without the F flag, so containers cannot find the interpreter; re-register it with Debian's qemu-user-static (update-binfmts --disable ${e.name}; update-binfmts --enable ${e.name})`;
  }
  return null;
}
