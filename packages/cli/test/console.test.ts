import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, Database, setupDatabase } from '../../db/src/index.js';
import { type AppDatabase, createAppDatabase, DROP_TIMEOUT_MS } from '../../db/test/helpers/database.js';
import { cli, tempDir } from './helpers/cli.js';
import { type ConsoleProcess, launchChromium, screenshot, startConsoleProcess } from './helpers/console.js';

/**
 * `cgk console`: the real CLI as a subprocess, the real server over a scratch database (as a non-superuser
 * application role, tenant roles on) and over the embedded database, driven by Debian's Chromium headless.
 * Screenshots of every page go to test-artifacts/console/.
 */

const SECRET_SETTING = 'SEKRET-settings-7f3a91';
const STORED_CIPHERTEXT = 'v1:SEKRET-ciphertext-0b5e22';
const PAGES = ['/', '/tenants', '/tenants/acme', '/migrations', '/health', '/top'] as const;

let app: AppDatabase;
let db: Database;
let work: ReturnType<typeof tempDir>;
let browser: Browser;
let readOnly: ConsoleProcess | undefined;

beforeAll(async () => {
  app = await createAppDatabase('cgk_console');
  db = new Database({ url: app.url });
  work = tempDir();
  await setupDatabase({ db });
  await createTenant({ slug: 'acme', name: 'Acme Inc.', settings: { theme: 'dark', apiKey: SECRET_SETTING } }, { db });
  await createTenant({ slug: 'beta', name: 'Beta Shop' }, { db });
  await db.withTenant(
    'acme',
    (sql) => sql`insert into customers (email) select 'c' || i || '@acme.test' from generate_series(1, 500) i`,
  );
  await db.sql`update public.organizations set shopify_access_token = ${STORED_CIPHERTEXT} where slug = 'acme'`;
  // 2,000 registry rows for search and pagination (registry only: a page of them costs what a page of real ones does)
  await db.sql`insert into public.organizations (slug, name, status)
    select 'seed_' || lpad(i::text, 4, '0'), 'Seed store ' || i,
           (case when i % 10 = 0 then 'suspended' else 'active' end)::public.organization_status
    from generate_series(1, 2000) i`;
  await db.sql`analyze`;
  browser = await launchChromium();
  readOnly = await startConsoleProcess([], work.path, { DATABASE_URL: app.url, CGK_CONSOLE_SAMPLE_SECONDS: '0.5' });
}, 180_000);

afterAll(async () => {
  await readOnly?.stop();
  await browser?.close();
  await db?.end();
  work?.remove();
  await app?.drop();
}, DROP_TIMEOUT_MS);

const bearer = (c: ConsoleProcess) => ({ authorization: `Bearer ${c.token}` });

describe('cgk console on PostgreSQL', () => {
  it('refuses every request without the token (401) and every write without --allow-writes (403)', async () => {
    const c = readOnly!;
    for (const path of [...PAGES, '/api/tenants']) expect((await fetch(c.base + path)).status, path).toBe(401);
    expect((await fetch(`${c.base}/tenants`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const form = new URLSearchParams({ slug: 'beta', confirm: 'yes' });
    const post = await fetch(`${c.base}/actions/suspend`, { method: 'POST', headers: bearer(c), body: form });
    expect(post.status).toBe(403);
    const { rows } = await db.sql`select status::text from public.organizations where slug = 'beta'`;
    expect(rows[0]?.status).toBe('active');
  });

  it('renders every page in Chromium with the seeded data', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    try {
      await page.goto(readOnly!.url); // the token becomes a cookie; the address loses it
      expect(page.url()).not.toContain('token=');
      const expectations: Record<(typeof PAGES)[number], [string, string]> = {
        '/': ['Overview', 'Largest tenants'],
        '/tenants': ['Tenants', '2,002 tenants'],
        '/tenants/acme': ['Tenant acme', 'customers'],
        '/migrations': ['Migrations', 'Every tenant is up to date'],
        '/health': ['Health', 'connection'],
        '/top': ['Top tenants', 'Largest tenants'],
      };
      for (const path of PAGES) {
        const response = await page.goto(readOnly!.base + path);
        expect(response?.status(), path).toBe(200);
        const [title, text] = expectations[path];
        expect(await page.locator('h1').innerText()).toBe(title);
        expect(await page.locator('main').innerText(), path).toContain(text);
        await screenshot(page, `pg${path === '/' ? '-overview' : path.replaceAll('/', '-')}`);
      }
      await page.goto(`${readOnly!.base}/tenants/acme`);
      const tables = await page.locator('#tables tbody tr').count();
      expect(tables).toBeGreaterThanOrEqual(13);
      expect(await page.locator('#migrations tbody tr').count()).toBe(13);
    } finally {
      await page.close();
    }
  });

  it('charts the activity of the last hour from its samples', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    try {
      await page.goto(readOnly!.url);
      await db.withTenant('acme', (sql) => sql`select count(*) from customers`);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // three samples at 0.5 s
      await page.goto(`${readOnly!.base}/`);
      const line = page.locator('svg[aria-label=activity] polyline');
      expect(await line.count()).toBe(1);
      expect((await line.getAttribute('points'))?.split(' ').length).toBeGreaterThanOrEqual(2);
      await screenshot(page, 'pg-overview-activity');
    } finally {
      await page.close();
    }
  });

  it('searches and paginates 2,000 tenants', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    try {
      await page.goto(readOnly!.url);
      await page.goto(`${readOnly!.base}/tenants`);
      expect(await page.locator('#summary').innerText()).toContain('page 1 of 41');
      expect(await page.locator('#tenants tbody tr').count()).toBe(50);
      await page.fill('input[name=q]', 'seed_01');
      await page.click('button[type=submit]');
      expect(await page.locator('#summary').innerText()).toContain('100 tenants matching "seed_01" · page 1 of 2');
      expect(await page.locator('#tenants tbody tr').first().getAttribute('data-slug')).toBe('seed_0100');
      await page.click('a[rel=next]');
      expect(await page.locator('#summary').innerText()).toContain('page 2 of 2');
      const slugs = await page.locator('#tenants tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-slug')));
      expect(slugs).toHaveLength(50);
      expect(slugs[0]).toBe('seed_0150');
      expect(slugs.every((s) => s?.startsWith('seed_01'))).toBe(true);
      await page.selectOption('select[name=status]', 'suspended');
      await page.click('button[type=submit]');
      expect(await page.locator('#summary').innerText()).toContain('10 tenants matching "seed_01"');
      await page.goto(`${readOnly!.base}/tenants?sort=size&dir=desc`);
      expect(await page.locator('#tenants tbody tr').first().getAttribute('data-slug')).toMatch(/^(acme|beta)$/);
      await screenshot(page, 'pg-tenants-sorted-by-size');
    } finally {
      await page.close();
    }
  });

  it('never shows a secret stored in the registry, in any page or API response', async () => {
    const c = readOnly!;
    for (const path of [...PAGES, '/api/', '/api/tenants', '/api/tenants/acme', '/api/migrations', '/api/health', '/api/top']) {
      const response = await fetch(c.base + path, { headers: bearer(c) });
      expect(response.status, path).toBe(200);
      const body = await response.text();
      expect(body, path).not.toContain(SECRET_SETTING);
      expect(body, path).not.toContain(STORED_CIPHERTEXT);
      expect(body, path).not.toContain(c.token);
    }
    const detail = (await (await fetch(`${c.base}/api/tenants/acme`, { headers: bearer(c) })).json()) as {
      tenant: { settings: Record<string, unknown>; hasShopifyAccessToken: boolean };
    };
    expect(detail.tenant.settings).toEqual({ theme: 'dark', apiKey: '[redacted]' });
    expect(detail.tenant.hasShopifyAccessToken).toBe(true);
  });
});

describe('cgk console --allow-writes', () => {
  let writer: ConsoleProcess;
  beforeAll(async () => {
    writer = await startConsoleProcess(['--allow-writes'], work.path, { DATABASE_URL: app.url });
  }, 60_000);
  afterAll(async () => writer?.stop());

  it('suspends a tenant from its page once confirmed, and records it', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    try {
      await page.goto(writer.url);
      await page.goto(`${writer.base}/tenants/beta`);
      await page.check('form[action="/actions/suspend"] input[name=confirm]');
      await Promise.all([page.waitForNavigation(), page.click('form[action="/actions/suspend"] button')]);
      expect(page.url(), await page.locator('main').innerText()).toBe(`${writer.base}/tenants/beta`);
      expect(await page.locator('.card').first().innerText()).toContain('suspended');
      expect(await page.locator('#actions').innerText()).toContain('suspend');
      await screenshot(page, 'pg-tenant-after-suspend');
    } finally {
      await page.close();
    }
    const { rows } = await db.sql`select status::text, (select count(*)::int from public.operator_actions
      where tenant_slug = 'beta' and action = 'suspend' and outcome = 'ok') as recorded
      from public.organizations where slug = 'beta'`;
    expect(rows[0]).toEqual({ status: 'suspended', recorded: 1 });
  });

  it('refuses a write without the CSRF token or without the confirmation, and changes nothing', async () => {
    const noCsrf = await fetch(`${writer.base}/actions/activate`, {
      method: 'POST',
      headers: bearer(writer),
      body: new URLSearchParams({ slug: 'beta', confirm: 'yes' }),
    });
    expect(noCsrf.status).toBe(403);
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    try {
      await page.goto(writer.url);
      await page.goto(`${writer.base}/tenants/beta`);
      const csrf = await page.locator('form[action="/actions/activate"] input[name=csrf]').getAttribute('value');
      const unconfirmed = await fetch(`${writer.base}/actions/activate`, {
        method: 'POST',
        headers: bearer(writer),
        body: new URLSearchParams({ slug: 'beta', csrf: csrf ?? '' }),
      });
      expect(unconfirmed.status).toBe(400);
    } finally {
      await page.close();
    }
    const { rows } = await db.sql`select status::text from public.organizations where slug = 'beta'`;
    expect(rows[0]?.status).toBe('suspended');
  });
});

describe('cgk console on the embedded database', () => {
  it('renders every page over the embedded PostgreSQL, with the token required', async () => {
    const dir = tempDir('cgk-console-embedded-');
    let embedded: ConsoleProcess | undefined;
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    try {
      expect((await cli(['setup:database'], { cwd: dir.path, timeoutMs: 120_000 })).code).toBe(0);
      expect((await cli(['tenant:create', 'shop', '--name', 'Corner Shop'], { cwd: dir.path, timeoutMs: 120_000 })).code).toBe(0);
      embedded = await startConsoleProcess([], dir.path, {});
      expect((await fetch(`${embedded.base}/tenants`)).status).toBe(401);
      await page.goto(embedded.url);
      for (const path of ['/', '/tenants', '/tenants/shop', '/migrations', '/health', '/top']) {
        const response = await page.goto(embedded.base + path);
        expect(response?.status(), path).toBe(200);
        await screenshot(page, `embedded${path === '/' ? '-overview' : path.replaceAll('/', '-')}`);
      }
      await page.goto(`${embedded.base}/tenants`);
      expect(await page.locator('#tenants tbody tr').first().getAttribute('data-slug')).toBe('shop');
      await page.goto(`${embedded.base}/tenants/shop`);
      expect(await page.locator('#migrations tbody tr').count()).toBe(13);
    } finally {
      await page.close();
      await embedded?.stop();
      dir.remove();
    }
  }, 240_000);
});
