/**
 * The web dashboard (docs/dashboard.md): started by the daemon once its control routes run.
 * `startDashboard` registers the control routes of `helix-node dashboard` (GET /v1/dashboard,
 * POST /v1/dashboard/code) whether the dashboard is enabled or not, so the CLI can say which.
 */
import { UsageError } from '../errors.js';
import { DashboardServer, type DashboardInfo, type DashboardOptions } from './server.js';

export {
  DashboardServer,
  MOUNTED_ROUTES,
  SECURITY_HEADERS,
  type DashboardInfo,
  type DashboardOptions,
  type LoginCode,
} from './server.js';
export { LoginCodes, Sessions, Attempts, normaliseCode, sameOrigin, hostAllowed } from './auth.js';
export { loadAssets, assetsDir } from './assets.js';

const DISABLED: DashboardInfo = {
  schema: 'helix.dashboard/v1',
  enabled: false,
  url: null,
  meshUrl: null,
};

/** The dashboard as helix.toml says (null: `dashboard.enabled = false`), its control routes added. */
export async function startDashboard(opts: DashboardOptions): Promise<DashboardServer | null> {
  let server = opts.config.enabled ? new DashboardServer(opts) : null;
  opts.control.route('GET', '/v1/dashboard', async () => server?.info() ?? DISABLED);
  opts.control.route('POST', '/v1/dashboard/code', async () => {
    if (!server)
      throw new UsageError(
        'the dashboard is off on this node: set [dashboard] enabled = true in helix.toml (and a free [dashboard] port) and restart it',
      );
    return server.loginCode();
  });
  try {
    await server?.start();
  } catch (err) {
    // a listener that could not open: the routes say the dashboard is off, not half on
    await server?.stop();
    server = null;
    throw err;
  }
  return server;
}
