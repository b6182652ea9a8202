import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MigrationFilesError } from '../src/errors/index.js';
import {
  charLength,
  clearMigrationCache,
  historyDigest,
  historyText,
  lineAt,
  loadMigrations,
  migrationsDigest,
  prefixDigests,
  withoutConcurrently,
} from '../src/migrations/files.js';
import { fixtureDirs, TENANT_FILES } from './helpers/migrations.js';

// Migration files as text, without a database: naming, ordering, checksums (statement splitting: split-text.test.ts).

const fixtures = fixtureDirs();
afterAll(() => fixtures.cleanup());

describe('loadMigrations', () => {
  it('reads NNN_name.sql files in version order with checksum and no-transaction flag, and caches them', async () => {
    const dir = fixtures.dir({
      ...TENANT_FILES,
      '004_note_idx.sql': '-- cgk:no-transaction\ncreate index concurrently orders_note_idx on orders (note);\n',
      'README.md': 'not a migration',
    });
    const migrations = await loadMigrations(dir);
    expect(migrations.map((m) => [m.version, m.name, m.filename, m.noTransaction])).toEqual([
      [1, 'orders', '001_orders.sql', false],
      [2, 'customers', '002_customers.sql', false],
      [3, 'order_note', '003_order_note.sql', false],
      [4, 'note_idx', '004_note_idx.sql', true],
    ]);
    const bytes = readFileSync(join(dir, '002_customers.sql'));
    expect(migrations[1]!.checksum).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(migrations[1]!.sql).toBe(TENANT_FILES['002_customers.sql']);
    expect(await loadMigrations(dir)).toBe(migrations);
  });

  it('accepts four-digit versions and an empty directory', async () => {
    expect(
      (await loadMigrations(fixtures.dir({ '0001_a.sql': 'select 1', '0002_b.sql': 'select 2' }))).map((m) => m.version),
    ).toEqual([1, 2]);
    expect(await loadMigrations(fixtures.dir({}))).toEqual([]);
  });

  it.each([
    ['a gap', { '001_a.sql': '', '003_c.sql': '' }, '003_c.sql', /gap: version 2 is missing/],
    ['a gap at the start', { '002_b.sql': '' }, '002_b.sql', /version 1 is missing/],
    [
      'a duplicate version',
      { '001_a.sql': '', '002_b.sql': '', '002_c.sql': '' },
      '002_c.sql',
      /002_b\.sql and 002_c\.sql have the same version 2/,
    ],
    ['a duplicate version in another width', { '001_a.sql': '', '0001_b.sql': '' }, '001_a.sql', /same version 1/],
    ['two digits', { '01_a.sql': '' }, '01_a.sql', /bad name/],
    ['an upper-case name', { '001_Orders.sql': '' }, '001_Orders.sql', /bad name/],
    ['a dash', { '001-orders.sql': '' }, '001-orders.sql', /bad name/],
    ['no name', { '001.sql': '' }, '001.sql', /bad name/],
  ])('refuses %s, naming the file', async (_label, files, file, message) => {
    const dir = fixtures.dir(files);
    const error = await loadMigrations(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MigrationFilesError);
    expect((error as MigrationFilesError).code).toBe('CGK_MIGRATION_FILES');
    expect((error as MigrationFilesError).message).toContain(file);
    expect((error as MigrationFilesError).message).toMatch(message);
    expect((error as MigrationFilesError).file).toBe(join(dir, file));
    expect((error as MigrationFilesError).hint).toBeTruthy();
  });

  it('says in the hint how to fix a name, a duplicate or a gap', async () => {
    const refusal = (files: Record<string, string>) =>
      loadMigrations(fixtures.dir(files)).then(
        () => undefined,
        (e: MigrationFilesError) => e,
      );
    expect((await refusal({ '1_a.sql': '' }))?.hint).toMatch(/NNN_name\.sql/);
    expect((await refusal({ '001_a.sql': '', '001_b.sql': '' }))?.hint).toMatch(/renumber/);
    // The version the file should have, written as three digits.
    expect((await refusal({ '001_a.sql': '', '004_d.sql': '' }))?.hint).toMatch(/rename 004_d\.sql to use version 002/);
  });

  it('orders by version number, not by file name', async () => {
    const files: Record<string, string> = {};
    for (let v = 1; v <= 9; v++) files[`00${v}_m${v}.sql`] = `select ${v}`;
    files['0010_m10.sql'] = 'select 10';
    const migrations = await loadMigrations(fixtures.dir(files));
    expect(migrations.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(migrations.map((m) => m.sql)).toEqual(migrations.map((m) => `select ${m.version}`));
  });

  it('names the first bad file in name order', async () => {
    const error = await loadMigrations(fixtures.dir({ 'e.sql': '', 'b.sql': '', 'd.sql': '', 'a.sql': '', 'c.sql': '' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as MigrationFilesError).message).toMatch(/Migration file a\.sql has a bad name/);
  });

  it('ignores sub-directories, dot files and other extensions; takes .SQL for a migration with a bad name', async () => {
    const dir = fixtures.dir({ '001_a.sql': 'select 1', '.002_b.sql': 'x', '002_b.sql.bak': 'x', 'notes.txt': 'x' });
    mkdirSync(join(dir, '002_sub.sql'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', '002_b.sql'), 'select 2');
    expect((await loadMigrations(dir)).map((m) => m.filename)).toEqual(['001_a.sql']);
    await expect(loadMigrations(fixtures.dir({ '001_A.SQL': '' }))).rejects.toThrow(/001_A\.SQL has a bad name/);
  });

  it('accepts a file URL for the directory', async () => {
    const dir = fixtures.dir({ '001_a.sql': 'select 1' });
    const migrations = await loadMigrations(pathToFileURL(`${dir}/`));
    expect(migrations.map((m) => m.path)).toEqual([join(dir, '001_a.sql')]);
    expect(await loadMigrations(dir)).toBe(migrations);
  });

  it('reads a directory again after it failed to load, and after clearMigrationCache()', async () => {
    const dir = fixtures.dir({ '001_a.sql': 'select 1', '003_c.sql': 'select 3' });
    await expect(loadMigrations(dir)).rejects.toThrow(/gap/);
    renameSync(join(dir, '003_c.sql'), join(dir, '002_c.sql'));
    const fixed = await loadMigrations(dir);
    expect(fixed.map((m) => m.filename)).toEqual(['001_a.sql', '002_c.sql']);
    writeFileSync(join(dir, '003_d.sql'), 'select 4');
    expect(await loadMigrations(dir)).toBe(fixed);
    clearMigrationCache();
    expect((await loadMigrations(dir)).map((m) => m.filename)).toEqual(['001_a.sql', '002_c.sql', '003_d.sql']);
  });

  it('refuses a file it cannot read, naming it', async () => {
    const dir = fixtures.dir({ '001_a.sql': 'select 1' });
    symlinkSync(join(dir, 'nowhere.sql'), join(dir, '002_b.sql'));
    const error = await loadMigrations(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MigrationFilesError);
    expect(error).toMatchObject({ code: 'CGK_MIGRATION_FILES', file: join(dir, '002_b.sql') });
    expect((error as Error).message).toMatch(/Cannot read migration file 002_b\.sql: ENOENT/);
    expect((error as Error).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('drops a leading byte order mark from the text (not from the checksum), and only a leading one', async () => {
    const text = '\uFEFF-- cgk:no-transaction\ncreate index concurrently i on t (x); -- \uFEFF\n';
    const dir = fixtures.dir({ '001_a.sql': text });
    const [migration] = await loadMigrations(dir);
    expect(migration!.sql).toBe(text.slice(1));
    expect(migration!.noTransaction).toBe(true);
    expect(migration!.checksum).toBe(createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex'));
    // A byte order mark further on is text like any other.
    const inner = 'select 1; -- \uFEFF\n';
    expect((await loadMigrations(fixtures.dir({ '001_a.sql': inner })))[0]!.sql).toBe(inner);
  });

  it('takes the no-transaction marker with trailing blanks or a CRLF line end, not with leading ones', async () => {
    const marked = await loadMigrations(
      fixtures.dir({ '001_a.sql': '-- cgk:no-transaction  \r\ncommit;\r\n', '002_b.sql': '-- cgk:no-transaction\t\ncommit;' }),
    );
    expect(marked.map((m) => m.noTransaction)).toEqual([true, true]);
    await expect(loadMigrations(fixtures.dir({ '001_a.sql': ' -- cgk:no-transaction\ncommit;\n' }))).rejects.toThrow(
      /controls transactions itself/,
    );
  });

  it('refuses a file that controls transactions itself, naming the line (plpgsql BEGIN and no-transaction files are fine)', async () => {
    const dir = fixtures.dir({ '001_a.sql': 'create table a (id int);\n-- done\nCOMMIT;\n' });
    await expect(loadMigrations(dir)).rejects.toThrow(/001_a\.sql controls transactions itself \(line 3: COMMIT\)/);
    const fine = fixtures.dir({
      '001_a.sql': 'do $$ begin perform 1; end $$;\ncreate function f() returns int language sql begin atomic select 1; end;\n',
      '002_b.sql': '-- cgk:no-transaction\ncommit;\n',
    });
    expect((await loadMigrations(fine)).map((m) => m.noTransaction)).toEqual([false, true]);
  });

  it("refuses a file that controls transactions itself, with the statement's first two words and a hint", async () => {
    const dir = fixtures.dir({
      '001_a.sql': 'create table a (id int);\n\nSTART  \n TRANSACTION isolation level serializable;\n',
    });
    const error = await loadMigrations(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain('(line 3: START TRANSACTION)');
    expect((error as MigrationFilesError).hint).toContain('001_a.sql');
    expect((error as MigrationFilesError).hint).toContain('-- cgk:no-transaction');
  });

  it('refuses a directory that does not exist', async () => {
    const error = await loadMigrations('/nonexistent/cgk/migrations').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'CGK_MIGRATION_FILES', file: '/nonexistent/cgk/migrations' });
    expect((error as Error).message).toMatch(/Cannot read the migration directory \/nonexistent\/cgk\/migrations: ENOENT/);
    expect((error as MigrationFilesError).hint).toMatch(/publicDir/);
  });
});

describe('SQL text helpers', () => {
  it('lineAt counts characters as PostgreSQL does (code points), and withoutConcurrently keeps positions', () => {
    expect(lineAt('é😀\nab', 4)).toEqual({ line: 2, column: 1 });
    expect(lineAt('abc', 9)).toBeUndefined();
    expect(lineAt('abc', 1)).toEqual({ line: 1, column: 1 });
    expect(lineAt('abc', 3)).toEqual({ line: 1, column: 3 });
    for (const position of [undefined, 0, -1, 1.5]) expect(lineAt('abc', position)).toBeUndefined();
    expect(charLength('é😀\nab')).toBe(5);
    expect(charLength('')).toBe(0);
    const sql =
      "create unique index concurrently i on t (x);\ndrop index concurrently if exists j;\ncomment on index i is 'built concurrently';";
    const plain = withoutConcurrently(sql);
    expect(plain).toBe(
      "create unique index              i on t (x);\ndrop index              if exists j;\ncomment on index i is 'built concurrently';",
    );
    expect(plain.length).toBe(sql.length);
  });
});

describe('withoutConcurrently', () => {
  it('blanks CONCURRENTLY in every spelling of CREATE INDEX, DROP INDEX and REINDEX', () => {
    const cases = [
      'create  index  concurrently i on t (x)',
      'CREATE UNIQUE  INDEX\tCONCURRENTLY i ON t (x)',
      'create\nunique index concurrently i on t (x)',
      'drop  index concurrently i',
      'reindex index concurrently i',
      'reindex  table concurrently t',
      'reindex schema concurrently s',
      'reindex database concurrently d',
      'reindex system concurrently d',
      'reindex (verbose) index concurrently i',
      'reindex ( verbose, tablespace x )  index concurrently i',
      'reindex (verbose)index concurrently i',
    ];
    for (const sql of cases) {
      const plain = withoutConcurrently(sql);
      expect(plain, sql).not.toMatch(/concurrently/i);
      expect(plain.length, sql).toBe(sql.length);
      expect(plain.replace(/\s+/g, ' '), sql).toBe(sql.replace(/\s*concurrently/i, '').replace(/\s+/g, ' '));
    }
  });

  it('leaves CONCURRENTLY elsewhere alone', () => {
    for (const sql of [
      'refresh materialized view concurrently v',
      'create index concurrentlyx on t (x)',
      'select 1 as concurrently',
      'reindexindex concurrently i',
    ]) {
      expect(withoutConcurrently(sql)).toBe(sql);
    }
  });
});

describe('history digests', () => {
  const migrations = [
    { version: 1, checksum: 'aa' },
    { version: 2, checksum: 'bb' },
  ];
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  it('writes version:checksum pairs joined by commas, and digests that text', () => {
    expect(historyText(migrations)).toBe('1:aa,2:bb');
    expect(historyText([])).toBe('');
    expect(historyDigest('1:aa')).toBe(sha256('1:aa'));
    expect(migrationsDigest(migrations)).toBe(sha256('1:aa,2:bb'));
    expect(migrationsDigest([])).toBe(sha256(''));
  });

  it('gives the digest of every prefix of a file set, computed once per set', async () => {
    const files = await loadMigrations(
      fixtures.dir({ '001_a.sql': 'select 1', '002_b.sql': 'select 2', '003_c.sql': 'select 3' }),
    );
    const digests = prefixDigests(files);
    expect(digests).toEqual([0, 1, 2, 3].map((k) => migrationsDigest(files.slice(0, k))));
    expect(prefixDigests(files)).toBe(digests);
  });
});
