import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MigrationFilesError } from '../src/errors.js';
import { lineAt, loadMigrations, splitStatements, withoutConcurrently } from '../src/migrations/files.js';
import { fixtureDirs, TENANT_FILES } from './helpers/migrations.js';

// Migration files as text, without a database: naming, ordering, checksums, statement splitting.

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

  it('refuses a directory that does not exist', async () => {
    await expect(loadMigrations('/nonexistent/cgk/migrations')).rejects.toMatchObject({ code: 'CGK_MIGRATION_FILES' });
  });
});

describe('SQL text helpers', () => {
  it('splitStatements splits at top-level semicolons only, with offsets past leading comments', () => {
    const script = [
      '-- header; not a statement',
      "create table a (t text default 'x;y''z');",
      '/* block; /* nested; */ still */ create function f() returns int language sql as $body$ select 1; $body$;',
      "select E'it\\'s;' , \"we;ird\", $$a;b$$;",
      '  ;  -- empty',
    ].join('\n');
    const parts = splitStatements(script);
    expect(parts.map((p) => p.text)).toEqual([
      "create table a (t text default 'x;y''z')",
      'create function f() returns int language sql as $body$ select 1; $body$',
      "select E'it\\'s;' , \"we;ird\", $$a;b$$",
    ]);
    expect(parts.map((p) => lineAt(script, p.offset + 1)?.line)).toEqual([2, 3, 4]);
    expect(lineAt(script, parts[1]!.offset + 1)?.column).toBe(34);
  });

  it('lineAt counts characters as PostgreSQL does (code points), and withoutConcurrently keeps positions', () => {
    expect(lineAt('é😀\nab', 4)).toEqual({ line: 2, column: 1 });
    expect(lineAt('abc', 9)).toBeUndefined();
    const sql =
      "create unique index concurrently i on t (x);\ndrop index concurrently if exists j;\ncomment on index i is 'built concurrently';";
    const plain = withoutConcurrently(sql);
    expect(plain).toBe(
      "create unique index              i on t (x);\ndrop index              if exists j;\ncomment on index i is 'built concurrently';",
    );
    expect(plain.length).toBe(sql.length);
  });
});
