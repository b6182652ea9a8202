/**
 * Applies every pending migration, public schema first, then every tenant:
 * `npm run db:migrate [-- --concurrency 8] [--json]`; `npm run db:migrate -- --status` only reports.
 * A thin wrapper over the CLI's `migrate` / `migrate:status` (same output, errors and exit codes, and the same
 * migration sets: the platform's, then the application's from cgk.config.json or CGK_*_MIGRATIONS).
 */
import { run } from '../../packages/cli/src/main.js';

const args = process.argv.slice(2);
const status = args.includes('--status');
process.exitCode = await run(status ? ['migrate:status', ...args.filter((a) => a !== '--status')] : ['migrate', ...args]);
