/**
 * createTenant() against the same DDL replayed raw: BEGIN, create schema, every tenant migration file
 * concatenated, COMMIT, sent as one script on node-postgres. Ours adds the registry row, the migration
 * bookkeeping (schema_migrations rows, summary row), the tenant role and its grants, and the queryable check.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { Database, createTenant, setupDatabase } from '../packages/db/src/index.js';
import { DEFAULT_TENANT_DIR } from '../packages/db/src/migrations/runner.js';
import { createScratchDatabase, isMain, median, printTable, row, type BenchRow } from './lib.js';

export async function runLifecycleBench(options: { tenants?: number } = {}): Promise<BenchRow[]> {
  const count = options.tenants ?? 40;
  const scratch = await createScratchDatabase('cgk_bench_lifecycle');
  const db = new Database({ url: scratch.url });
  const raw = new pg.Client({ connectionString: scratch.url });
  try {
    await raw.connect();
    await setupDatabase({ db });
    const files = (await readdir(DEFAULT_TENANT_DIR)).filter((f) => f.endsWith('.sql')).sort();
    const ddl = (await Promise.all(files.map((f) => readFile(join(DEFAULT_TENANT_DIR, f), 'utf8')))).join('\n');
    const ours: number[] = [];
    const baseline: number[] = [];
    const timed = async (samples: number[], work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      samples.push(performance.now() - started);
    };
    for (let i = 0; i < count; i++) {
      const rawTenant = () =>
        timed(baseline, () =>
          raw.query(`BEGIN; create schema tenant_raw${i}; set local search_path to tenant_raw${i}; ${ddl}; COMMIT`),
        );
      const ourTenant = () => timed(ours, () => createTenant({ slug: `bench${i}`, name: `Bench ${i}` }, { db }));
      // Alternated tenant by tenant: the baseline first on even tenants, ours first on odd ones.
      if (i % 2 === 0) {
        await rawTenant();
        await ourTenant();
      } else {
        await ourTenant();
        await rawTenant();
      }
    }
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
