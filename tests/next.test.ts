/**
 * examples/next, as a user would run it: the packed @cgk/db installed into a copy outside the repository,
 * `next build` (the default bundler) and `next start`, then HTTP requests for two tenants: route handlers, a
 * server component and its server action (bundled in separate chunks, each with a copy of @cgk/db, sharing one
 * Database), on PostgreSQL and on the embedded database.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database, createTenant, setupDatabase } from '../packages/db/src/index.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../packages/db/test/helpers/database.js';
import { npmInstall, packWorkspaces, REPO_ROOT, scratchApp, type Packed } from './helpers/pack.js';
import { runOk } from './helpers/run.js';

const REDIS_URL = process.env.CGK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
// Slugs of this run only: the cache keys (cgk:{slug}:...) live in the shared Redis.
const suffix = Math.random().toString(36).slice(2, 8);
const ACME = `acme_${suffix}`;
const BETA = `beta_${suffix}`;

let packed: Packed;
let app: ReturnType<typeof scratchApp>;
let database: TestDatabase;
let server: ChildProcess | undefined;
let serverLog = '';
let base = '';
/** Connections of the PostgreSQL run carry this name: counted to show one pool per process. */
const APPLICATION = `cgk_next_${suffix}`;
let embeddedDir = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitForServer(url: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (server?.exitCode !== null && server?.exitCode !== undefined) throw new Error(`next start exited:\n${serverLog}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`next start did not answer in time:\n${serverLog}`);
}

beforeAll(async () => {
  packed = await packWorkspaces();
  app = scratchApp('next-example');
  cpSync(join(REPO_ROOT, 'examples/next'), app.dir, {
    recursive: true,
    filter: (source) => !/[/\\](node_modules|\.next)([/\\]|$)/.test(source),
  });
  await npmInstall(app.dir, [packed.db]);
  database = await createTestDatabase('cgk_next');
  const db = new Database({ url: database.url });
  try {
    await setupDatabase({ db });
  } finally {
    await db.end();
  }
  const build = await runOk('npx', ['--offline', 'next', 'build'], { cwd: app.dir, timeoutMs: 600_000 });
  expect(build.stdout).toContain('/api/orders');
  expect(build.stdout).toContain('/orders');
  // pool_max=1: one pool holds at most one connection, so two pools would show as two.
  await startServer({ DATABASE_URL: `${database.url}?application_name=${APPLICATION}&pool_max=1` });
});

/** `next start` with `env` on top of this process's (minus its database settings); waits until it answers. */
async function startServer(env: Record<string, string>): Promise<void> {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  serverLog = '';
  const { DATABASE_URL: _url, CGK_DB_DRIVER: _driver, CGK_PGLITE_DIR: _dir, ...inherited } = process.env;
  server = spawn('npx', ['--offline', 'next', 'start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: app.dir,
    env: { ...inherited, REDIS_URL, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  server.stdout!.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  server.stderr!.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  await waitForServer(`${base}/api/tenants`, Date.now() + 60_000);
}

/** Ends the server's whole process group (npx starts next as a child) and waits for it to be gone. */
async function stopServer(): Promise<void> {
  const running = server;
  server = undefined;
  if (!running?.pid || running.exitCode !== null) return;
  const exited = new Promise((resolve) => running.once('exit', resolve));
  try {
    process.kill(-running.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  await exited;
}

afterAll(async () => {
  await stopServer();
  await database?.drop();
  packed?.remove();
  if (app) rmSync(app.dir, { recursive: true, force: true });
  if (embeddedDir) rmSync(embeddedDir, { recursive: true, force: true });
});

/** The JSON answers are read field by field in the tests. */
// biome-ignore lint/suspicious/noExplicitAny: a route's JSON, whose shape each test checks
type Json = any;

async function call(method: string, path: string, slug?: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (slug !== undefined) headers['x-tenant-slug'] = slug;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

describe('examples/next built with next build and served by next start', () => {
  it('creates tenants from a route handler: the tenant migrations are found inside the server bundle', async () => {
    for (const slug of [ACME, BETA]) {
      const created = await call('POST', '/api/tenants', undefined, { slug, name: slug });
      expect(created.status, JSON.stringify(created.json) + serverLog).toBe(201);
      expect(created.json.migrationsApplied).toBeGreaterThan(0);
    }
    const status = await call('GET', '/api/tenants');
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ publicUpToDate: true, publicPending: 0, tenants: 2, tenantsPending: 0 });
    expect(status.json.latestTenantMigration).toBeGreaterThan(0);
  });

  it('gives each tenant its own rows, and counts reads in the tenant cache (Redis)', async () => {
    expect((await call('POST', '/api/orders', ACME, { orderNumber: 'A-1', totalCents: 100 })).status).toBe(201);
    expect((await call('POST', '/api/orders', ACME, { orderNumber: 'A-2', totalCents: 200 })).status).toBe(201);
    expect((await call('POST', '/api/orders', BETA, { orderNumber: 'B-1', totalCents: 300 })).status).toBe(201);
    const acme = await call('GET', '/api/orders', ACME);
    expect(acme.status).toBe(200);
    expect(acme.json.schema).toBe(`tenant_${ACME}`);
    expect(acme.json.orders.map((o: { order_number: string }) => o.order_number)).toEqual(['A-1', 'A-2']);
    const beta = await call('GET', '/api/orders', BETA);
    expect(beta.json.orders.map((o: { order_number: string }) => o.order_number)).toEqual(['B-1']);
    const again = await call('GET', '/api/orders', ACME);
    expect(again.json.reads).toBe(acme.json.reads + 1);
  });

  it('answers 400 for a bad or missing slug and 404 for an unknown tenant', async () => {
    const bad = await call('GET', '/api/orders', 'Robert;drop');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('CGK_INVALID_SLUG');
    expect((await call('GET', '/api/orders')).status).toBe(400);
    const unknown = await call('GET', '/api/orders', `nobody_${suffix}`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe('CGK_TENANT_NOT_FOUND');
  });

  it('never crosses tenants under concurrent alternating requests', async () => {
    const slugs = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? ACME : BETA));
    const answers = await Promise.all(slugs.map((slug) => call('GET', '/api/orders', slug)));
    answers.forEach((answer, i) => {
      const slug = slugs[i]!;
      expect(answer.status).toBe(200);
      expect(answer.json.tenant).toBe(slug);
      expect(answer.json.schema).toBe(`tenant_${slug}`);
      const prefix = slug === ACME ? 'A-' : 'B-';
      expect(answer.json.orders.length).toBe(slug === ACME ? 2 : 1);
      for (const order of answer.json.orders) expect(order.order_number.startsWith(prefix)).toBe(true);
    });
  });
});

/** The orders page of `slug` (a server component), with what it shows. */
async function ordersPage(slug: string): Promise<{ html: string; orders: string[]; pageDb: string; actionDb: string }> {
  const response = await fetch(`${base}/orders`, { headers: { 'x-tenant-slug': slug } });
  const html = await response.text();
  expect(response.status, html.slice(0, 500) + serverLog).toBe(200);
  return {
    html,
    orders: [...html.matchAll(/data-order="([^"]+)"/g)].map((m) => m[1]!),
    pageDb: /data-page-database="([^"]*)"/.exec(html)?.[1] ?? '',
    actionDb: /data-action-database="([^"]*)"/.exec(html)?.[1] ?? '',
  };
}

/** Submits the page's form as a browser without JavaScript does: a multipart POST naming the server action. */
async function submitOrder(slug: string, orderNumber: string): Promise<void> {
  const { html } = await ordersPage(slug);
  const action = /name="(\$ACTION_ID_[^"]+)"/.exec(html)?.[1];
  expect(action, html.slice(0, 2000)).toBeDefined();
  const form = new FormData();
  form.append(action!, '');
  form.append('orderNumber', orderNumber);
  form.append('totalCents', '500');
  const response = await fetch(`${base}/orders`, { method: 'POST', headers: { 'x-tenant-slug': slug }, body: form });
  expect(response.status, (await response.text()).slice(0, 500) + serverLog).toBeLessThan(400);
}

/** The server component and its server action, each in its own chunk, on one Database of the server process. */
function pageAndAction(first: () => string, second: () => string): void {
  it('renders a server component and runs its server action: one Database for both chunks', async () => {
    await submitOrder(first(), 'S-1');
    const page = await ordersPage(first());
    expect(page.orders).toContain('S-1');
    expect(page.pageDb).not.toBe('');
    expect(page.actionDb).toBe(page.pageDb);
    expect(serverLog).not.toMatch(/another process|already open/);
    // The other tenant sees none of it.
    expect((await ordersPage(second())).orders).not.toContain('S-1');
  });
}

describe('examples/next on PostgreSQL: the server component and its action', () => {
  pageAndAction(
    () => ACME,
    () => BETA,
  );

  it('holds one pool in the server process: every request so far went through one connection (pool_max=1)', async () => {
    const { rows } = await adminQuery<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where application_name = $1',
      [APPLICATION],
    );
    expect(rows[0]!.n).toBe(1);
  });
});

describe('examples/next on the embedded database (no DATABASE_URL)', () => {
  beforeAll(async () => {
    await stopServer();
    embeddedDir = mkdtempSync(join(tmpdir(), 'cgk-next-embedded-'));
    const dataDir = join(embeddedDir, 'pglite');
    const db = new Database({ dataDir });
    try {
      await setupDatabase({ db });
      for (const slug of [ACME, BETA]) await createTenant({ slug, name: slug }, { db });
    } finally {
      await db.end();
    }
    await startServer({ CGK_PGLITE_DIR: dataDir });
  });

  it('serves the route handlers', async () => {
    expect((await call('POST', '/api/orders', ACME, { orderNumber: 'E-1', totalCents: 100 })).status).toBe(201);
    const acme = await call('GET', '/api/orders', ACME);
    expect(acme.json.orders.map((o: { order_number: string }) => o.order_number)).toEqual(['E-1']);
  });

  pageAndAction(
    () => ACME,
    () => BETA,
  );
});
