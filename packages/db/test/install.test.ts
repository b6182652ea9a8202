/**
 * What an installed package relies on, checked in the repository (the packed tarballs themselves are
 * tested by `npm run test:packaging`): SSL parameters without node-postgres' warning, a typed error for a
 * server without TLS, optional packages reported by name, a process that exits after its last query.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ConnectionError, Database } from '../src/index.js';
import { pgSslSettings } from '../src/drivers/ssl.js';
import { embeddedFiles, DEFAULT_TENANT_DIR } from '../src/migrations/builtin.js';
import { loadOptional } from '../src/optional.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

describe('pgSslSettings', () => {
  it('spells sslmode=require, prefer and verify-ca as verify-full, which is what node-postgres 8 does with them', () => {
    for (const mode of ['require', 'prefer', 'verify-ca']) {
      const { connectionString } = pgSslSettings(`postgres://u:p@db.example:5432/app?sslmode=${mode}&application_name=x`);
      const url = new URL(connectionString);
      expect(url.searchParams.get('sslmode')).toBe('verify-full');
      expect(url.searchParams.get('application_name')).toBe('x');
      expect(url.password).toBe('p');
    }
  });

  it('leaves disable, verify-full, no-verify and an explicit uselibpqcompat=true alone', () => {
    for (const query of ['sslmode=disable', 'sslmode=verify-full', 'sslmode=no-verify', 'uselibpqcompat=true&sslmode=require']) {
      const given = `postgres://u@h/db?${query}`;
      expect(new URL(pgSslSettings(given).connectionString).search).toBe(new URL(given).search);
    }
  });

  it('turns channel_binding into enableChannelBinding and takes it out of the URL', () => {
    const neon = pgSslSettings('postgresql://u:p@ep-x-pooler.neon.tech/neondb?sslmode=require&channel_binding=require');
    expect(neon.enableChannelBinding).toBe(true);
    expect(neon.connectionString).not.toContain('channel_binding');
    expect(pgSslSettings('postgres://u@h/db?channel_binding=disable').enableChannelBinding).toBe(false);
    expect(pgSslSettings('postgres://u@h/db').enableChannelBinding).toBeUndefined();
  });
});

describe('loadOptional', () => {
  it('passes through a module-not-found error about another package (a broken install is not "not installed")', async () => {
    const error = await loadOptional('ioredis', () => import(/* @vite-ignore */ ['ioredis', 'cgk', 'missing'].join('-'))).catch(
      (e: unknown) => e,
    );
    expect(error).not.toBeInstanceOf(ConfigError);
    expect((error as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('returns the module when the package is installed', async () => {
    const { Redis } = await loadOptional('ioredis', () => import('ioredis'));
    expect(typeof Redis).toBe('function');
  });
});

describe('built-in migrations from the sources', () => {
  it('are read from disk (nothing embedded until the package build)', () => {
    expect(embeddedFiles(DEFAULT_TENANT_DIR)).toBeUndefined();
  });
});

describe('against the test server', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('cgk_install');
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('a URL asking for TLS from a server without it is CGK_CONNECTION, with a hint about sslmode', async () => {
    const db = new Database({ url: `${database.url}?sslmode=require` });
    try {
      const error = await db.sql`select 1`.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).message).toContain('does not support SSL');
      expect((error as ConnectionError).hint).toMatch(/sslmode/);
    } finally {
      await db.end();
    }
  });

  it('a script exits by itself after its last query, without closeDatabase() and without a warning', async () => {
    const script = `
      const { Database } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
      const db = new Database({ url: process.env.TEST_URL + '?sslmode=disable' });
      const { rows } = await db.sql\`select 41 + 1 as answer\`;
      console.log('answer', rows[0].answer);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, TEST_URL: database.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 25_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(stdout.trim()).toBe('answer 42');
    expect(code, stderr).toBe(0);
    expect(stderr).toBe('');
    // The pool's idle timeout is 30 s: a process held by its idle connection would be killed at 25 s.
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
