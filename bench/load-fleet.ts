/**
 * Pieces of `npm run bench:load` (bench/load.ts): the fleets it measures, the request it sends, and the server
 * memory of the pooled connections read from /proc.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { Database, setupDatabase, type Sql } from '../packages/db/src/index.js';
import { ADMIN_URL, createFleet, createScratchDatabase, median, type ScratchDatabase } from './lib.js';

/** The order every tenant is seeded with: the indexed read finds it by primary key. */
export const SEED_ORDER = '00000000-0000-0000-0000-000000000001';

export const log = (message: string) => console.log(`[load ${new Date().toISOString().slice(11, 19)}] ${message}`);

export interface Fleet {
  name: string;
  url: string;
  slugs: string[];
  /** Drops the database and its tenant roles; a no-op for a fleet that was reused or kept. */
  drop(): Promise<void>;
}

/** `t00001`..: the slugs of a fleet of `n`. */
export function slugsFor(prefix: string, n: number): string[] {
  const width = String(n).length;
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

/**
 * A scratch database with `n` tenants made by createTenant() (the real template), each seeded with one order.
 * `reuse` names a database a previous `--keep` run left (it must hold the same fleet); `keep` leaves it.
 */
export async function prepareFleet(prefix: string, n: number, options: { reuse?: string; keep: boolean }): Promise<Fleet> {
  const slugs = slugsFor(prefix, n);
  if (options.reuse) {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${options.reuse}`;
    const db = new Database({ url: url.toString() });
    try {
      const { rows } = await db.sql.query(`select count(*)::int as n from public.organizations where slug like $1`, [
        `${prefix}%`,
      ]);
      if (rows[0]?.n !== n) throw new Error(`${options.reuse} holds ${String(rows[0]?.n)} tenants named ${prefix}*, not ${n}`);
    } finally {
      await db.end();
    }
    log(`reusing ${options.reuse} (${n} tenants)`);
    return { name: options.reuse, url: url.toString(), slugs, drop: async () => {} };
  }
  const scratch = await createScratchDatabase(`cgk_load_${n}`);
  try {
    await buildFleet(scratch, slugs);
  } catch (error) {
    await scratch.drop();
    throw error;
  }
  if (options.keep) log(`--keep: ${scratch.name} stays (reuse it with --reuse ${scratch.name})`);
  return { name: scratch.name, url: scratch.url, slugs, drop: options.keep ? async () => {} : () => scratch.drop() };
}

async function buildFleet(scratch: ScratchDatabase, slugs: string[]): Promise<void> {
  const db = new Database({ url: scratch.url });
  try {
    await setupDatabase({ db });
    const { ms } = await createFleet(db, slugs, {
      label: 'Load',
      concurrency: 4,
      log: (line) => log(`${scratch.name}: ${line}`),
      after: (slug) => db.withTenant(slug, (sql) => sql`insert into orders (id, currency) values (${SEED_ORDER}, 'EUR')`),
    });
    log(`${scratch.name}: ${slugs.length} tenants in ${(ms / 1000).toFixed(1)} s`);
  } finally {
    await db.end();
  }
}

/** One request: an indexed read, an insert and an update, in one tenant scope. */
export async function request(sql: Sql): Promise<void> {
  await sql`select id, status, total_cents from orders where id = ${SEED_ORDER}`;
  const inserted = await sql<{ id: string }>`insert into orders (currency, total_cents) values ('EUR', 100) returning id`;
  await sql`update orders set total_cents = total_cents + 1 where id = ${inserted.rows[0]!.id}`;
}

/** Server memory of one backend, from /proc/<pid>/smaps_rollup (kB figures turned into MiB). */
export interface BackendMemory {
  pid: number;
  /** Anonymous memory: the backend's own heap (catalog caches, plans), not shared buffers. */
  anonMiB: number;
  pssMiB: number;
  rssMiB: number;
}

/** The memory of every client backend connected to `database`, read from /proc (the server must be local). */
export async function backendMemory(database: string): Promise<BackendMemory[]> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  let pids: number[];
  try {
    const { rows } = await client.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = $1 and backend_type = 'client backend' and pid <> pg_backend_pid()`,
      [database],
    );
    pids = rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
  const out: BackendMemory[] = [];
  for (const pid of pids) {
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    } catch {
      continue; // gone, or not readable (a remote or containerised server): reported as no sample
    }
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    out.push({ pid, anonMiB: kb('Anonymous') / 1024, pssMiB: kb('Pss') / 1024, rssMiB: kb('Rss') / 1024 });
  }
  return out;
}

/** Median and largest anonymous memory of a set of backends. */
export function memorySummary(samples: BackendMemory[]): {
  connections: number;
  medianMiB: number;
  maxMiB: number;
  pssMedianMiB: number;
} {
  if (samples.length === 0) return { connections: 0, medianMiB: NaN, maxMiB: NaN, pssMedianMiB: NaN };
  const anon = samples.map((s) => s.anonMiB);
  return {
    connections: samples.length,
    medianMiB: median(anon),
    maxMiB: Math.max(...anon),
    pssMedianMiB: median(samples.map((s) => s.pssMiB)),
  };
}

/**
 * Where a request on a tenant its connection has not served before spends its time, against the same request
 * on a tenant it just served: one connection, one tenant after another, each tenant's first request (cold) then
 * its second (warm). Per statement, medians in µs. The difference is the server loading the tenant's catalog
 * entries (tables, indexes, triggers, the trigger function) into this connection's caches.
 */
export async function coldWarmProfile(
  url: string,
  slugs: string[],
  count: number,
): Promise<Record<'cold' | 'warm', Record<'read' | 'insert' | 'update' | 'scope', number>>> {
  const db = new Database({ url: `${url}${url.includes('?') ? '&' : '?'}pool_max=1&pool_max_uses=0` });
  const samples = {
    cold: { read: [] as number[], insert: [] as number[], update: [] as number[], scope: [] as number[] },
    warm: { read: [] as number[], insert: [] as number[], update: [] as number[], scope: [] as number[] },
  };
  try {
    const picked = [...slugs].sort(() => Math.random() - 0.5).slice(0, count);
    for (const slug of picked) {
      for (const kind of ['cold', 'warm'] as const) {
        const s = samples[kind];
        const started = performance.now();
        await db.withTenant(slug, async (sql) => {
          let t = performance.now();
          await sql`select id, status, total_cents from orders where id = ${SEED_ORDER}`;
          s.read.push((performance.now() - t) * 1000);
          t = performance.now();
          const inserted = await sql<{ id: string }>`insert into orders (currency, total_cents) values ('EUR', 100) returning id`;
          s.insert.push((performance.now() - t) * 1000);
          t = performance.now();
          await sql`update orders set total_cents = total_cents + 1 where id = ${inserted.rows[0]!.id}`;
          s.update.push((performance.now() - t) * 1000);
        });
        s.scope.push((performance.now() - started) * 1000);
      }
    }
  } finally {
    await db.end();
  }
  const med = (x: Record<string, number[]>) =>
    Object.fromEntries(Object.entries(x).map(([k, v]) => [k, median(v)])) as Record<
      'read' | 'insert' | 'update' | 'scope',
      number
    >;
  return { cold: med(samples.cold), warm: med(samples.warm) };
}
