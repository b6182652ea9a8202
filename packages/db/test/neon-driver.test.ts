import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNeonDriver } from '../src/drivers/neon.js';
import type { Driver } from '../src/drivers/types.js';
import { ConfigError, ConnectionError, Database, QueryError, TenantNotFoundError } from '../src/index.js';
import { grantTenantRoleSql } from '../src/roles/tenant-role.js';
import { createTestDatabase, type TestDatabase, DROP_TIMEOUT_MS } from './helpers/database.js';
import { onLocalhost, openThroughRelay, startWsRelay, type WsRelay } from './helpers/ws-relay.js';

// The @vercel/postgres driver and the @neondatabase/serverless one under it, for real: WebSocket connections
// through a local WebSocket→TCP relay to the local PostgreSQL, as they reach Neon's proxy in production.

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const caught = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe('the relay used by these tests', () => {
  it('relays only to loopback addresses, and only at /v2', async () => {
    const relay = await startWsRelay();
    try {
      const status = async (path: string) => {
        const socket = net.connect({ host: '127.0.0.1', port: relay.port });
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
        const answer = await new Promise<string>((resolve) => socket.once('data', (chunk) => resolve(chunk.toString())));
        socket.destroy();
        return answer.split(' ')[1];
      };
      expect(await status('/v2?address=example.com:5432')).toBe('403');
      expect(await status('/v2?address=10.0.0.1:5432')).toBe('403');
      expect(await status('/v2?address=localhost')).toBe('403');
      expect(await status('/other?address=127.0.0.1:5432')).toBe('404');
      expect(await status('/v2?address=localhost:5432')).toBe('101');
    } finally {
      await relay.stop();
    }
  });
});

describe.each(['vercel', 'neon'] as const)('the %s driver through a local WebSocket relay', (flavour) => {
  let scratch: TestDatabase;
  let relay: WsRelay;
  let url: string;
  let db: Database;
  let driver: Driver;

  beforeAll(async () => {
    scratch = await createTestDatabase('cgk_test_neon');
    relay = await startWsRelay();
    url = onLocalhost(scratch.url);
    db = new Database({ url, driver: flavour });
    driver = await openThroughRelay(db, relay);
    await driver.exec(`create schema tenant_acme;
      create table tenant_acme.orders (id int primary key, status text not null);
      create schema tenant_globex;
      create table tenant_globex.orders (id int primary key, status text not null);`);
    await driver.exec(grantTenantRoleSql('acme', { existingTables: true }));
    await driver.exec(grantTenantRoleSql('globex', { existingTables: true }));
  });
  afterAll(async () => {
    await db?.end();
    await relay?.stop();
    await scratch?.drop();
  }, DROP_TIMEOUT_MS);

  it('is the driver asked for, and reaches PostgreSQL only through the relay', async () => {
    expect(driver.name).toBe(flavour);
    const before = relay.roundTrips;
    const { rows } = await db.sql<{ port: number }>`select inet_server_port() as port`;
    expect(rows).toEqual([{ port: 5432 }]);
    expect(relay.accepted).toBeGreaterThan(0);
    expect(relay.roundTrips).toBeGreaterThan(before);
  });

  it('sends values as parameters and resolves to { rows, rowCount, fields, command }', async () => {
    const hostile = "x'); drop schema tenant_acme cascade; --";
    const echoed = await db.sql<{ v: string; n: number }>`select ${hostile}::text as v, ${41}::int + 1 as n`;
    expect(echoed).toEqual({
      rows: [{ v: hostile, n: 42 }],
      rowCount: 1,
      // node-postgres's seven properties: computed columns come from no table.
      fields: [
        { name: 'v', tableID: 0, columnID: 0, dataTypeID: 25, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' },
        { name: 'n', tableID: 0, columnID: 0, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' },
      ],
      command: 'SELECT',
    });
    await db.sql`create table shape (id int primary key, label text)`;
    expect(await db.sql`insert into shape values (${1}, ${'a'}), (${2}, ${'b'})`).toMatchObject({
      command: 'INSERT',
      rowCount: 2,
      rows: [],
    });
    expect(await db.sql`update shape set label = ${'c'} where id > ${0}`).toMatchObject({ command: 'UPDATE', rowCount: 2 });
    expect(await db.sql`delete from shape where id = ${1}`).toMatchObject({ command: 'DELETE', rowCount: 1 });
    expect(await db.sql.query('select label from shape where id = $1', [2])).toMatchObject({
      rows: [{ label: 'c' }],
      rowCount: 1,
    });
    expect(await db.sql`drop table shape`).toMatchObject({ command: 'DROP' });
    expect((await db.sql`select 1 from pg_namespace where nspname = 'tenant_acme'`).rowCount).toBe(1);
  });

  it('parses and serialises values as node-postgres does', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const { rows } = await db.sql`select 9007199254740993::int8 as big, 1.50::numeric as num, ${at}::timestamptz as at,
      ${{ a: [1] }}::jsonb as doc, ${[1, 2]}::int[] as arr, ${null}::text as nothing, true as yes, 1.5::float8 as f`;
    expect(rows).toEqual([
      { big: '9007199254740993', num: '1.50', at, doc: { a: [1] }, arr: [1, 2], nothing: null, yes: true, f: 1.5 },
    ]);
  });

  it('reports failed statements as QueryError with the SQLSTATE, in and out of scopes', async () => {
    const missing = await caught(db.sql`select * from no_such_table`);
    expect(missing).toBeInstanceOf(QueryError);
    expect(missing).toMatchObject({ code: 'CGK_QUERY', sqlState: '42P01' });
    expect((missing as Error).message).toContain('no_such_table');
    await db.sql`create table uniq (id int constraint uniq_pk primary key)`;
    await db.sql`insert into uniq values (1)`;
    expect(await caught(db.sql`insert into uniq values (1)`)).toMatchObject({
      sqlState: '23505',
      constraint: 'uniq_pk',
      table: 'uniq',
    });
    expect(await caught(db.sql`selec 1`)).toMatchObject({ sqlState: '42601', position: 1 });
    expect(await caught(db.withTenant('acme', (sql) => sql`select * from no_such_table`))).toMatchObject({ sqlState: '42P01' });
    // The pool is still usable afterwards (no connection left inside an aborted transaction).
    expect((await db.sql`select count(*)::int as n from uniq`).rows).toEqual([{ n: 1 }]);
  });

  it('runs withTenant in one transaction with the tenant search_path and role, and commits', async () => {
    const result = await db.withTenant('acme', async (sql) => {
      await sql`insert into orders values (${1}, ${'pending'})`;
      // The module-level form (db.sql) runs in the same scope.
      const inside = await db.sql<{ path: string; n: number; xact: boolean }>`select current_setting('search_path') as path,
        (select count(*)::int from orders) as n, pg_current_xact_id_if_assigned() is not null as xact`;
      return { inside: inside.rows[0], role: (await sql<{ r: string }>`select current_user as r`).rows[0]?.r };
    });
    expect(result.inside).toEqual({ path: 'tenant_acme, extensions, public', n: 1, xact: true });
    expect(result.role).toMatch(/^ct_[0-9a-f]{8}_acme$/);
    expect((await db.sql`select * from tenant_acme.orders`).rows).toEqual([{ id: 1, status: 'pending' }]);
    // Outside the scope: no tenant in the path, and the other tenant never saw the row.
    expect((await db.sql<{ path: string }>`select current_setting('search_path') as path`).rows[0]?.path).not.toContain(
      'tenant_',
    );
    expect((await db.withTenant('globex', (sql) => sql`select count(*)::int as n from orders`)).rows).toEqual([{ n: 0 }]);
  });

  it('rolls back when fn throws, and rethrows the original error', async () => {
    class Planned extends Error {}
    const error = await caught(
      db.withTenant('acme', async (sql) => {
        await sql`insert into orders values (${2}, ${'doomed'})`;
        throw new Planned('stop');
      }),
    );
    expect(error).toBeInstanceOf(Planned);
    expect((await db.sql`select id from tenant_acme.orders where id = 2`).rowCount).toBe(0);
  });

  it('throws TenantNotFoundError for a tenant without a schema', async () => {
    await expect(db.withTenant('nobody_here', (sql) => sql`select 1`)).rejects.toBeInstanceOf(TenantNotFoundError);
    await expect(
      db.withTenant('nobody_here', async (sql) => {
        await sql`select 1`.catch(() => undefined);
        return 'swallowed';
      }),
    ).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  it('costs 3 round trips for a one-query scope on a warm connection (BEGIN and the prelude in one message)', async () => {
    await db.withTenant('acme', (sql) => sql`select 1`);
    let before = relay.roundTrips;
    await db.withTenant('acme', (sql) => sql`select id from orders where id = ${1}`);
    expect(relay.roundTrips - before).toBe(3);
    before = relay.roundTrips;
    await db.withTenant('acme', async (sql) => {
      await sql`select 1`;
      await sql`select 2`;
    });
    expect(relay.roundTrips - before).toBe(4);
    // A scope that runs no query costs none.
    before = relay.roundTrips;
    await db.withTenant('acme', () => 'nothing');
    expect(relay.roundTrips - before).toBe(0);
  });

  it('begin(): a failed prelude statement is reported, later ones are not run, and the transaction can only roll back', async () => {
    const before = relay.roundTrips;
    const { tx, results } = await driver.begin([{ text: 'select 1/0 as x' }, { text: 'select $1::int as y', values: [1] }]);
    expect(relay.roundTrips - before).toBe(1);
    expect(results[0]).toMatchObject({ ok: false, error: { sqlState: '22012' } });
    expect(results[1]).toMatchObject({ ok: false, error: { sqlState: '25P02' } });
    await expect(tx.query({ text: 'select 1' })).rejects.toMatchObject({ sqlState: '25P02' });
    expect(await tx.commit()).toBe('ROLLBACK');
    // A parameterised first statement cannot ride with BEGIN: it goes on its own, as a parameter.
    const second = await driver.begin([{ text: 'select $1::text as v', values: ["it's"] }]);
    expect(second.results[0]).toMatchObject({ ok: true, result: { rows: [{ v: "it's" }] } });
    expect(await second.tx.commit()).toBe('COMMIT');
    // A statement failing after the prelude aborts the transaction on the server, as on pg.
    const third = await driver.begin([]);
    await expect(third.tx.query({ text: 'select 1/0' })).rejects.toMatchObject({ sqlState: '22012' });
    expect(await third.tx.commit()).toBe('ROLLBACK');
    expect((await db.sql`select 1 as ok`).rows).toEqual([{ ok: 1 }]);
  });

  it('takes statement_timeout and pool settings from the URL', async () => {
    const limited = createNeonDriver({
      connectionString: `${url}?statement_timeout=50&pool_max=1`,
      flavour,
      wsProxy: relay.address,
    });
    try {
      await expect(limited.query({ text: 'select pg_sleep(1)' })).rejects.toMatchObject({ sqlState: '57014' });
      // One connection: a second statement waits for the open transaction to end.
      const { tx } = await limited.begin([]);
      let ran = false;
      const waiting = limited.query({ text: 'select 1' }).then(() => (ran = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(ran).toBe(false);
      await tx.commit();
      await waiting;
      expect(ran).toBe(true);
    } finally {
      await limited.end();
    }
  });

  it('gives a ConnectionError without the password when the relay port is closed, at once rather than at connect_timeout', async () => {
    const port = await closedPort();
    // Refused is final: it must not wait out the 60 s connect_timeout (generous bound, far below it).
    const offline = createNeonDriver({
      connectionString: 'postgres://app:s3cret-pw@localhost:5432/shop?connect_timeout=60',
      flavour,
      wsProxy: `127.0.0.1:${port}`,
    });
    try {
      const started = Date.now();
      const error = await caught(offline.query({ text: 'select 1' }));
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({ code: 'CGK_CONNECTION' });
      expect((error as Error).message).toContain('localhost:5432/shop');
      expect((error as Error).message).not.toContain('s3cret-pw');
      expect(await caught(offline.begin([]))).toBeInstanceOf(ConnectionError);
    } finally {
      await offline.end();
    }
  });

  it('gives a ConnectionError within connect_timeout when the relay never answers, and the process survives', async () => {
    const silent = net.createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const stuck = createNeonDriver({
      connectionString: 'postgres://app:hunter2@localhost:5432/shop?connect_timeout=1',
      flavour,
      wsProxy: `127.0.0.1:${port}`,
    });
    try {
      const started = Date.now();
      const error = await caught(stuck.begin([{ text: 'select 1' }]));
      // It waited for the 1 s timeout (a bound load cannot break) and not for the 10 s default (generous).
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(Date.now() - started).toBeLessThan(8000);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).not.toContain('hunter2');
    } finally {
      await stuck.end();
      silent.close();
    }
  });

  it('gives a ConnectionError when the relay refuses the target host', async () => {
    // A pooled-looking Neon URL (accepted by @vercel/postgres) whose host the relay will not reach.
    const remote = createNeonDriver({
      connectionString: 'postgres://app:pw-123@ep-cool-1-pooler.example.com/shop?connect_timeout=2',
      flavour,
      wsProxy: relay.address,
    });
    try {
      const error = await caught(remote.query({ text: 'select 1' }));
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as Error).message).toMatch(/403/);
      expect((error as Error).message).not.toContain('pw-123');
    } finally {
      await remote.end();
    }
  });

  it('end() closes every WebSocket, is safe twice, and later queries fail', async () => {
    const own = createNeonDriver({ connectionString: url, flavour, wsProxy: relay.address });
    const openBefore = relay.open;
    await Promise.all([own.query({ text: 'select 1' }), own.query({ text: 'select 2' }), own.query({ text: 'select 3' })]);
    expect(relay.open).toBeGreaterThan(openBefore);
    await own.end();
    await own.end();
    const deadline = Date.now() + 2000;
    while (relay.open > openBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(relay.open).toBe(openBefore);
    await expect(own.query({ text: 'select 1' })).rejects.toThrow();
  });

  it('lets a process that used it exit on its own after end()', async () => {
    const script = `
      const { Database } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
      const db = new Database({ url: process.env.TEST_URL, driver: process.env.TEST_FLAVOUR });
      await db.sql\`select 1\`;
      await db.withTenant('acme', (sql) => sql\`select count(*) from orders\`);
      await db.end();
      console.log('ended');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, TEST_URL: url, TEST_FLAVOUR: flavour, CGK_NEON_WS_PROXY: relay.address },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 40_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(output).toContain('ended');
    expect(code).toBe(0);
    // tsx start-up included (slow on a loaded machine); a lingering WebSocket would hold the process for ws's
    // 30 s close timeout.
    expect(Date.now() - started).toBeLessThan(25_000);
  }, 60_000);

  it('leaves the global neonConfig alone (relay settings are per connection)', () => {
    // Neon's default: its own proxy on the database host.
    const proxy = neonConfig.wsProxy;
    expect(typeof proxy === 'function' ? proxy('ep-x.example', 5432) : proxy).toBe('ep-x.example/v2');
    expect(neonConfig.useSecureWebSocket).toBe(true);
    expect(neonConfig.pipelineConnect).toBe('password');
  });
});

describe('configuration of the serverless drivers', () => {
  it('refuses, as a ConfigError with a hint, a direct URL that @vercel/postgres will not take', () => {
    let error: unknown;
    try {
      createNeonDriver({ connectionString: 'postgres://app:topsecret@127.0.0.1:5432/shop', flavour: 'vercel' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).not.toContain('topsecret');
    expect((error as ConfigError).hint).toMatch(/localhost|pooler/);
    // The Neon Pool takes any host.
    const neon = createNeonDriver({ connectionString: 'postgres://app:topsecret@127.0.0.1:5432/shop', flavour: 'neon' });
    return neon.end();
  });

  it('refuses a malformed relay address', () => {
    expect(() =>
      createNeonDriver({ connectionString: 'postgres://localhost/x', flavour: 'neon', wsProxy: 'http://relay/path?x' }),
    ).toThrow(ConfigError);
  });

  it('opens through Database({ url, driver })', async () => {
    const db = new Database({ url: 'postgres://localhost/x', driver: 'vercel' });
    expect((await db.driver()).name).toBe('vercel');
    await db.end();
  });
});
