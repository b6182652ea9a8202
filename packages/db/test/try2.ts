import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database, setupDatabase, createTenant, migrateTenants } from '../src/index.js';
import { DEFAULT_TENANT_DIR } from '../src/migrations/runner.js';
import { createCitusDatabase } from './helpers/citus.js';
const cdb = await createCitusDatabase('cgk_try');
const db = new Database({ url: cdb.url, tenantRoles: true });
const tenantDir = mkdtempSync(join(tmpdir(), 'cgk-x-'));
cpSync(DEFAULT_TENANT_DIR, tenantDir, { recursive: true });
try {
  await setupDatabase({ db });
  for (const s of ['a1', 'a2']) await createTenant({ slug: s }, { db });
  writeFileSync(join(tenantDir, '014_order_notes.sql'), `alter table orders add column note text;\ncreate index orders_note_idx on orders (note);\n`);
  const run = await migrateTenants(db, { tenantDir, concurrency: 1 });
  for (const t of run.tenants) console.log(t.slug, t.status, t.error?.message, (t.error?.cause as any)?.message);
} finally { await db.end(); console.log(cdb.name); }
