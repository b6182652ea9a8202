import type { Driver } from '../drivers/types.js';
import { isValidSlug, quoteIdentifier } from '../sql/identifier.js';
import { keysetPages, pendingPage, stateRowsOf, type SetTarget } from './fleet-source.js';
import { historyDigest, HISTORY_SQL, prefixDigests } from './files.js';
import { prefixOf } from './plan.js';
import type { LoadedSet } from './sets.js';
import { PLATFORM_SET } from './tracking.js';

/** The tenants a fleet run works on, streamed in keyset pages: the pending ones, or (verify) all of them. */

/** What to do with one set of a tenant: `migrate` false means up to date (nothing to send). */
export interface SetTask {
  migrate: boolean;
  /** The schema is known (from the summary, or read with verify) to hold exactly the first N files: the fast path applies. */
  assumed?: number;
}

/** A tenant to look at: `migrate` false means verified up to date in every set. */
export interface FleetTask {
  slug: string;
  schema: string;
  migrate: boolean;
  /** One entry per set of the run, in the run's order. */
  sets: SetTask[];
}

/** A tenant's applied version and digest of one set, as its summary row or its own schema_migrations says. */
export interface VersionDigest {
  version: number;
  digest: string;
}

/** A tenant whose summary row disagreed with its own schema_migrations (found by `verify`; repaired). */
export interface SummaryDisagreement {
  slug: string;
  schema: string;
  /** The application's set it is about (absent: the platform's). */
  set?: string;
  /** What `public.tenant_migration_state` said (null: no row). */
  summary: VersionDigest | null;
  /** What the schema's `schema_migrations` holds. */
  actual: VersionDigest;
}

/** What the fleet queries compare each tenant with: every set's latest version and digest. */
export function setTargets(sets: readonly LoadedSet[]): SetTarget[] {
  return sets.map((set) => ({
    name: set.name,
    version: set.migrations.length,
    digest: prefixDigests(set.migrations)[set.migrations.length]!,
  }));
}

/** Pending tenants (per the summary), page by page. */
export async function* pendingTenants(
  driver: Driver,
  source: string,
  sets: readonly LoadedSet[],
  pageSize: number,
  slugs?: readonly string[],
): AsyncGenerator<FleetTask> {
  const targets = setTargets(sets);
  const page = (last: string) => pendingPage(source, targets, last, pageSize, slugs ? { slugs } : {});
  for await (const rows of keysetPages(driver, pageSize, page)) {
    for (const row of rows) {
      const state = stateRowsOf(row.state);
      const tasks = sets.map((set, i): SetTask => {
        const summary = state.get(set.name);
        const target = targets[i]!;
        if (summary && summary.version === target.version && summary.digest === target.digest) return { migrate: false };
        const assumed = summary ? prefixOf(set.migrations, summary.version, summary.digest) : undefined;
        return { migrate: true, ...(assumed === undefined ? {} : { assumed }) };
      });
      yield { slug: String(row.slug), schema: String(row.schema_name), migrate: true, sets: tasks };
    }
  }
}

/** What `verifiedTenants` reports besides its tasks. */
export interface VerifyTally {
  /** Tenants found needing work, per their own schema. */
  pending: number;
  disagreements: SummaryDisagreement[];
}

/**
 * Every tenant, page by page, each checked against its own schema_migrations: one query for the page (with
 * the summary rows), one UNION ALL query reading the page's schema_migrations. Disagreements with the summary
 * are recorded (the tenant's run then rewrites its summary row).
 */
export async function* verifiedTenants(
  driver: Driver,
  source: string,
  sets: readonly LoadedSet[],
  pageSize: number,
  tally: VerifyTally,
  slugs?: readonly string[],
): AsyncGenerator<FleetTask> {
  const targets = setTargets(sets);
  const page = (last: string) => pendingPage(source, targets, last, pageSize, { all: true, ...(slugs ? { slugs } : {}) });
  for await (const rows of keysetPages(driver, pageSize, page)) {
    const actual = await readHistories(
      driver,
      rows.filter((r) => r.tracked === true && isValidSlug(String(r.slug))).map((r) => String(r.schema_name)),
    );
    for (const row of rows) yield verifiedTask(row, actual, sets, tally);
  }
}

function verifiedTask(
  row: Record<string, unknown>,
  actual: Map<string, Map<string, VersionDigest>>,
  sets: readonly LoadedSet[],
  tally: VerifyTally,
): FleetTask {
  const slug = String(row.slug);
  const schema = String(row.schema_name);
  const state = stateRowsOf(row.state);
  let pending = false;
  const tasks = sets.map((set): SetTask => {
    const digests = prefixDigests(set.migrations);
    const truth = actual.get(schema)?.get(set.name) ?? { version: 0, digest: digests[0]! };
    const summary = state.get(set.name) ?? null;
    const agrees = summary === null ? truth.version === 0 : summary.version === truth.version && summary.digest === truth.digest;
    if (!agrees && isValidSlug(slug))
      tally.disagreements.push({ slug, schema, ...(set.name === PLATFORM_SET ? {} : { set: set.name }), summary, actual: truth });
    const current = truth.version === set.migrations.length && truth.digest === digests[set.migrations.length];
    if (!current) pending = true;
    // Only a schema whose schema_migrations was read can be assumed to hold a prefix: one without the table
    // takes the general path (which creates it) rather than a fast path that would fall back.
    const assumed = row.tracked === true ? prefixOf(set.migrations, truth.version, truth.digest) : undefined;
    return { migrate: !current || !agrees, ...(assumed === undefined || !agrees ? {} : { assumed }) };
  });
  if (pending) tally.pending++;
  return { slug, schema, migrate: tasks.some((t) => t.migrate), sets: tasks };
}

/** Schemas read per UNION ALL query (the planner's cost grows faster than linearly with the branches). */
const HISTORY_BATCH = 25;

/**
 * Each schema's highest applied version and digest per set: UNION ALL queries of `HISTORY_BATCH` schemas
 * each, sent together so a pooled driver runs them on several connections (docs/BENCHMARKS.md has the
 * measurement).
 */
async function readHistories(driver: Driver, schemas: string[]): Promise<Map<string, Map<string, VersionDigest>>> {
  const histories = new Map<string, Map<string, VersionDigest>>();
  const queries: Array<Promise<void>> = [];
  for (let i = 0; i < schemas.length; i += HISTORY_BATCH) {
    const part = schemas.slice(i, i + HISTORY_BATCH);
    const text = part
      .map(
        (schema, j) => `select $${j + 1}::text as schema_name, migration_set, coalesce(max(version), 0) as version,
  ${HISTORY_SQL} as history
from ${quoteIdentifier(schema)}.schema_migrations group by migration_set`,
      )
      .join('\nunion all\n');
    queries.push(
      driver.query({ text, values: part }).then(({ rows }) => {
        for (const row of rows) {
          const schema = String(row.schema_name);
          const sets = histories.get(schema) ?? new Map<string, VersionDigest>();
          sets.set(String(row.migration_set), { version: Number(row.version), digest: historyDigest(String(row.history)) });
          histories.set(schema, sets);
        }
      }),
    );
  }
  await Promise.all(queries);
  return histories;
}
