import type { Readable, Writable } from 'node:stream';
import type pg from 'pg';
import type { Database } from '../../database/database.js';
import { normalizeDriverError } from '../../drivers/errors.js';
import { parsePoolSettings } from '../../drivers/pool-settings.js';
import { begin, clientSession, RELEASED } from '../../drivers/session.js';
import { pgSslSettings } from '../../drivers/ssl.js';
import type { Statement, Transaction } from '../../drivers/types.js';
import { TransferUnsupportedError } from './errors.js';

/**
 * The one connection an export or an import works on: a plain node-postgres client of its own (not one of the
 * driver's pooled, pipelined connections), because COPY takes the connection's socket over while it streams
 * (pg-copy-streams). Opened from the database's connection string, with its SSL settings and no pool.
 */
export interface TransferConnection {
  /** The connection string with its password replaced, for messages. */
  readonly target: string;
  /** Opens a transaction (`BEGIN` + `mode`, e.g. `isolation level repeatable read`) and runs `prelude`. */
  begin(mode: string, prelude?: readonly Statement[]): Promise<Transaction>;
  /** `COPY ... TO STDOUT` as a readable stream of the server's bytes (backpressure: the socket pauses). */
  copyOut(text: string): Promise<Readable & { rowCount?: number }>;
  /** `COPY ... FROM STDIN` as a writable stream; `rowCount` is set when it has finished. */
  copyIn(text: string): Promise<Writable & { rowCount?: number }>;
  end(): Promise<void>;
}

/** The server's connection string of `db`; the embedded database throws `TransferUnsupportedError`. */
export function serverUrl(db: Database, what: string): string {
  if (db.config.driver === 'pglite' || !db.config.url) throw new TransferUnsupportedError(what);
  return db.config.url;
}

type CopyModule = { to(text: string): Readable & { rowCount?: number }; from(text: string): Writable & { rowCount?: number } };
let copyModule: Promise<CopyModule> | undefined;

/** pg-copy-streams, loaded on the first export or import only (importing @cgk/db never loads it). */
function loadCopy(): Promise<CopyModule> {
  copyModule ??= import('pg-copy-streams').then((m) => ((m as { default?: CopyModule }).default ?? m) as CopyModule);
  return copyModule;
}

/**
 * Connects to `db`'s server for `what` (an export, an import). The embedded database throws
 * `TransferUnsupportedError`; a server that cannot be reached throws `ConnectionError`.
 */
export async function openTransferConnection(db: Database, what: string): Promise<TransferConnection> {
  const settings = parsePoolSettings(serverUrl(db, what));
  const target = settings.redacted;
  const normalize = (error: unknown) => normalizeDriverError(error, target);
  // pg is loaded here, not at the top: importing @cgk/db must not load it (tests/packaging.test.ts).
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client({
    ...pgSslSettings(settings.connectionString),
    connectionTimeoutMillis: settings.connectTimeoutMs,
  } as pg.ClientConfig);
  let lost: Error | undefined;
  client.on('error', (error) => {
    lost ??= error;
  });
  await client.connect().catch((error: unknown) => {
    throw normalize(error);
  });
  const copy = await loadCopy();
  // Statements sent together (the migration runner's batches) go one after the other: this client is not in
  // pipeline mode (COPY takes its socket over), and pg deprecates overlapping queries on one client.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = (query: unknown, values?: unknown[]) => {
    const run = queue.then(() => client.query(query as string, values));
    queue = run.catch(() => {});
    return run;
  };
  // A session per transaction: a transaction's end releases its session for good (drivers/session.ts).
  const session = () =>
    clientSession(
      {
        query: (query, values) => serial(query, values) as never,
        release: () => {},
        on: (event, listener) => client.on(event, listener),
        removeListener: (event, listener) => client.removeListener(event, listener),
      },
      normalize,
      () => normalize(new Error(RELEASED)),
      pgModule.types,
    );
  return {
    target,
    async begin(mode, prelude = []) {
      const { tx, results } = await begin(session(), [{ text: `set transaction ${mode}` }, ...prelude], {
        pipelined: false,
        aborted: (cause) => cause,
      });
      const failed = results.find((r) => !r.ok);
      if (failed && !failed.ok) {
        await tx.rollback().catch(() => {});
        throw failed.error;
      }
      return tx;
    },
    async copyOut(text) {
      if (lost) throw normalize(lost);
      return client.query(copy.to(text) as never) as unknown as Readable & { rowCount?: number };
    },
    async copyIn(text) {
      if (lost) throw normalize(lost);
      return client.query(copy.from(text) as never) as unknown as Writable & { rowCount?: number };
    },
    async end() {
      await client.end().catch(() => {});
    },
  };
}
