import type { DoctorCheck } from './types.js';
import { migrationFilename } from '../migrations/files.js';
import type { MigrationStatusReport } from '../migrations/status.js';

/** The doctor's migrations check: what `migrationStatus` found, as one line and what to do about it. */
export function describeMigrations(status: MigrationStatusReport): DoctorCheck {
  const name = 'migrations';
  if (!status.public.initialized) {
    return {
      name,
      status: 'warn',
      detail: 'the platform tables have not been created (no public.schema_migrations)',
      hint: 'Run: npx @cgk/cli setup:database',
    };
  }
  const publicSets = [status.public, ...(status.publicSets ?? [])];
  const publicPending = publicSets.reduce((n, set) => n + set.pending.length, 0);
  const publicApplied = publicSets.reduce((n, set) => n + set.applied.length, 0);
  const appSets = (status.publicSets ?? []).length + Math.max(0, (status.tenants.sets?.length ?? 1) - 1);
  const { total, pending, upToDate, ahead, changed: tenantsChanged } = status.tenants;
  const odd = `${ahead ? `, ${ahead} ahead of the files` : ''}${tenantsChanged ? `, ${tenantsChanged} with changed files` : ''}`;
  const detail =
    `public: ${publicApplied} applied, ${publicPending} pending; ` +
    `tenants: ${total} total, ${upToDate} up to date, ${pending} with pending migrations${odd}` +
    (appSets > 0 ? ` (with the application's ${appSets === 1 ? 'set' : `${appSets} sets`})` : '');
  const changed = publicSets.flatMap((set) =>
    set.applied.filter((a) => a.changed).map((a) => (set.set ? `${set.set}/` : '') + migrationFilename(a.version, a.name)),
  );
  if (changed.length > 0) {
    return {
      name,
      status: 'fail',
      detail: `${detail}; changed after being applied: ${changed.join(', ')}`,
      hint: 'Applied migrations are never edited: restore those files (git checkout) and put the change in a new migration file.',
    };
  }
  if (publicPending > 0) return { name, status: 'warn', detail, hint: 'Run: npx @cgk/cli migrate (or setup:database)' };
  if (odd)
    return {
      name,
      status: 'warn',
      detail,
      hint: 'npx @cgk/cli migrate:status lists them: migrate refuses tenants ahead of the files or with edited files.',
    };
  if (pending > 0) return { name, status: 'warn', detail, hint: 'Run: npx @cgk/cli migrate' };
  return { name, status: 'ok', detail };
}
