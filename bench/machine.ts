import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ADMIN_URL } from './lib.js';

/** What a benchmark result records about where it ran: the machine, the versions, when. */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** `2025-01-31T12-34-56Z`: a file-name-safe UTC timestamp. */
export function timestamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

async function packageVersion(name: string): Promise<string | null> {
  try {
    return JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version ?? null;
  } catch {
    return null;
  }
}

/** The machine and the versions a run used: CPUs, memory, Node, PostgreSQL, Redis, the driver packages. */
export async function machineInfo(db?: { sql: { query(text: string): Promise<{ rows: Array<Record<string, unknown>> }> } }) {
  let postgres: string | null = null;
  try {
    if (db) {
      postgres = String((await db.sql.query(`select version() as v`)).rows[0]?.v);
    } else {
      const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        postgres = String((await client.query('select version() as v')).rows[0].v);
      } finally {
        await client.end();
      }
    }
  } catch (error) {
    postgres = `unreachable: ${(error as Error).message}`;
  }
  let redis: string | null = null;
  try {
    const { Redis } = await import('ioredis');
    const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
    });
    // Without a listener a failed connection is an unhandled 'error' event; connect() rejecting says enough.
    client.on('error', () => {});
    try {
      await client.connect();
      redis = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? null;
    } finally {
      client.disconnect();
    }
  } catch {
    redis = null;
  }
  const cpu = cpus();
  const names = ['pg', '@electric-sql/pglite', 'ioredis', '@vercel/postgres', '@neondatabase/serverless', 'tsx', 'typescript'];
  const packages = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await packageVersion(n)] as const)));
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    os: `${process.platform} ${release()}`,
    node: process.version,
    postgres,
    redis,
    packages,
  };
}
