import { QueryError } from '../errors/index.js';
import { splitStatements, type ScriptStatement } from '../sql/split.js';
import type { Driver, Session, Statement, Transaction } from './types.js';

/**
 * Citus needs one statement per message. It forwards a propagated statement's whole query string to the
 * worker, so a simple-protocol message holding `CREATE TABLE ...; CREATE INDEX ...;` in a distributed schema
 * fails with "cannot insert multiple commands into a prepared statement". On a Citus coordinator, every
 * script given to `exec()` is therefore cut where psql would cut it (`splitStatements`) and sent statement
 * by statement, still pipelined (no wait between them), with the same all-or-nothing outcome:
 *   - `Transaction.exec`: the statements go out back to back in the caller's transaction; the first failure
 *     is the error (later ones only report the aborted transaction);
 *   - `Driver.exec`: the statements run in one transaction of their own (BEGIN, statements, COMMIT, in two
 *     round trips), as a multi-statement message runs in one implicit transaction on PostgreSQL.
 * An error's `position` is moved from its statement to the whole script, so callers locate it as before.
 *
 * Whether the server is Citus is asked once per driver (`pg_extension`), riding along with the first
 * transaction's BEGIN (or before the first `exec()` outside one): no extra round trip, and on plain
 * PostgreSQL the transactions are then handed out untouched.
 */

const DETECT: Statement = { text: "select exists (select 1 from pg_extension where extname = 'citus') as citus" };

interface Detection {
  known: boolean | undefined;
  ask(): Promise<boolean>;
}

const detections = new WeakMap<Driver, Detection>();

/**
 * Wraps a pooled driver so that, on Citus, scripts are sent one statement per message (see the module
 * comment). On plain PostgreSQL the only difference is the one-time detection.
 */
export function statementPerMessageOnCitus(inner: Driver): Driver {
  const detection: Detection = {
    known: undefined,
    async ask() {
      if (this.known === undefined) this.known = isTrue((await inner.query(DETECT)).rows[0]?.citus);
      return this.known;
    },
  };
  const driver: Driver = {
    name: inner.name,
    // The fleet bounds its concurrency by the pool's size: the wrapper must not hide it.
    ...(inner.maxConnections === undefined ? {} : { maxConnections: inner.maxConnections }),
    query: (statement) => inner.query(statement),
    async exec(script) {
      const parts = (await detection.ask()) ? splitStatements(script) : [];
      if (parts.length < 2) return inner.exec(script);
      return execInOwnTransaction(inner, parts);
    },
    async begin(prelude, options) {
      // The options (the tenant a transaction serves) go through: the pool bounds tenants per connection.
      if (detection.known === false) return inner.begin(prelude, options);
      const asking = detection.known === undefined;
      const begun = await inner.begin(asking ? [...prelude, DETECT] : prelude, options);
      if (asking) {
        const answer = begun.results.pop();
        if (answer?.ok && detection.known === undefined) detection.known = isTrue(answer.result.rows[0]?.citus);
      }
      return detection.known === true ? { ...begun, tx: splittingTransaction(begun.tx) } : begun;
    },
    async acquire() {
      const session = await inner.acquire();
      if (detection.known === undefined) await detection.ask().catch(() => undefined);
      return detection.known === true ? splittingSession(session) : session;
    },
    end: () => inner.end(),
    ...(inner.tenantPoolStats ? { tenantPoolStats: inner.tenantPoolStats } : {}),
    ...(inner.retireRole ? { retireRole: inner.retireRole } : {}),
  };
  detections.set(driver, detection);
  return driver;
}

const answers = new WeakMap<object, Promise<boolean>>();

/**
 * Whether the database behind `driver` runs Citus (the extension is installed in it). Asked once per driver
 * (a failed question is asked again next time).
 */
export function isCitus(driver: Pick<Driver, 'query'>): Promise<boolean> {
  const detection = detections.get(driver as Driver);
  if (detection) return detection.ask();
  let answer = answers.get(driver);
  if (!answer) {
    answer = driver.query(DETECT).then((result) => isTrue(result.rows[0]?.citus));
    answers.set(driver, answer);
    answer.catch(() => answers.delete(driver));
  }
  return answer;
}

function isTrue(value: unknown): boolean {
  return value === true || value === 't';
}

function splittingTransaction(tx: Transaction): Transaction {
  return {
    query: (statement) => tx.query(statement),
    exec(script) {
      const parts = splitStatements(script);
      return parts.length < 2 ? tx.exec(script) : sendEach(tx, parts);
    },
    commit: () => tx.commit(),
    rollback: () => tx.rollback(),
  };
}

/** A session's multi-statement script runs as BEGIN, its statements, COMMIT: one transaction, as it would whole. */
function splittingSession(session: Session): Session {
  return {
    query: (statement) => session.query(statement),
    exec(script) {
      const parts = splitStatements(script);
      return parts.length < 2 ? session.exec(script) : inOneTransaction(session, parts);
    },
    release: (destroy) => session.release(destroy),
  };
}

async function inOneTransaction(session: Session, parts: readonly ScriptStatement[]): Promise<void> {
  const begun = session.exec('BEGIN');
  const sent = sendEach(session, parts);
  const ended = session.query({ text: 'COMMIT' });
  try {
    await Promise.all([begun, sent]);
  } catch (error) {
    await ended.catch(() => undefined);
    throw error;
  }
  const { command } = await ended;
  if (command !== 'COMMIT') throw new QueryError(`The script's transaction was rolled back (COMMIT answered ${command})`);
}

/** Sends every statement without waiting (in this order, synchronously); rejects with the first failure. */
function sendEach(tx: Pick<Transaction, 'exec'>, parts: readonly ScriptStatement[]): Promise<void> {
  const sent = parts.map((part) =>
    tx.exec(part.text).catch((error: unknown) => {
      throw shifted(error, part.offset);
    }),
  );
  return Promise.all(sent).then(() => undefined);
}

async function execInOwnTransaction(inner: Driver, parts: readonly ScriptStatement[]): Promise<void> {
  const { tx } = await inner.begin([]);
  const sent = sendEach(tx, parts);
  const committed = tx.commit();
  try {
    await sent;
  } catch (error) {
    await committed.catch(() => undefined);
    throw error;
  }
  const tag = await committed;
  if (tag !== 'COMMIT') throw new QueryError(`The script's transaction was rolled back (COMMIT answered ${tag})`);
}

/** The error of a statement that started at `offset` (code points) in the script, positioned in the script. */
function shifted(error: unknown, offset: number): unknown {
  if (!(error instanceof QueryError) || error.position === undefined || offset === 0) return error;
  const { sqlState, detail, constraint, table, schema } = error;
  const position = error.position + offset;
  const details = { sqlState, detail, constraint, table, schema, position };
  const moved = new QueryError(error.message, details, { hint: error.hint, cause: error.cause });
  moved.stack = error.stack;
  return moved;
}

/**
 * Whether `driver` (a `statementPerMessageOnCitus` driver) is known to run on Citus: undefined until its first
 * transaction (or script) has asked. Never sends anything.
 */
export function knownCitus(driver: Driver): boolean | undefined {
  return detections.get(driver)?.known;
}
