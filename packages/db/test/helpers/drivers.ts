import { Database } from '../../src/index.js';
import { createAppDatabase, type AppDatabase } from './database.js';
import { pooledDatabase } from './pgbouncer.js';
import { onLocalhost, openThroughRelay, startWsRelay } from './ws-relay.js';

/** A database of one driver kind, fresh for one test file, and how to throw it away. */
export interface DriverSetup {
  db: Database;
  /** The role the application connects as: a non-superuser owner of the database (the embedded one: postgres). */
  appRole: string;
  teardown(): Promise<void>;
}

/** One driver the behavioural suites run over. */
export interface DriverFixture {
  name: string;
  /** Several connections (scopes really run side by side), or one (scopes queue)? */
  concurrent: boolean;
  setup(): Promise<DriverSetup>;
}

/** node-postgres against the local server, in a scratch database of its own, as its non-superuser owner. */
export const pgFixture: DriverFixture = {
  name: 'pg',
  concurrent: true,
  async setup() {
    const scratch = await createAppDatabase();
    const db = new Database({ url: scratch.url });
    return {
      db,
      appRole: scratch.role,
      async teardown() {
        await db.end();
        await scratch.drop();
      },
    };
  },
};

/**
 * node-postgres through a real PgBouncer in transaction pooling mode (two server connections shared by every
 * client), in front of a scratch database reached as its non-superuser owner.
 */
export const pgbouncerFixture: DriverFixture = {
  name: 'pg through PgBouncer',
  concurrent: true,
  async setup() {
    const { app, pooled, teardown } = await pooledDatabase();
    return { db: pooled, appRole: app.role, teardown };
  },
};

/**
 * The embedded PostgreSQL, in memory. It has one user, the superuser `postgres`; inside a scope the tenant
 * role still applies (SET LOCAL ROLE drops the superuser's rights), so the permission tests apply here too.
 */
export const pgliteFixture: DriverFixture = {
  name: 'pglite',
  concurrent: false,
  async setup() {
    const db = new Database({ driver: 'pglite', dataDir: ':memory:' });
    return { db, appRole: 'postgres', teardown: () => db.end() };
  },
};

/**
 * @vercel/postgres (`vercel`) or the @neondatabase/serverless Pool (`neon`), speaking to the local server
 * through a WebSocket→TCP relay of the test's own (as they speak to Neon's proxy in production), in a
 * scratch database, as its non-superuser owner. The URL names host `localhost`, the only direct host @vercel/postgres accepts.
 */
function serverlessFixture(flavour: 'vercel' | 'neon'): DriverFixture {
  return {
    name: flavour,
    concurrent: true,
    async setup() {
      const scratch: AppDatabase = await createAppDatabase();
      let relay: Awaited<ReturnType<typeof startWsRelay>> | undefined;
      let db: Database | undefined;
      const teardown = async () => {
        await db?.end();
        await relay?.stop();
        await scratch.drop();
      };
      try {
        relay = await startWsRelay();
        db = new Database({ url: onLocalhost(scratch.url), driver: flavour });
        await openThroughRelay(db, relay);
      } catch (error) {
        // A setup that fails half way must not leave the relay listening or the scratch database behind.
        await teardown().catch(() => {});
        throw error;
      }
      return { db, appRole: scratch.role, teardown };
    },
  };
}

export const vercelFixture = serverlessFixture('vercel');
export const neonFixture = serverlessFixture('neon');

/** Every driver the behavioural suites run over (and node-postgres through PgBouncer). */
export const driverFixtures: DriverFixture[] = [pgFixture, pgbouncerFixture, pgliteFixture, vercelFixture, neonFixture];
