/**
 * createTenant() against the same DDL replayed raw: BEGIN, create schema, every tenant migration file
 * concatenated, COMMIT, sent as one script on node-postgres. Ours adds the registry row, the migration
 * bookkeeping (schema_migrations rows, summary row), the tenant role and its grants, and the queryable check.
 */
import pg from 'pg';
import { Database, createTenant, setupDatabase } from '../packages/db/src/index.js';
import {
  createScratchDatabase,
  isMain,
  median,
  printTable,
  replayAgainstCreate,
  row,
  tenantTemplate,
  type BenchRow,
} from './lib.js';

export async function runLifecycleBench(options: { tenants?: number } = {}): Promise<BenchRow[]> {
  const count = options.tenants ?? 40;
  const scratch = await createScratchDatabase('cgk_bench_lifecycle');
  const db = new Database({ url: scratch.url });
  const raw = new pg.Client({ connectionString: scratch.url });
  try {
    await raw.connect();
    await setupDatabase({ db });
    const { files, texts } = await tenantTemplate();
    const ddl = texts.join('\n');
    const { baseline, ours } = await replayAgainstCreate(
      count,
      (i) => raw.query(`BEGIN; create schema tenant_raw${i}; set local search_path to tenant_raw${i}; ${ddl}; COMMIT`),
      (i) => createTenant({ slug: `bench${i}`, name: `Bench ${i}` }, { db }),
    );
    return [
      row(`createTenant (${files.length} tenant migrations), median of ${count}`, 'ms', median(baseline), median(ours), {
        goal: '≤ 1.50x, < 100 ms',
      }),
    ];
  } finally {
    await raw.end();
    await db.end();
    await scratch.drop();
  }
}

if (isMain(import.meta.url)) {
  printTable('Tenant provisioning (pg, local PostgreSQL)', await runLifecycleBench());
}
