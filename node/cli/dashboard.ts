/**
 * `helix-node dashboard`: where the running node's dashboard is, opened in a browser when there
 * is one (xdg-open on a desktop session; never an error when there is none).
 */
import { spawn } from 'node:child_process';
import { findOnPath } from '../capabilities/index.js';

/** Whether this session can show a browser: a desktop (X or Wayland) and xdg-open. */
export async function canOpenBrowser(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return false;
  return (await findOnPath('xdg-open')) !== null;
}

/** Opens `url` with xdg-open, detached; false when it could not start (nothing is thrown). */
export async function openInBrowser(url: string): Promise<boolean> {
  if (!(await canOpenBrowser())) return false;
  return new Promise((resolve) => {
    try {
      const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}
