/**
 * Provisions a tenant: `npm run tenant:create -- <slug> [--name <name>] [--json]`.
 * A thin wrapper over the CLI's `tenant:create` (same output, errors and exit codes), which is itself a thin
 * wrapper over `createTenant()` from @cgk/db (every configured migration set: cgk.config.json,
 * CGK_TENANT_MIGRATIONS). Reads DATABASE_URL from the environment, .env or .env.local;
 * without one, uses the embedded PostgreSQL in ./.cgk/pglite.
 */
import { run } from '../../packages/cli/src/main.js';

process.exitCode = await run(['tenant:create', ...process.argv.slice(2)]);
