import pg from 'pg';
import { createAppDatabase, adminQuery } from '/work/wt/issue14login/packages/db/test/helpers/database.ts';
import { startPgBouncer } from '/work/wt/issue14login/packages/db/test/helpers/pgbouncer.ts';
const app = await createAppDatabase('cgk_dbg');
await adminQuery(`alter role "${app.role}" password 'pw'`);
const b = await startPgBouncer({ targetUrl: app.url, auth: 'scram-sha-256' });
const u = new URL(b.url); u.password = 'pw';
const c = new pg.Client({ connectionString: u.toString() });
try { await c.connect(); console.log((await c.query('select current_user')).rows); await c.end(); } catch (e) { console.log('ERR', e.message); }
await b.stop(); await app.drop();
