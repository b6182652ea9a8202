/**
 * What the login isolation mode costs against the default set-role mode, same server, same run:
 * - a warm scope (`select 1`): the tenant's pool has an idle connection logged in as the tenant role;
 * - a cold scope: every scope needs a new login (two tenants alternating with `maxTenants: 1`, the worst
 *   case of an LRU smaller than the tenants in use): TCP connect + SCRAM (PBKDF2, 4096 iterations) each time;
 * - throughput of 16 callers spread over 8 tenants (pool_max 16 on each side).
 * Run: npx tsx bench/login-mode.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { Database, createTenant, setupDatabase } from '../packages/db/src/index.js';
import { createScratchDatabase, interleave, isMain, printTable, row, throughput, type BenchRow } from './lib.js';

const SECRET = randomBytes(32).toString('base64');
const TENANTS = Array.from({ length: 8 }, (_, i) => `lb${i}`);

export async function runLoginModeBench(options: { rounds?: number; perRound?: number } = {}): Promise<BenchRow[]> {
  const scratch = await createScratchDatabase('cgk_bench_login');
  const url = `${scratch.url}?pool_max=16`;
  const setRole = new Database({ url, tenantRoles: 'set-role' });
  const login = new Database({ url, tenantRoles: 'login', tenantRoleSecret: SECRET });
  const thrash = new Database({ url, tenantRoles: 'login', tenantRoleSecret: SECRET, tenantPools: { maxTenants: 1 } });
  try {
    await setupDatabase({ db: login });
    for (const slug of TENANTS) await createTenant({ slug }, { db: login });
    const rounds = options.rounds ?? 8;
    const perRound = options.perRound ?? 60;
    const warm = await interleave(
      {
        setRole: () => setRole.withTenant('lb0', (sql) => sql`select 1`),
        login: () => login.withTenant('lb0', (sql) => sql`select 1`),
      },
      rounds,
      perRound,
    );
    let turn = 0;
    const cold = await interleave(
      {
        setRole: () => setRole.withTenant(TENANTS[turn++ % 2]!, (sql) => sql`select 1`),
        login: () => thrash.withTenant(TENANTS[turn++ % 2]!, (sql) => sql`select 1`),
      },
      Math.max(2, rounds >> 2),
      Math.max(10, perRound >> 2),
    );
    let next = 0;
    const spread = (db: Database) => () => db.withTenant(TENANTS[next++ % TENANTS.length]!, (sql) => sql`select 1`);
    const tpSetRole = await throughput(spread(setRole), 16, 1500);
    const before = (await login.driver()).tenantPoolStats?.().logins ?? 0;
    const scopesBefore = next;
    const tpLogin = await throughput(spread(login), 16, 1500);
    const logins = ((await login.driver()).tenantPoolStats?.().logins ?? 0) - before;
    return [
      row('withTenant(select 1) warm: set-role vs login', 'µs', warm.setRole!, warm.login!),
      row('withTenant(select 1), a new login each scope (LRU of 1, 2 tenants)', 'µs', cold.setRole!, cold.login!, {
        note: 'the cost of an LRU smaller than the tenants in use',
      }),
      row('16 callers over 8 tenants: ops/s set-role vs login', 'op/s', tpSetRole, tpLogin, {
        note: `ratio = login/set-role throughput; ${logins} logins for ${next - scopesBefore} scopes`,
      }),
    ];
  } finally {
    await Promise.all([setRole.end(), login.end(), thrash.end()]);
    await scratch.drop();
  }
}

if (isMain(import.meta.url)) {
  printTable('login isolation mode vs set-role (pg, local PostgreSQL)', await runLoginModeBench());
}
