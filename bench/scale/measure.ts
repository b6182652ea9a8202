import pg from 'pg';
import type { Database } from '../../packages/db/src/index.js';
import type { Driver, Session, Statement, Transaction } from '../../packages/db/src/drivers/types.js';
import { ADMIN_URL, median } from '../lib.js';

/** The scale run's measuring tools: driver call counts, server sampling, catalog sizes, provisioning. */

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
export const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);
export const log = (message: string) => console.log(`[scale ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Counts every call a driver receives (each is one round trip on the pg driver, a pipelined begin included). */
export function countingSource(db: Database) {
  const counts = {
    query: 0,
    exec: 0,
    begin: 0,
    txQuery: 0,
    txExec: 0,
    commit: 0,
    rollback: 0,
    acquire: 0,
    sessionQuery: 0,
    sessionExec: 0,
  };
  const count = <T>(key: keyof typeof counts, work: () => T): T => {
    counts[key]++;
    return work();
  };
  let wrapped: Driver | undefined;
  const wrapTx = (tx: Transaction): Transaction => ({
    query: (s: Statement) => count('txQuery', () => tx.query(s)),
    exec: (script: string) => count('txExec', () => tx.exec(script)),
    commit: () => count('commit', () => tx.commit()),
    rollback: () => count('rollback', () => tx.rollback()),
  });
  const wrapSession = (session: Session): Session => ({
    query: (s: Statement) => count('sessionQuery', () => session.query(s)),
    exec: (script: string) => count('sessionExec', () => session.exec(script)),
    release: (destroy?: boolean) => session.release(destroy),
  });
  const wrap = (d: Driver): Driver => ({
    name: d.name,
    query: (s) => count('query', () => d.query(s)),
    exec: (script) => count('exec', () => d.exec(script)),
    begin: async (prelude) => {
      const { tx, results } = await count('begin', () => d.begin(prelude));
      return { tx: wrapTx(tx), results };
    },
    acquire: async () => wrapSession(await count('acquire', () => d.acquire())),
    end: () => d.end(),
  });
  return {
    source: { driver: async () => (wrapped ??= wrap(await db.driver())) },
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => {
      for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0;
    },
  };
}

/** Polls the server's connection counts (and this process's RSS) in the background; tracks the peaks per phase. */
export class Sampler {
  #client = new pg.Client({ connectionString: ADMIN_URL });
  #timer: NodeJS.Timeout | undefined;
  #rssTimer: NodeJS.Timeout | undefined;
  #busy = false;
  peak = { ours: 0, server: 0, rssBytes: 0 };
  /** What the scratch database's active backends were waiting on, sample counts since the last phase(). */
  waits: Record<string, number> = {};

  constructor(private readonly database: string) {}

  async start(): Promise<void> {
    await this.#client.connect();
    this.#timer = setInterval(() => void this.#sample(), 500);
    this.#rssTimer = setInterval(() => {
      this.peak.rssBytes = Math.max(this.peak.rssBytes, process.memoryUsage.rss());
    }, 100);
  }

  /** Returns the peaks since the last reset and starts over. */
  async phase(): Promise<{ ours: number; server: number; rssBytes: number; waits: Record<string, number> }> {
    await this.#sample();
    this.peak.rssBytes = Math.max(this.peak.rssBytes, process.memoryUsage.rss());
    const peak = {
      ...this.peak,
      waits: Object.fromEntries(
        Object.entries(this.waits)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 8),
      ),
    };
    this.peak = { ours: 0, server: 0, rssBytes: 0 };
    this.waits = {};
    return peak;
  }

  async #sample(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const { rows } = await this.#client.query(
        `select count(*) filter (where datname = $1)::int as ours, count(*)::int as server
        from pg_stat_activity where backend_type = 'client backend'`,
        [this.database],
      );
      this.peak.ours = Math.max(this.peak.ours, rows[0].ours);
      this.peak.server = Math.max(this.peak.server, rows[0].server);
      const waits = await this.#client.query(
        `select coalesce(wait_event_type || ':' || wait_event, 'running (CPU)') as w, count(*)::int as n
         from pg_stat_activity where datname = $1 and state = 'active' group by 1`,
        [this.database],
      );
      for (const w of waits.rows) this.waits[w.w] = (this.waits[w.w] ?? 0) + w.n;
    } catch {
      // sampling is best effort
    } finally {
      this.#busy = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#rssTimer);
    await this.#client.end().catch(() => undefined);
  }
}

export interface CatalogSize {
  databaseBytes: number;
  pgClass: number;
  /** Relations with files on disk (tables, indexes, TOAST, sequences). */
  relationsWithStorage: number;
  pgAttribute: number;
  pgDepend: number;
  pgType: number;
  pgNamespace: number;
  /** Bytes of the pg_catalog tables and their indexes. */
  catalogBytes: number;
}

export async function catalogSize(db: Database, database: string): Promise<CatalogSize> {
  const { rows } = await db.sql.query(
    `select
    pg_database_size($1)::bigint as database_bytes,
    (select count(*) from pg_class)::int as pg_class,
    (select count(*) from pg_class where relkind in ('r', 'i', 't', 'S', 'm'))::int as with_storage,
    (select count(*) from pg_attribute)::int as pg_attribute,
    (select count(*) from pg_depend)::int as pg_depend,
    (select count(*) from pg_type)::int as pg_type,
    (select count(*) from pg_namespace)::int as pg_namespace,
    (select sum(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'pg_catalog' and c.relkind = 'r')::bigint as catalog_bytes`,
    [database],
  );
  const r = rows[0]!;
  return {
    databaseBytes: Number(r.database_bytes),
    pgClass: Number(r.pg_class),
    relationsWithStorage: Number(r.with_storage),
    pgAttribute: Number(r.pg_attribute),
    pgDepend: Number(r.pg_depend),
    pgType: Number(r.pg_type),
    pgNamespace: Number(r.pg_namespace),
    catalogBytes: Number(r.catalog_bytes),
  };
}

export function perTenant(before: CatalogSize, after: CatalogSize, n: number) {
  const d = (k: keyof CatalogSize) => round((after[k] - before[k]) / n, 1);
  return {
    databaseKiB: round((after.databaseBytes - before.databaseBytes) / n / 1024, 1),
    catalogKiB: round((after.catalogBytes - before.catalogBytes) / n / 1024, 1),
    pgClass: d('pgClass'),
    relationsWithStorage: d('relationsWithStorage'),
    pgAttribute: d('pgAttribute'),
    pgDepend: d('pgDepend'),
    pgType: d('pgType'),
  };
}

/** Drops a scratch database and its tenant roles (the shared helper batches DROP ROLE); resolves to the time taken. */
export async function dropScratch(scratch: { drop(): Promise<void> }): Promise<number> {
  const started = performance.now();
  await scratch.drop();
  return performance.now() - started;
}

export { interruption, provision, type Provisioned } from '../lib.js';

/** Backend memory of every pooled connection: `pool` concurrent sleeps so that each connection answers once. */
export async function backendMemory(
  db: Database,
  pool: number,
): Promise<{ medianMiB: number; maxMiB: number; cacheMedianMiB: number; cacheMaxMiB: number }> {
  const answers = await Promise.all(
    Array.from({ length: pool }, () =>
      db.sql.query(`select pg_backend_pid() as pid, pg_sleep(0.2),
      (select sum(total_bytes) from pg_backend_memory_contexts)::bigint as total,
      (select sum(total_bytes) from pg_backend_memory_contexts
        where name = 'CacheMemoryContext' or parent = 'CacheMemoryContext')::bigint as cache`),
    ),
  );
  const byPid = new Map(answers.map((a) => [a.rows[0]!.pid, a.rows[0]!]));
  const totals = [...byPid.values()].map((r) => Number(r.total) / 1024 / 1024);
  const caches = [...byPid.values()].map((r) => Number(r.cache) / 1024 / 1024);
  return {
    medianMiB: round(median(totals), 1),
    maxMiB: round(Math.max(...totals), 1),
    cacheMedianMiB: round(median(caches), 1),
    cacheMaxMiB: round(Math.max(...caches), 1),
  };
}
