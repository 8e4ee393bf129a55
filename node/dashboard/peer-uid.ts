/**
 * Which local user a loopback TCP connection comes from, read from the kernel's socket table
 * (/proc/net/tcp, the way identd answers): the dashboard's loopback listener grants a session
 * only to the users who can use the control socket (its owner, the node's user, and root), so
 * another account on the same machine cannot drive the node through 127.0.0.1.
 */
import { readFileSync } from 'node:fs';

/** the port of an address as /proc/net/tcp writes it: "0100007F:1F64" -> 8036 */
function portOf(field: string): number {
  return Number.parseInt(field.slice(field.lastIndexOf(':') + 1), 16);
}

/**
 * The uid owning the client end of a loopback connection: the socket whose local port is the
 * client's and whose remote port is the server's. null when the table cannot be read or has no
 * such socket (not Linux, or the client has gone): the caller then denies.
 */
export function loopbackPeerUid(
  clientPort: number,
  serverPort: number,
  read: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): number | null {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = read(table);
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8) continue;
      const [, local, remote, , , , , uid] = f;
      if (portOf(local!) === clientPort && portOf(remote!) === serverPort)
        return Number.parseInt(uid!, 10);
    }
  }
  return null;
}

/** The users the loopback dashboard trusts: the node's own user, and root (as the 0600 socket). */
export function trustedLocalUser(uid: number | null, self = process.getuid?.()): boolean {
  return uid !== null && (uid === 0 || uid === self);
}
