import type { Driver } from '../drivers/types.js';
import { isValidSlug, quoteIdentifier } from '../sql/identifier.js';
import { keysetPages, pendingPage } from './fleet-source.js';
import { historyDigest, HISTORY_SQL, prefixDigests, type Migration } from './files.js';
import { prefixOf } from './plan.js';

/** The tenants a fleet run works on, streamed in keyset pages: the pending ones, or (verify) all of them. */

/** A tenant to look at: `migrate` false means verified up to date (nothing to send). */
export interface FleetTask {
  slug: string;
  schema: string;
  migrate: boolean;
  /** The schema is known (from the summary, or read with verify) to hold exactly the first N files: the fast path applies. */
  assumed?: number;
}

/** A tenant's applied version and digest, as its summary row or its own schema_migrations says. */
export interface VersionDigest {
  version: number;
  digest: string;
}

/** A tenant whose summary row disagreed with its own schema_migrations (found by `verify`; repaired). */
export interface SummaryDisagreement {
  slug: string;
  schema: string;
  /** What `public.tenant_migration_state` said (null: no row). */
  summary: VersionDigest | null;
  /** What the schema's `schema_migrations` holds. */
  actual: VersionDigest;
}

/** Pending tenants (per the summary), page by page. */
export async function* pendingTenants(
  driver: Driver,
  source: string,
  migrations: readonly Migration[],
  pageSize: number,
): AsyncGenerator<FleetTask> {
  const latest = migrations.length;
  const digest = prefixDigests(migrations)[latest]!;
  for await (const rows of keysetPages(driver, pageSize, (last) => pendingPage(source, latest, digest, last, pageSize))) {
    for (const row of rows) {
      const assumed = prefixOf(migrations, row.version, row.checksum_digest);
      yield {
        slug: String(row.slug),
        schema: String(row.schema_name),
        migrate: true,
        ...(assumed === undefined ? {} : { assumed }),
      };
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
  migrations: readonly Migration[],
  pageSize: number,
  tally: VerifyTally,
): AsyncGenerator<FleetTask> {
  const page = (last: string) => ({
    text: `with t as (${source})
select t.slug, t.schema_name, s.version, s.checksum_digest,
       to_regclass(quote_ident(t.schema_name) || '.schema_migrations') is not null as tracked
from t left join public.tenant_migration_state s on s.schema_name = t.schema_name
where t.slug > $1
order by t.slug
limit $2`,
    values: [last, pageSize],
  });
  for await (const rows of keysetPages(driver, pageSize, page)) {
    const actual = await readHistories(
      driver,
      rows.filter((r) => r.tracked === true && isValidSlug(String(r.slug))).map((r) => String(r.schema_name)),
    );
    for (const row of rows) yield verifiedTask(row, actual, migrations, tally);
  }
}

function verifiedTask(
  row: Record<string, unknown>,
  actual: Map<string, VersionDigest>,
  migrations: readonly Migration[],
  tally: VerifyTally,
): FleetTask {
  const digests = prefixDigests(migrations);
  const slug = String(row.slug);
  const schema = String(row.schema_name);
  const truth = actual.get(schema) ?? { version: 0, digest: digests[0]! };
  const summary =
    row.version === null || row.version === undefined
      ? null
      : { version: Number(row.version), digest: String(row.checksum_digest) };
  const agrees = summary === null ? truth.version === 0 : summary.version === truth.version && summary.digest === truth.digest;
  if (!agrees && isValidSlug(slug)) tally.disagreements.push({ slug, schema, summary, actual: truth });
  const current = truth.version === migrations.length && truth.digest === digests[migrations.length];
  if (!current) tally.pending++;
  // Only a schema whose schema_migrations was read can be assumed to hold a prefix: one without the table
  // takes the general path (which creates it) rather than a fast path that would fall back.
  const assumed = row.tracked === true ? prefixOf(migrations, truth.version, truth.digest) : undefined;
  return { slug, schema, migrate: !current || !agrees, ...(assumed === undefined || !agrees ? {} : { assumed }) };
}

/** Schemas read per UNION ALL query (the planner's cost grows faster than linearly with the branches). */
const HISTORY_BATCH = 25;

/**
 * Each schema's highest applied version and digest: UNION ALL queries of `HISTORY_BATCH` schemas each, sent
 * together so a pooled driver runs them on several connections (docs/BENCHMARKS.md has the measurement).
 */
async function readHistories(driver: Driver, schemas: string[]): Promise<Map<string, VersionDigest>> {
  const histories = new Map<string, VersionDigest>();
  const queries: Array<Promise<void>> = [];
  for (let i = 0; i < schemas.length; i += HISTORY_BATCH) {
    const part = schemas.slice(i, i + HISTORY_BATCH);
    const text = part
      .map(
        (schema, j) => `select $${j + 1}::text as schema_name, coalesce(max(version), 0) as version, ${HISTORY_SQL} as history
from ${quoteIdentifier(schema)}.schema_migrations`,
      )
      .join('\nunion all\n');
    queries.push(
      driver.query({ text, values: part }).then(({ rows }) => {
        for (const row of rows)
          histories.set(String(row.schema_name), { version: Number(row.version), digest: historyDigest(String(row.history)) });
      }),
    );
  }
  await Promise.all(queries);
  return histories;
}
