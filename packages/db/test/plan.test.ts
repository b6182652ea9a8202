import { afterAll, describe, expect, it } from 'vitest';
import { MigrationChecksumError, MigrationFilesError, MigrationError } from '../src/errors/index.js';
import { loadMigrations, migrationsDigest, type Migration } from '../src/migrations/files.js';
import { appliedRowsOf, planRun, prefixOf, RunLog, summaryCorrection, type AppliedRow } from '../src/migrations/plan.js';
import { fixtureDirs, TENANT_FILES } from './helpers/migrations.js';

/** The runner's planning, without a database: what a schema's applied rows mean against the files. */

const fixtures = fixtureDirs();
afterAll(() => fixtures.cleanup());

async function files(): Promise<readonly Migration[]> {
  return loadMigrations(fixtures.dir(TENANT_FILES));
}

const rowOf = (m: Migration): AppliedRow => ({ version: m.version, name: m.name, checksum: m.checksum });

describe('planRun', () => {
  it('nothing applied: every file is pending, in order', async () => {
    const migrations = await files();
    const plan = planRun('tenant_a', migrations, []);
    expect(plan.error).toBeUndefined();
    expect(plan.pending.map((m) => m.filename)).toEqual(['001_orders.sql', '002_customers.sql', '003_order_note.sql']);
  });

  it('a prefix applied: the files after it are pending', async () => {
    const migrations = await files();
    const plan = planRun('tenant_a', migrations, [rowOf(migrations[0]!), rowOf(migrations[1]!)]);
    expect(plan.error).toBeUndefined();
    expect(plan.pending.map((m) => m.version)).toEqual([3]);
    expect(plan.applied.map((r) => r.version)).toEqual([1, 2]);
  });

  it('a changed checksum refuses the schema and blames the file', async () => {
    const migrations = await files();
    const plan = planRun('tenant_a', migrations, [rowOf(migrations[0]!), { ...rowOf(migrations[1]!), checksum: 'f'.repeat(64) }]);
    expect(plan.pending).toEqual([]);
    expect(plan.error).toBeInstanceOf(MigrationChecksumError);
    expect(plan.blamed?.filename).toBe('002_customers.sql');
    expect(plan.error?.message).toContain('f'.repeat(64));
  });

  it('an applied version without a file (a newer release) refuses the schema without blaming a file', async () => {
    const migrations = await files();
    const plan = planRun('tenant_a', migrations, [...migrations.map(rowOf), { version: 4, name: 'later', checksum: 'abc' }]);
    expect(plan.error).toBeInstanceOf(MigrationFilesError);
    expect((plan.error as MigrationFilesError).file).toBe('004_later.sql');
    expect(plan.error?.message).toContain('latest file: 003_order_note.sql');
    expect(plan.blamed).toBeUndefined();
  });

  it('a gap in the applied versions (a file inserted below an applied one) blames the missing file', async () => {
    const migrations = await files();
    const plan = planRun('tenant_a', migrations, [rowOf(migrations[0]!), rowOf(migrations[2]!)]);
    expect(plan.error).toBeInstanceOf(MigrationFilesError);
    expect(plan.blamed?.filename).toBe('002_customers.sql');
    expect(plan.pending).toEqual([]);
  });
});

describe('summaries', () => {
  it('summaryCorrection: none when the row agrees; the true version and digest otherwise', async () => {
    const migrations = await files();
    const applied = migrations.slice(0, 2).map(rowOf);
    const digest = migrationsDigest(applied);
    expect(summaryCorrection(applied, { version: 2, checksum_digest: digest })).toBeUndefined();
    expect(summaryCorrection(applied, { version: 3, checksum_digest: digest })).toEqual({ version: 2, digest });
    expect(summaryCorrection(applied, { version: 2, checksum_digest: 'x' })).toEqual({ version: 2, digest });
    expect(summaryCorrection(applied, undefined)).toEqual({ version: 2, digest });
    expect(summaryCorrection([], undefined)).toEqual({ version: 0, digest: migrationsDigest([]) });
  });

  it('prefixOf: the N whose first-N digest matches, nothing for a wrong digest, version or a missing row', async () => {
    const migrations = await files();
    const two = migrationsDigest(migrations.slice(0, 2));
    expect(prefixOf(migrations, 2, two)).toBe(2);
    expect(prefixOf(migrations, '2', two)).toBe(2);
    expect(prefixOf(migrations, 0, migrationsDigest([]))).toBe(0);
    expect(prefixOf(migrations, 2, 'other')).toBeUndefined();
    expect(prefixOf(migrations, 1, two)).toBeUndefined();
    expect(prefixOf(migrations, 4, two)).toBeUndefined();
    expect(prefixOf(migrations, null, two)).toBeUndefined();
  });

  it('appliedRowsOf types what the server returned', () => {
    expect(appliedRowsOf([{ version: '7', name: 'x', checksum: 'ab' }])).toEqual([{ version: 7, name: 'x', checksum: 'ab' }]);
  });
});

describe('RunLog', () => {
  it('starts NotExecuted (or Skipped up to an assumed prefix) and records outcomes once', async () => {
    const migrations = await files();
    const log = new RunLog('tenant_a', migrations, 1);
    expect(log.toResultSet().results.map((r) => r.status)).toEqual(['Skipped', 'NotExecuted', 'NotExecuted']);
    log.succeeded(migrations[1]!, 12);
    // A file this run applied stays Success when a later read lists it as applied.
    log.skipped(migrations.slice(0, 2).map(rowOf));
    const error = new MigrationError({ schema: 'tenant_a', file: '003_order_note.sql' }, 'boom');
    expect(log.failed(migrations[2]!, error)).toBe(error);
    const set = log.toResultSet(error);
    expect(set).toMatchObject({ schema: 'tenant_a', failed: true, error });
    expect(set.results.map((r) => [r.status, r.durationMs])).toEqual([
      ['Skipped', undefined],
      ['Success', 12],
      ['Error', undefined],
    ]);
    expect(set.results[2]?.error).toBe(error);
    const clean = new RunLog('public', migrations).toResultSet();
    expect(clean.failed).toBe(false);
    expect('error' in clean).toBe(false);
  });
});
