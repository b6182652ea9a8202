import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, configuredMigrationSets, createMigrationFile, findConfigFile, MigrationFilesError } from '../src/index.js';

/** Where the application's migration sets are configured: cgk.config.json (found upwards) and the environment. */

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** An app folder: `db/public`, `db/tenant` (with files), a nested working directory `src/deep`. */
function app(config?: unknown): string {
  const root = mkdtempSync(join(tmpdir(), 'cgk-config-'));
  roots.push(root);
  for (const dir of ['db/public', 'db/tenant', 'db/billing-sql', 'src/deep']) mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'db/tenant/001_users.sql'), '-- users\ncreate table users (id int);\n');
  writeFileSync(join(root, 'db/tenant/002_notes.sql'), '-- notes\ncreate table notes (id int);\n');
  if (config !== undefined)
    writeFileSync(join(root, 'cgk.config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return root;
}

describe('migration set configuration', () => {
  it('reads cgk.config.json from the working directory or above, folders relative to the file', () => {
    const root = app({
      migrations: { public: ['db/public'], tenant: ['db/tenant', { name: 'billing', dir: 'db/billing-sql' }] },
    });
    const cwd = join(root, 'src/deep');
    expect(findConfigFile(cwd)).toBe(join(root, 'cgk.config.json'));
    const sets = configuredMigrationSets({ cwd, env: {} });
    expect(sets.public.map((s) => [s.name, s.dir])).toEqual([['public', join(root, 'db/public')]]);
    expect(sets.tenant.map((s) => [s.name, s.dir])).toEqual([
      ['tenant', join(root, 'db/tenant')],
      ['billing', join(root, 'db/billing-sql')],
    ]);
  });

  it('the environment variables replace the file, folders relative to the working directory, name=folder names a set', () => {
    const root = app({ migrations: { tenant: ['db/tenant'] } });
    const env = { CGK_TENANT_MIGRATIONS: 'db/billing-sql, app=db/tenant', CGK_PUBLIC_MIGRATIONS: 'db/public' };
    const sets = configuredMigrationSets({ cwd: root, env });
    expect(sets.tenant.map((s) => s.name)).toEqual(['billing_sql', 'app']);
    expect(sets.public.map((s) => s.dir)).toEqual([join(root, 'db/public')]);
    expect(configuredMigrationSets({ cwd: app(), env: {} })).toEqual({ public: [], tenant: [] });
  });

  it('a missing folder is a typed error naming it and where it was configured; a bad file is a ConfigError', () => {
    const root = app({ migrations: { tenant: ['db/nope'] } });
    const missing = (() => {
      try {
        return configuredMigrationSets({ cwd: root, env: {} });
      } catch (error) {
        return error;
      }
    })();
    expect(missing).toBeInstanceOf(MigrationFilesError);
    expect((missing as MigrationFilesError).message).toContain(join(root, 'db/nope'));
    expect((missing as MigrationFilesError).message).toContain('cgk.config.json');
    expect(() => configuredMigrationSets({ cwd: app(), env: { CGK_PUBLIC_MIGRATIONS: 'gone' } })).toThrow(
      /gone.*CGK_PUBLIC_MIGRATIONS/,
    );
    expect(() => configuredMigrationSets({ cwd: app('{ not json'), env: {} })).toThrow(ConfigError);
    expect(() => configuredMigrationSets({ cwd: app({ migrations: { tenants: [] } }), env: {} })).toThrow(/migrations.tenants/);
    expect(() => configuredMigrationSets({ cwd: app({ migrations: { tenant: ['db/tenant', 'db/tenant'] } }), env: {} })).toThrow(
      /Two tenant migration sets are named "tenant"/,
    );
    expect(() => configuredMigrationSets({ cwd: app(), env: { CGK_TENANT_MIGRATIONS: 'platform=db/tenant' } })).toThrow(
      ConfigError,
    );
  });

  it('createMigrationFile writes the next numbered file of the first set, never overwriting; refuses bad input', async () => {
    const root = app();
    const sets = {
      tenant: [{ name: 'app', dir: join(root, 'db/tenant') }],
      public: [{ name: 'app', dir: join(root, 'db/public') }],
    };
    const file = await createMigrationFile('gift_cards', { sets });
    expect(file).toMatchObject({ set: 'app', kind: 'tenant', version: 3, filename: '003_gift_cards.sql' });
    expect(readFileSync(file.path, 'utf8')).toMatch(/^-- gift cards/);
    const pub = await createMigrationFile('audit_log', { sets, kind: 'public' });
    expect(pub.path).toBe(join(root, 'db/public/001_audit_log.sql'));
    await expect(createMigrationFile('Gift-Cards', { sets })).rejects.toThrow(MigrationFilesError);
    await expect(createMigrationFile('x', { sets: { tenant: [] } })).rejects.toThrow(ConfigError);
  });
});
