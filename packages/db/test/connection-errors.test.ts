import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, ConnectionError, Database, redactSecrets, resolveDriverConfig } from '../src/index.js';
import { closedPort } from './helpers/net.js';

describe('unreachable or misconfigured servers', () => {
  let db: Database | undefined;
  afterEach(async () => {
    await db?.end();
    db = undefined;
  });

  it('gives a ConnectionError without the password for a closed port, at once rather than at connect_timeout', async () => {
    const port = await closedPort();
    // A refused connection is final: it must not wait out the URL's 60 s connect_timeout (nor retry until then).
    db = new Database({ url: `postgres://app:s3cret-pw@127.0.0.1:${port}/shop?connect_timeout=60` });
    const started = Date.now();
    const error = await db.sql`select 1`.catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'CGK_CONNECTION' });
    expect(String((error as Error).message)).not.toContain('s3cret-pw');
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect((error as ConnectionError).hint).toMatch(/doctor/);
  });

  it('gives a ConnectionError for a server that does not answer within connect_timeout, and hangs up', async () => {
    // A listening socket that never speaks: the connection opens but the startup never completes. The server
    // side times how long the client held on: that is the timeout in force, whatever the load on this process.
    const held: number[] = [];
    const silent = createServer((socket) => {
      const opened = performance.now();
      socket.resume(); // read (and drop) what the client sends, so its hang-up is seen
      socket.on('error', () => {});
      socket.on('close', () => held.push(performance.now() - opened));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      db = new Database({ url: `postgres://app:hunter2@127.0.0.1:${port}/shop?connect_timeout=1` });
      const error = await db.withTenant('acme', (sql) => sql`select 1`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).not.toContain('hunter2');
      await vi.waitFor(() => expect(held).toHaveLength(1), { timeout: 5000 });
      // 1 s, not the 10 s default: generous above, since a loaded machine only makes it later.
      expect(held[0]).toBeGreaterThanOrEqual(900);
      expect(held[0]).toBeLessThan(8000);
    } finally {
      silent.close();
    }
  });

  it('gives a ConnectionError for a database that does not exist', async () => {
    db = new Database({ url: 'postgres://postgres@127.0.0.1:5432/cgk_no_such_database_here' });
    await expect(db.sql`select 1`).rejects.toBeInstanceOf(ConnectionError);
  });

  it('refuses a malformed DATABASE_URL or driver name with a ConfigError that hides the password', () => {
    expect(() => new Database({ url: 'mysql://u:topsecret@h/db' })).toThrow(ConfigError);
    expect(() => resolveDriverConfig({ CGK_DB_DRIVER: 'oracle' })).toThrow(ConfigError);
    expect(() => resolveDriverConfig({ CGK_DB_DRIVER: 'pg' })).toThrow(/DATABASE_URL is not set/);
    expect(() => new Database({ url: 'postgres://u:pw@h/db?pool_max=lots' })).toThrow(/pool_max=lots/);
    const thrown = (make: () => unknown): Error => {
      try {
        make();
      } catch (error) {
        return error as Error;
      }
      throw new Error('accepted');
    };
    for (const url of [
      'mysql://u:topsecret@h/db',
      'postgres://u:topsecret@h/db?pool_max=lots',
      'postgres://u:topsecret@h:port/db',
    ]) {
      const error = thrown(() => new Database({ url }));
      expect(error).toBeInstanceOf(ConfigError);
      expect(`${error.message} ${(error as ConfigError).hint ?? ''}`).not.toContain('topsecret');
    }
  });

  it('chooses the driver by the documented rule', () => {
    expect(resolveDriverConfig({}, '/srv/app')).toMatchObject({ driver: 'pglite', dataDir: '/srv/app/.cgk/pglite' });
    expect(resolveDriverConfig({ DATABASE_URL: 'postgres://h/db' })).toMatchObject({ driver: 'pg', url: 'postgres://h/db' });
    expect(resolveDriverConfig({ POSTGRES_URL: 'postgres://h/v' })).toMatchObject({ driver: 'pg', url: 'postgres://h/v' });
    expect(resolveDriverConfig({ POSTGRES_URL: 'postgres://h/v', VERCEL: '1' })).toMatchObject({ driver: 'vercel' });
    expect(resolveDriverConfig({ DATABASE_URL: 'postgres://h/db', CGK_DB_DRIVER: 'neon' })).toMatchObject({ driver: 'neon' });
  });

  it('redacts passwords in URLs and key=value strings', () => {
    expect(redactSecrets('postgres://u:p@ss@h/db')).toBe('postgres://u:***@h/db');
    expect(redactSecrets('host=h password=abc user=u')).toBe('host=h password=*** user=u');
    expect(redactSecrets('rediss://:tok@r:6380')).toBe('rediss://:***@r:6380');
  });
});
