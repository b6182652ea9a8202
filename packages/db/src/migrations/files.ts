import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MigrationFilesError } from '../errors/index.js';
import { embeddedFiles } from './builtin.js';
import { splitStatements } from '../sql/split.js';

/**
 * Migration files: loading a directory of `NNN_name.sql` files, checksums, and the small amount of SQL text
 * handling the runner needs (statement boundaries, error positions to lines). No database access here.
 */

/** One migration file, as loaded by `loadMigrations`. */
export interface Migration {
  /** The number before the first `_` (`007_reviews.sql` → 7). Versions run 1, 2, 3, ... without gaps. */
  readonly version: number;
  /** The part after the number, without `.sql` (`reviews`). */
  readonly name: string;
  /** The file name (`007_reviews.sql`). */
  readonly filename: string;
  /** Absolute path of the file. */
  readonly path: string;
  /** The file's text (UTF-8, a leading byte order mark removed). */
  readonly sql: string;
  /** SHA-256 of the file's bytes, lowercase hex. */
  readonly checksum: string;
  /** The first line is `-- cgk:no-transaction`: the file runs outside a transaction (CREATE INDEX CONCURRENTLY). */
  readonly noTransaction: boolean;
}

/** First line of a file that must run outside a transaction block. */
export const NO_TRANSACTION_MARKER = '-- cgk:no-transaction';

const FILE_PATTERN = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
/** Statements that would end or nest the runner's transaction. (`END` is left out: it closes BEGIN ATOMIC bodies.) */
const TRANSACTION_CONTROL = /^(begin|commit|rollback|abort|start\s+transaction|savepoint|release|prepare\s+transaction)\b/i;
/**
 * The same words anywhere in a file: a statement can only start with one if the file holds it as a word, so a
 * file without any is not split at all. Splitting is the costly part of loading a file the first time in a
 * process (a CLI command: ~20 ms for the 13 tenant files, before the code is compiled); only 1 of them has one.
 */
const MAY_CONTROL_TRANSACTIONS = new RegExp(TRANSACTION_CONTROL.source.replace('^', '\\b'), 'i');
const cache = new Map<string, Promise<readonly Migration[]>>();

/**
 * Reads the migrations of `dir` in version order: every `*.sql` file must be named `NNN_name.sql` (three or
 * more digits, then `[a-z0-9_]+`), versions start at 1 and have no gaps or duplicates. Anything else throws
 * `MigrationFilesError` (code `CGK_MIGRATION_FILES`) naming the file. Other files (README.md, dot files) and
 * sub-directories are ignored. Each directory is read once per process; later calls return the same array.
 *
 * @example
 * const migrations = await loadMigrations(new URL('./migrations/tenant/', import.meta.url));
 * console.log(migrations.map((m) => `${m.filename} ${m.checksum.slice(0, 8)}`));
 */
export function loadMigrations(dir: string | URL): Promise<readonly Migration[]> {
  const path = resolve(typeof dir === 'string' ? dir : fileURLToPath(dir));
  let loaded = cache.get(path);
  if (!loaded) {
    loaded = readMigrations(path);
    cache.set(path, loaded);
    // A directory that failed to load is read again next time (the operator may have fixed it). Only this
    // entry is forgotten: after clearMigrationCache() the path may already hold a newer load.
    const entry = loaded;
    entry.catch(() => {
      if (cache.get(path) === entry) cache.delete(path);
    });
  }
  return loaded;
}

/** Forgets every directory `loadMigrations` has read, so the next call reads the files again. */
export function clearMigrationCache(): void {
  cache.clear();
}

/** The `.sql` file names of a directory (not yet checked), and how to read one: from disk, or embedded. */
async function listFiles(dir: string): Promise<{ names: string[]; read: (filename: string) => Promise<Buffer> }> {
  const embedded = embeddedFiles(dir);
  if (embedded) {
    const texts = new Map(embedded.map((file) => [file.filename, file.sql]));
    return { names: [...texts.keys()].sort(), read: async (filename) => Buffer.from(texts.get(filename)!, 'utf8') };
  }
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new MigrationFilesError(dir, `Cannot read the migration directory ${dir}: ${(error as Error).message}`, {
      hint: 'Check the path (options publicDir / tenantDir) and that the directory exists.',
      cause: error,
    });
  }
  const names = entries
    .filter((entry) => !entry.isDirectory() && !entry.name.startsWith('.') && /\.sql$/i.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  return { names, read: (filename) => readFile(join(dir, filename)) };
}

async function readMigrations(dir: string): Promise<readonly Migration[]> {
  const { names: candidates, read } = await listFiles(dir);
  const parsed: Array<{ version: number; name: string; filename: string }> = [];
  for (const filename of candidates) {
    const match = FILE_PATTERN.exec(filename);
    if (!match) {
      throw new MigrationFilesError(join(dir, filename), `Migration file ${filename} has a bad name (in ${dir})`, {
        hint:
          'Name migration files NNN_name.sql: three or more digits, "_", then lowercase letters, digits and "_" ' +
          '(e.g. 014_order_notes.sql).',
      });
    }
    parsed.push({ version: Number(match[1]), name: match[2]!, filename });
  }
  parsed.sort((a, b) => a.version - b.version || a.filename.localeCompare(b.filename));
  for (let i = 0; i < parsed.length; i++) {
    const file = parsed[i]!;
    const previous = parsed[i - 1];
    if (previous && previous.version === file.version) {
      throw new MigrationFilesError(
        join(dir, file.filename),
        `Migration files ${previous.filename} and ${file.filename} have the same version ${file.version} (in ${dir})`,
        {
          hint: 'Each version number is used once; renumber the newer file to the next free number.',
        },
      );
    }
    const expected = i + 1;
    if (file.version !== expected) {
      throw new MigrationFilesError(
        join(dir, file.filename),
        `Migration file ${file.filename} leaves a gap: version ${expected} is missing before it (in ${dir})`,
        {
          hint: `Versions run 1, 2, 3, ... without gaps; rename ${file.filename} to use version ${versionLabel(expected)}.`,
        },
      );
    }
  }
  return Promise.all(
    parsed.map(async ({ version, name, filename }): Promise<Migration> => {
      const path = join(dir, filename);
      let bytes: Buffer;
      try {
        bytes = await read(filename);
      } catch (error) {
        throw new MigrationFilesError(path, `Cannot read migration file ${filename}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const sql = bytes.toString('utf8').replace(/^\uFEFF/, '');
      const firstLine = sql.split('\n', 1)[0]!.trimEnd();
      const noTransaction = firstLine === NO_TRANSACTION_MARKER;
      if (!noTransaction && MAY_CONTROL_TRANSACTIONS.test(sql)) {
        const control = splitStatements(sql).find((s) => TRANSACTION_CONTROL.test(s.text));
        if (control) {
          const line = lineAt(sql, control.offset + 1)?.line ?? 1;
          throw new MigrationFilesError(
            path,
            `Migration file ${filename} controls transactions itself (line ${line}: ` +
              `${control.text.split(/\s+/, 2).join(' ')}): the runner runs each file in its own transaction`,
            {
              hint:
                `Remove the BEGIN/COMMIT from ${filename}, or make its first line "${NO_TRANSACTION_MARKER}" ` +
                'if it must run outside a transaction.',
            },
          );
        }
      }
      return Object.freeze({
        version,
        name,
        filename,
        path,
        sql,
        checksum: createHash('sha256').update(bytes).digest('hex'),
        noTransaction,
      });
    }),
  ).then((migrations) => Object.freeze(migrations));
}

/**
 * The digest of a list of applied migrations: SHA-256 (hex) of their history text (`historyText`).
 * Computed in JavaScript only: PostgreSQL's sha256() is slow to set up per call (docs/BENCHMARKS.md), which
 * adds up over thousands of tenants; SQL compares history texts instead.
 */
export function migrationsDigest(migrations: ReadonlyArray<{ version: number; checksum: string }>): string {
  return historyDigest(historyText(migrations));
}

/** The digest of a history text (`historyText` in JavaScript, `HISTORY_SQL` in SQL): SHA-256, lowercase hex. */
export function historyDigest(history: string): string {
  return createHash('sha256').update(history).digest('hex');
}

const prefixDigestCache = new WeakMap<readonly Migration[], readonly string[]>();

/**
 * `prefixDigests(m)[k]` = `migrationsDigest(m.slice(0, k))`, the digest of the first k files (k = 0 ..
 * m.length), computed once per file set (`loadMigrations` returns the same array for a directory).
 */
export function prefixDigests(migrations: readonly Migration[]): readonly string[] {
  let digests = prefixDigestCache.get(migrations);
  if (!digests) {
    const computed: string[] = [];
    let history = '';
    for (let k = 0; k <= migrations.length; k++) {
      if (k > 0) history += `${k > 1 ? ',' : ''}${historyText([migrations[k - 1]!])}`;
      computed.push(historyDigest(history));
    }
    digests = Object.freeze(computed);
    prefixDigestCache.set(migrations, digests);
  }
  return digests;
}

/** `version:checksum` of each migration, in version order, joined by `,`. `HISTORY_SQL` builds the same text in SQL. */
export function historyText(migrations: ReadonlyArray<{ version: number; checksum: string }>): string {
  return migrations.map((m) => `${m.version}:${m.checksum}`).join(',');
}

/** SQL aggregate over a `schema_migrations` table giving `historyText` of its rows. */
export const HISTORY_SQL = "coalesce(string_agg(version::text || ':' || checksum, ',' order by version), '')";

/**
 * The 1-based line and column of a 1-based character `position` in `text` (PostgreSQL counts characters, not
 * bytes or UTF-16 units), or undefined when the position is missing or outside the text.
 */
export function lineAt(text: string, position: number | undefined): { line: number; column: number } | undefined {
  if (position === undefined || !Number.isInteger(position) || position < 1) return undefined;
  let line = 1;
  let column = 1;
  let count = 0;
  for (const char of text) {
    count++;
    if (count === position) return { line, column };
    if (char === '\n') {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return undefined;
}

/** The number of characters (code points, as PostgreSQL counts them) in `text`. */
export function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

export { splitStatements, type ScriptStatement } from '../sql/split.js';

// The index commands that take CONCURRENTLY, with the keyword as the second group.
const CONCURRENTLY_CLAUSE = new RegExp(
  String.raw`\b((?:create\s+(?:unique\s+)?index|drop\s+index|` +
    String.raw`reindex\s+(?:\(\s*[^)]*\)\s*)?(?:index|table|schema|database|system))\s+)(concurrently)\b`,
  'gi',
);

/**
 * Makes a no-transaction file runnable inside a transaction, for a brand-new (empty) schema: the keyword
 * CONCURRENTLY of CREATE [UNIQUE] INDEX, DROP INDEX and REINDEX is blanked out with spaces (so character
 * positions, and therefore error lines, stay the same). On empty tables a plain index build is what
 * CONCURRENTLY would have produced.
 */
export function withoutConcurrently(sql: string): string {
  return sql.replace(CONCURRENTLY_CLAUSE, (_all, head: string, keyword: string) => head + ' '.repeat(keyword.length));
}

function versionLabel(version: number): string {
  return String(version).padStart(3, '0');
}

/** The file name a migration of `version` and `name` has (`NNN_name.sql`, as FILE_PATTERN reads it). */
export function migrationFilename(version: number, name: string): string {
  return `${versionLabel(version)}_${name}.sql`;
}
