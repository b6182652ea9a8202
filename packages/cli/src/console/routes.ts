import type { Database, TenantSort, TenantStatus } from '@cgk/db';
import type { Lib } from '../lib.js';
import type { ActivitySampler } from './activity.js';
import { type Html, html } from './html.js';
import {
  healthPage,
  migrationsPage,
  overviewPage,
  type PageContext,
  type TenantQuery,
  tenantPage,
  tenantsPage,
  topPage,
} from './pages.js';

/** What a GET answers: a page (title and body) and the same data for its /api twin. */
export interface View {
  status: number;
  title: string;
  body: Html;
  data: unknown;
}

/** What the views read from. */
export interface ViewContext {
  db: Database;
  lib: Lib;
  sampler: ActivitySampler;
  page: PageContext;
}

const STATUSES = new Set(['active', 'suspended', 'onboarding']);
const SORTS = new Set(['slug', 'name', 'created', 'status', 'size', 'activity', 'version']);

/** The view of a GET path; unknown paths are 404, a library error becomes a page with its message. */
export async function routeGet(path: string, params: URLSearchParams, ctx: ViewContext): Promise<View> {
  try {
    if (path === '/') return await overview(ctx);
    if (path === '/tenants') return await tenants(params, ctx);
    const one = /^\/tenants\/([^/]+)$/.exec(path);
    if (one) return await tenant(decodeURIComponent(one[1]!), ctx);
    if (path === '/migrations') return await migrations(ctx);
    if (path === '/health') return await health(ctx);
    if (path === '/top') return await top(ctx);
    return failure(404, 'Not found', `There is no page ${path}.`);
  } catch (error) {
    const known = error instanceof ctx.lib.CgkError ? error : undefined;
    if (!known) return failure(500, 'Error', 'The console could not read this page (see the terminal running cgk console).');
    const status = known.code === 'CGK_TENANT_NOT_FOUND' ? 404 : known.code === 'CGK_INVALID_SLUG' ? 400 : 500;
    return failure(status, status === 404 ? 'Not found' : 'Error', known.toLine(), known.code);
  }
}

function failure(status: number, title: string, message: string, code?: string): View {
  return {
    status,
    title,
    body: html`<p>${message}</p><p><a href="/tenants">Tenants</a></p>`,
    data: { error: { code, message } },
  };
}

/** The `db` and the latest stats snapshot (when there is one) that every tenants page reads with. */
async function pageSource(ctx: ViewContext) {
  const stats = await ctx.sampler.latest();
  return { db: ctx.db, ...(stats ? { stats } : {}) };
}

async function overview(ctx: ViewContext): Promise<View> {
  const { db, lib } = ctx;
  const source = await pageSource(ctx);
  const [byStatus, status, largest] = await Promise.all([
    lib.countTenantsByStatus({ db }),
    lib.migrationStatus(db),
    lib.listTenantsPage({ ...source, sort: 'size', pageSize: 10 }),
  ]);
  const activity = ctx.sampler.perMinute();
  return {
    status: 200,
    title: 'Overview',
    body: overviewPage(byStatus, status, largest, activity),
    data: { byStatus, migrations: { ...status.tenants, tenants: undefined }, largest: largest.tenants, activity },
  };
}

/** The tenants page's query from the URL, with anything unknown dropped (not an error: links are hand-edited). */
export function tenantQuery(params: URLSearchParams): TenantQuery {
  const sort = params.get('sort') ?? '';
  const dir = params.get('dir');
  const status = params.get('status') ?? '';
  return {
    q: (params.get('q') ?? '').slice(0, 100),
    status: STATUSES.has(status) ? status : '',
    sort: SORTS.has(sort) ? sort : 'slug',
    dir: dir === 'asc' || dir === 'desc' ? dir : '',
    page: Math.max(1, Math.min(1_000_000, Number.parseInt(params.get('page') ?? '1', 10) || 1)),
  };
}

async function tenants(params: URLSearchParams, ctx: ViewContext): Promise<View> {
  const query = tenantQuery(params);
  const source = await pageSource(ctx);
  const result = await ctx.lib.listTenantsPage({
    ...source,
    search: query.q,
    sort: query.sort as TenantSort,
    page: query.page,
    ...(query.status ? { status: query.status as TenantStatus } : {}),
    ...(query.dir ? { descending: query.dir === 'desc' } : {}),
  });
  return { status: 200, title: 'Tenants', body: tenantsPage(result, query, ctx.page, source.stats?.at), data: result };
}

async function tenant(slug: string, ctx: ViewContext): Promise<View> {
  const { db, lib } = ctx;
  const [detail, actions, cacheKeys] = await Promise.all([
    lib.describeTenant(slug, { db }),
    lib.listOperatorActions({ db, tenant: slug, limit: 20 }),
    cacheKeyCount(slug, lib),
  ]);
  return {
    status: 200,
    title: `Tenant ${slug}`,
    body: tenantPage(detail, cacheKeys, actions, ctx.page),
    data: { tenant: detail, cacheKeys, actions },
  };
}

/** The tenant's cache keys on Redis (SCAN over its prefix); without REDIS_URL there is no shared cache to count. */
async function cacheKeyCount(slug: string, lib: Lib): Promise<string> {
  if (!process.env.REDIS_URL) return 'no Redis (REDIS_URL unset)';
  try {
    return String(await lib.createTenantCache(slug).count());
  } catch (error) {
    return error instanceof lib.CgkError ? `unavailable (${error.code})` : 'unavailable';
  }
}

async function migrations(ctx: ViewContext): Promise<View> {
  const { db, lib } = ctx;
  const [status, actions] = await Promise.all([lib.migrationStatus(db), lib.listOperatorActions({ db, limit: 200 })]);
  const failures = actions.filter((a) => a.action === 'migrate' && a.outcome === 'failed');
  return { status: 200, title: 'Migrations', body: migrationsPage(status, failures), data: { status, failures } };
}

async function health(ctx: ViewContext): Promise<View> {
  const report = await ctx.lib.diagnose({ db: ctx.db });
  return { status: 200, title: 'Health', body: healthPage(report), data: report };
}

async function top(ctx: ViewContext): Promise<View> {
  const { lib } = ctx;
  const source = await pageSource(ctx);
  const [bySize, byActivity] = await Promise.all([
    lib.listTenantsPage({ ...source, sort: 'size', pageSize: 20 }),
    lib.listTenantsPage({ ...source, sort: 'activity', pageSize: 20 }),
  ]);
  return {
    status: 200,
    title: 'Top tenants',
    body: topPage(bySize, byActivity),
    data: { bySize: bySize.tenants, byActivity: byActivity.tenants },
  };
}
