import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, migrateTenant, setupDatabase } from '../src/index.js';
import { lockWaitMs } from '../src/migrations/tracking.js';
import { type AppDatabase, DROP_TIMEOUT_MS, createAppDatabase } from './helpers/database.js';

/**
 * Issue #23, item 2: a session advisory lock on a schema's migration key (taken by a scope, or by anyone)
 * made `migrate` wait with no upper bound. Scopes now release theirs; the runner waits at most
 * CGK_MIGRATION_LOCK_WAIT seconds and then says who holds the lock. As a non-superuser application role.
 */

let app: AppDatabase;
let db: Database;
const saved = process.env.CGK_MIGRATION_LOCK_WAIT;

beforeAll(async () => {
  app = await createAppDatabase('cgk_lockwait');
  db = new Database({ url: `${app.url}?pool_max=2` });
  await setupDatabase({ db });
  await createTenant({ slug: 'b' }, { db });
}, 120_000);

afterEach(() => {
  if (saved === undefined) delete process.env.CGK_MIGRATION_LOCK_WAIT;
  else process.env.CGK_MIGRATION_LOCK_WAIT = saved;
});

afterAll(async () => {
  await db?.end();
  await app?.drop();
}, DROP_TIMEOUT_MS);

describe('the migration lock wait (#23 item 2)', () => {
  it('a scope that took the migration lock of another tenant no longer blocks migrate', async () => {
    process.env.CGK_MIGRATION_LOCK_WAIT = '3';
    await db.withTenant('b', (sql) => sql`select pg_advisory_lock(hashtext('cgk_migrations:tenant_b'))`);
    // Another process: its own connections, never the one the scope used (a session's own lock would not block it).
    const other = new Database({ url: app.url });
    try {
      expect((await migrateTenant(other, 'b')).error).toBeUndefined();
    } finally {
      await other.end();
    }
  });

  it('gives up after CGK_MIGRATION_LOCK_WAIT with CGK_MIGRATION_LOCKED naming the holder', async () => {
    process.env.CGK_MIGRATION_LOCK_WAIT = '1';
    const holder = new pg.Client({ connectionString: app.url, application_name: 'cgk_lock_holder' });
    await holder.connect();
    try {
      const pid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      await holder.query("select pg_advisory_lock(hashtext('cgk_migrations:tenant_b'))");
      const started = Date.now();
      const one = await migrateTenant(db, 'b');
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(one.error).toMatchObject({ code: 'CGK_MIGRATION_LOCKED' });
      expect(one.error?.message).toContain(`pid ${pid}`);
      expect(one.error?.message).toContain('application_name "cgk_lock_holder"');
      expect(one.error?.message).toMatch(/idle for \d+ s/);
      expect(one.error?.hint).toContain(`pg_terminate_backend(${pid})`);
    } finally {
      await holder.end();
    }
  });

  it('reads CGK_MIGRATION_LOCK_WAIT in seconds, 300 by default, and refuses nonsense', () => {
    expect(lockWaitMs({})).toBe(300_000);
    expect(lockWaitMs({ CGK_MIGRATION_LOCK_WAIT: '2.5' })).toBe(2500);
    expect(() => lockWaitMs({ CGK_MIGRATION_LOCK_WAIT: 'soon' })).toThrow(expect.objectContaining({ code: 'CGK_CONFIG' }));
  });
});
