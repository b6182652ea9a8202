import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The local Citus cluster the Citus tests run on: a coordinator and two workers on loopback, brought up by
 * `npm run test:citus` (scripts/citus.sh). Ports: CGK_CITUS_PORT (coordinator, default 9700), +1, +2.
 */
export const CITUS_PORT = Number(process.env.CGK_CITUS_PORT ?? 9700);
export const CITUS_NODES = [CITUS_PORT, CITUS_PORT + 1, CITUS_PORT + 2];

export function nodeUrl(port: number, database = 'postgres'): string {
  return `postgres://postgres@127.0.0.1:${port}/${database}`;
}

/** Runs statements on one node, one message each; fails loudly when the node is down. */
export async function onNode(port: number, database: string, ...statements: string[]): Promise<pg.QueryResult[]> {
  const client = new pg.Client({ connectionString: nodeUrl(port, database), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`Citus node 127.0.0.1:${port} is unreachable (${(error as Error).message}). Run: npm run test:citus`);
  }
  try {
    const results: pg.QueryResult[] = [];
    for (const statement of statements) results.push(await client.query(statement));
    return results;
  } finally {
    await client.end();
  }
}

export interface CitusDatabase {
  name: string;
  /** The coordinator's URL for this database. */
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh database on every node with the citus extension, the workers registered on the coordinator and
 * schema-based sharding on for the database (what docs/SCALING.md tells an operator to do).
 */
export async function createCitusDatabase(prefix = 'cgk_citus'): Promise<CitusDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  for (const port of CITUS_NODES) {
    await onNode(port, 'postgres', `create database "${name}"`);
    await onNode(port, name, 'set client_min_messages = warning', 'create extension citus');
  }
  await onNode(
    CITUS_PORT,
    name,
    `select citus_set_coordinator_host('127.0.0.1', ${CITUS_PORT})`,
    ...CITUS_NODES.slice(1).map((port) => `select citus_add_node('127.0.0.1', ${port})`),
    `alter database "${name}" set citus.enable_schema_based_sharding = on`,
  );
  return {
    name,
    url: nodeUrl(CITUS_PORT, name),
    async drop() {
      // Roles are propagated to every node: drop them from the coordinator while the workers are registered.
      const tag = createHash('md5').update(name).digest('hex').slice(0, 8);
      const { rows } = (await onNode(CITUS_PORT, name, `select rolname from pg_roles where rolname like 'ct\\_${tag}\\_%'`))[0]!;
      for (const port of CITUS_NODES) await onNode(port, 'postgres', `drop database if exists "${name}" with (force)`);
      for (const port of CITUS_NODES) {
        for (const { rolname } of rows) await onNode(port, 'postgres', `drop role if exists "${rolname as string}"`);
      }
    },
  };
}
