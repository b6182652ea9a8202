import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createPendingTenants, diagnose, type DoctorReport } from '../src/index.js';
import { migratePublic } from '../src/migrations/index.js';
import { DROP_TIMEOUT_MS, adminQuery, createAppDatabase, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { closedPort } from './helpers/net.js';

const check = (report: DoctorReport, name: string) => {
  const found = report.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no check named ${name}: ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
};

describe('diagnose()', () => {
  let scratch: TestDatabase;
  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_doctor');
  });
  // DROP DATABASE waits for a checkpoint, which takes long on a busy server.
  afterAll(async () => {
    await scratch?.drop();
  }, DROP_TIMEOUT_MS);

  it('reports a reachable server, its version, the pooling mode and the migration state', async () => {
    const env = { DATABASE_URL: scratch.url, CGK_TENANT_ROLES: 'off' };
    const before = await diagnose({ env });
    expect(before.ok).toBe(true);
    expect(before.checks.map((c) => c.name)).toEqual([
      'database url',
      'driver',
      'connection',
      'server',
      'pooling',
      'tenant roles',
      'app role',
      'migrations',
      'pending pool',
      'leftovers',
      'tenant stats',
      'redis',
      'encryption key',
    ]);
    expect(check(before, 'database url')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('connect_timeout 10 s'),
    });
    expect(check(before, 'driver')).toMatchObject({ status: 'ok', detail: 'pg (DATABASE_URL is set)' });
    expect(check(before, 'connection')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/first query [\d.]+ ms .* round trip [\d.]+ ms/),
    });
    expect(check(before, 'server')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^PostgreSQL \d+/) });
    expect(check(before, 'pooling')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^direct/) });
    expect(check(before, 'tenant roles').detail).toMatch(/^off/);
    expect(check(before, 'migrations')).toMatchObject({ status: 'warn', hint: expect.stringContaining('setup:database') });
    expect(check(before, 'redis')).toMatchObject({ status: 'ok', detail: expect.stringContaining('in-process fallback') });
    expect(check(before, 'encryption key')).toMatchObject({ status: 'warn', detail: expect.stringContaining('not set') });

    const db = new Database({ url: scratch.url });
    try {
      expect((await migratePublic(db)).failed).toBe(false);
      const after = await diagnose({ db, env: { ...env, CGK_ENCRYPTION_KEY: randomBytes(32).toString('base64') } });
      expect(check(after, 'migrations')).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(/^public: \d+ applied, 0 pending; tenants: 0 total/),
      });
      expect(check(after, 'pending pool')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^none/) });
      await createPendingTenants(2, { db });
      const pool = await diagnose({ db, env });
      expect(check(pool, 'pending pool')).toMatchObject({ status: 'ok', detail: '2 waiting to be claimed by tenant:create' });
      expect(check(pool, 'migrations').detail).toMatch(/tenants: 2 total, 2 up to date/);
      expect(check(after, 'encryption key')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/key [0-9a-f]{8}/) });
      // The caller's database stays open.
      await expect(db.sql`select 1`).resolves.toBeTruthy();
    } finally {
      await db.end();
    }
  });

  it('fails the connection check in bounded time, without the password, and skips what needs the database', async () => {
    const port = await closedPort();
    const started = Date.now();
    // Refused connections are final: the report comes long before the 60 s connect_timeout and the 30 s Redis
    // bound would end a wait (generous, far below them).
    const report = await diagnose({
      env: {
        DATABASE_URL: `postgres://app:n0t-this-pw@127.0.0.1:${port}/shop?connect_timeout=60`,
        REDIS_URL: `redis://:redis-s3cret@127.0.0.1:${port}/0`,
      },
      redisTimeoutMs: 30_000,
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(report.ok).toBe(false);
    expect(check(report, 'connection')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('CGK_CONNECTION'),
      hint: expect.any(String),
    });
    expect(check(report, 'migrations')).toMatchObject({ status: 'warn', detail: expect.stringContaining('skipped') });
    // The reason and the address, not ioredis' bare "Connection is closed.".
    expect(check(report, 'redis')).toMatchObject({
      status: 'fail',
      detail: `CGK_CACHE: Cannot reach Redis at redis://:***@127.0.0.1:${port}/0: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    const text = JSON.stringify(report);
    expect(text).not.toContain('n0t-this-pw');
    expect(text).not.toContain('redis-s3cret');
  });

  it('recognises a PgBouncer port and a Neon pooler host as pooled, and says why that is safe', async () => {
    const report = await diagnose({
      env: { DATABASE_URL: `postgres://app:pw@127.0.0.1:6432/shop?connect_timeout=1`, CGK_TENANT_ROLES: 'off' },
    });
    expect(check(report, 'pooling').detail).toMatch(/^pooled \(port 6432: PgBouncer.*set_config\(\.\.\., true\).*advisory locks/);

    // A Neon pooler host is recognised by its name, whatever the port (Neon's pooler listens on 5432).
    const neon = await diagnose({
      env: {
        DATABASE_URL: 'postgres://app:pw@ep-cool-1-pooler.invalid:5432/shop?sslmode=require&connect_timeout=1',
        CGK_TENANT_ROLES: 'off',
      },
    });
    expect(check(neon, 'pooling')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(
        /^pooled \(Neon's PgBouncer in transaction mode, host ep-cool-1-pooler\.invalid\).*set_config\(\.\.\., true\)/,
      ),
    });
    expect(JSON.stringify(neon)).not.toContain(':pw@');
  });

  it('warns about a remote host without sslmode, and fails a malformed URL or driver name', async () => {
    const remote = await diagnose({
      env: { DATABASE_URL: 'postgres://u:pw@db.invalid:5432/x?connect_timeout=1', CGK_DB_DRIVER: 'oracle' },
    });
    expect(check(remote, 'database url')).toMatchObject({ status: 'warn', hint: expect.stringContaining('sslmode=require') });
    expect(check(remote, 'driver')).toMatchObject({ status: 'fail', detail: expect.stringContaining('CGK_CONFIG') });
    const malformed = await diagnose({ env: { DATABASE_URL: 'mysql://root:topsecret@h/db' } });
    expect(check(malformed, 'database url')).toMatchObject({ status: 'fail' });
    expect(JSON.stringify(malformed)).not.toContain('topsecret');
  });

  it(
    "warns, with roles on, when the connection's role may not create roles; is content when it may",
    async () => {
      const app = await createAppDatabase('cgk_doctor_roles');
      const plainRole = `plain_${app.name}`;
      await adminQuery(`create role "${plainRole}" login`);
      const plainUrl = new URL(app.url);
      plainUrl.username = plainRole;
      try {
        const plain = await diagnose({ env: { DATABASE_URL: plainUrl.toString(), CGK_TENANT_ROLES: 'on' } });
        expect(check(plain, 'connection').status).toBe('ok');
        expect(check(plain, 'tenant roles')).toMatchObject({
          status: 'warn',
          detail: expect.stringContaining(`but ${plainRole} may not create roles, so tenant:create will fail`),
          hint: expect.stringContaining(`ALTER ROLE ${plainRole} CREATEROLE`),
        });
        // A warning, not a failure: the report as a whole still passes.
        expect(plain.ok).toBe(true);
        const owner = await diagnose({ env: { DATABASE_URL: app.url, CGK_TENANT_ROLES: 'on' } });
        expect(check(owner, 'tenant roles')).toMatchObject({
          status: 'ok',
          detail: expect.stringContaining(`${app.role} may create roles`),
        });
        const off = await diagnose({ env: { DATABASE_URL: plainUrl.toString(), CGK_TENANT_ROLES: 'off' } });
        expect(check(off, 'tenant roles')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^off/) });
      } finally {
        await app.drop();
        await adminQuery(`drop role if exists "${plainRole}"`);
      }
    },
    DROP_TIMEOUT_MS,
  );

  it('pings Redis when REDIS_URL is set', async () => {
    const report = await diagnose({
      env: { DATABASE_URL: scratch.url, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    });
    expect(check(report, 'redis')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/PONG in [\d.]+ ms/) });
  });

  it('fails a malformed encryption key without echoing it', async () => {
    const report = await diagnose({ env: { DATABASE_URL: scratch.url, CGK_ENCRYPTION_KEY: 'too-short-key' } });
    expect(check(report, 'encryption key')).toMatchObject({ status: 'fail', hint: expect.stringContaining('openssl rand') });
    expect(JSON.stringify(report)).not.toContain('too-short-key');
  });

  it('does not create the embedded database, it says it is not there yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgk-doctor-'));
    try {
      const dataDir = join(dir, 'pglite');
      const report = await diagnose({ env: { CGK_PGLITE_DIR: dataDir } });
      expect(check(report, 'database url')).toMatchObject({ status: 'warn' });
      expect(check(report, 'driver').detail).toMatch(/^pglite/);
      expect(check(report, 'connection')).toMatchObject({ status: 'warn', hint: expect.stringContaining('setup:database') });
      expect(check(report, 'pooling').detail).toMatch(/^embedded/);
      expect(report.ok).toBe(true);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
