import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteDriver, PGLITE_SHARED_BUFFERS } from '../src/drivers/pglite/driver.js';
import { buildPgliteSeed, installedPgliteVersion, pgliteSeedFor, pgliteSeedPath } from '../src/drivers/pglite/seed.js';

/** The server's identity: initdb draws a new one; a copy of a data directory keeps it. */
async function systemIdentifier(query: (text: string) => Promise<{ rows: Array<Record<string, unknown>> }>): Promise<string> {
  return String((await query('select system_identifier::text as id from pg_control_system()')).rows[0]!.id);
}

describe('the embedded PostgreSQL starts from the prepared data directory', () => {
  let work: string;
  let seedId: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cgk-seed-'));
    const path = pgliteSeedPath();
    expect(path).toContain(`pglite-seed-${installedPgliteVersion()}.tgz`);
    // What `npm run build` does; the archive is kept for the package (an existing one is reused).
    if (!existsSync(path!)) await buildPgliteSeed(path);
    const seed = await pgliteSeedFor(undefined);
    expect(seed).toBeInstanceOf(Blob);
    const copy = await PGlite.create({ loadDataDir: seed! });
    try {
      seedId = await systemIdentifier((text) => copy.query(text));
    } finally {
      await copy.close();
    }
  }, 180_000);
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('unpacks a new data directory from the archive instead of running initdb, then reopens it as is', async () => {
    const dir = join(work, 'app');
    const driver = createPgliteDriver({ dataDir: dir });
    try {
      expect(await systemIdentifier((text) => driver.query({ text }))).toBe(seedId);
      await driver.exec('create table kept (id int)');
    } finally {
      await driver.end();
    }
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    // An existing database is never loaded over: the archive is not even read.
    expect(await pgliteSeedFor(dir)).toBeUndefined();
    const again = createPgliteDriver({ dataDir: dir });
    try {
      expect((await again.query({ text: `select count(*)::int as n from pg_tables where tablename = 'kept'` })).rows[0]!.n).toBe(
        1,
      );
    } finally {
      await again.end();
    }
  });

  it('runs with the smaller shared_buffers', async () => {
    const driver = createPgliteDriver();
    try {
      expect((await driver.query({ text: 'show shared_buffers' })).rows[0]!.shared_buffers).toBe(PGLITE_SHARED_BUFFERS);
    } finally {
      await driver.end();
    }
  });

  it('uses no archive for a directory that already holds a database', async () => {
    const dir = join(work, 'existing');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    await writeFile(join(dir, 'PG_VERSION'), '18\n');
    expect(await pgliteSeedFor(dir)).toBeUndefined();
    expect(pgliteSeedPath('0.0.0-none')).toMatch(/pglite-seed-0\.0\.0-none\.tgz$/);
  });
});
