/**
 * The @vercel/postgres driver's cost, through a local WebSocket→TCP relay (test/helpers/ws-relay.ts) to the
 * local server, against node-postgres straight over TCP, in the same run and the same database:
 * - bare: one `select 1` outside any scope (one round trip on each driver);
 * - withTenant: `withTenant('bench', sql => sql\`select 1\`)`, tenant roles on, as production runs it;
 * - on the relay only, the scope written two ways with the driver's own `begin()`:
 *   4 waits (BEGIN; set_config with a parameter; select 1; COMMIT, one by one) and
 *   3 waits (what the driver does: `BEGIN; <parameterless prelude>` as one simple-protocol message;
 *   select 1; COMMIT);
 * - the same bare query and 3-wait scope with Neon's write coalescing on (Neon's default: a turn's writes
 *   go out as one WebSocket message from a 0 ms timer; the driver turns it off).
 * Through a loopback relay a wait costs little, so the 4-vs-3 ratio is what to carry over to Neon, where
 * each wait is a network round trip.
 * Run: npx tsx bench/neon.bench.ts
 */
import { Database } from '../packages/db/src/index.js';
import { createNeonDriver } from '../packages/db/src/drivers/neon.js';
import type { Driver } from '../packages/db/src/drivers/types.js';
import { grantTenantRoleSql } from '../packages/db/src/roles/tenant-role.js';
import { onLocalhost, openThroughRelay, startWsRelay } from '../packages/db/test/helpers/ws-relay.js';
import { createScratchDatabase, interleave, isMain, printTable, row, type BenchRow } from './lib.js';

const PRELUDE = { text: "select set_config('search_path', 'tenant_bench, public', true) as search_path" };

/** The scope written two ways with the driver's own `begin()`: 4 waits one by one, and 3 (the driver's way). */
function handWrittenScopes(driver: Driver) {
  const fourWaits = async () => {
    const { tx } = await driver.begin([]);
    await tx.query({ text: "select set_config('search_path', $1, true)", values: ['tenant_bench, public'] });
    await tx.query({ text: 'select 1', values: [] });
    await tx.commit();
  };
  const threeWaits = (on: Driver) => async () => {
    const { tx } = await on.begin([PRELUDE, { text: 'select 1', values: [] }]);
    await tx.commit();
  };
  return { fourWaits, threeWaits };
}

function neonRows(t: Record<string, number>, waitsPerScope: number): BenchRow[] {
  return [
    row('vercel via relay: withTenant(select 1) vs bare select 1', 'µs', t.relayBare!, t.relayScope!, {
      note: `${waitsPerScope} round trips per scope (relay count)`,
    }),
    row('pg direct: withTenant(select 1) vs bare select 1', 'µs', t.pgBare!, t.pgScope!),
    row('bare select 1: pg direct vs vercel via relay', 'µs', t.pgBare!, t.relayBare!),
    row('withTenant(select 1): pg direct vs vercel via relay', 'µs', t.pgScope!, t.relayScope!),
    row('relay scope: 4 waits one by one vs BEGIN+prelude merged (3)', 'µs', t.fourWaits!, t.threeWaits!),
    row('relay bare select 1: Neon write coalescing on (its default) vs off (ours)', 'µs', t.coalescedBare!, t.relayBare!),
    row('relay 3-wait scope: Neon write coalescing on vs off (ours)', 'µs', t.coalescedThreeWaits!, t.threeWaits!),
  ];
}

export async function runNeonBench(options: { rounds?: number; perRound?: number } = {}): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 6;
  const perRound = options.perRound ?? 100;
  const scratch = await createScratchDatabase('cgk_bench_neon');
  // What to close, most recent first; filled as each piece opens, so a failed setup still cleans up.
  const closers: Array<() => Promise<void>> = [() => scratch.drop()];
  try {
    const relay = await startWsRelay();
    closers.unshift(() => relay.stop());
    // @vercel/postgres takes a direct (non-pooler) URL only on host "localhost".
    const url = onLocalhost(scratch.url);
    const pgDb = new Database({ url: scratch.url, tenantRoles: true });
    closers.unshift(() => pgDb.end());
    const vercelDb = new Database({ url, driver: 'vercel', tenantRoles: true });
    closers.unshift(() => vercelDb.end());
    const coalesced = createNeonDriver({
      connectionString: url,
      flavour: 'vercel',
      wsProxy: relay.address,
      coalesceWrites: true,
    });
    closers.unshift(() => coalesced.end());
    await pgDb.sql`create schema tenant_bench`;
    await (await pgDb.driver()).exec(grantTenantRoleSql('bench', { existingTables: true }));
    const driver = await openThroughRelay(vercelDb, relay);
    const { fourWaits, threeWaits } = handWrittenScopes(driver);

    // Round trips of one scope on a warm connection, counted by the relay.
    await vercelDb.withTenant('bench', (sql) => sql`select 1`);
    const before = relay.roundTrips;
    await vercelDb.withTenant('bench', (sql) => sql`select 1`);
    const waitsPerScope = relay.roundTrips - before;

    const t = await interleave(
      {
        pgBare: () => pgDb.sql`select 1`,
        pgScope: () => pgDb.withTenant('bench', (sql) => sql`select 1`),
        relayBare: () => vercelDb.sql`select 1`,
        relayScope: () => vercelDb.withTenant('bench', (sql) => sql`select 1`),
        fourWaits,
        threeWaits: threeWaits(driver),
        coalescedBare: () => coalesced.query({ text: 'select 1', values: [] }),
        coalescedThreeWaits: threeWaits(coalesced),
      },
      rounds,
      perRound,
    );

    return neonRows(t, waitsPerScope);
  } finally {
    for (const close of closers) await close();
  }
}

if (isMain(import.meta.url)) {
  printTable('@vercel/postgres through a local WebSocket relay vs pg over TCP (median per operation)', await runNeonBench());
}
