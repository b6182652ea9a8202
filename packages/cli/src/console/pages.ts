import type { DoctorReport, MigrationStatusReport, OperatorAction, TenantDetail, TenantPage, TenantPageRow } from '@cgk/db';
import { barChart, bytes, count, type Html, html, lineChart, when } from './html.js';

/** What every page needs to draw its forms: whether writes are allowed, and the CSRF token they carry. */
export interface PageContext {
  allowWrites: boolean;
  csrf: string;
}

const badge = (status: string) => html`<span class="badge ${status}">${status}</span>`;

/** The query of the tenants page, kept across its links (search, filter, order, page). */
export interface TenantQuery {
  q: string;
  status: string;
  sort: string;
  dir: 'asc' | 'desc' | '';
  page: number;
}

function tenantsLink(query: TenantQuery, change: Partial<TenantQuery>): string {
  const next = { ...query, ...change };
  const params = new URLSearchParams();
  if (next.q) params.set('q', next.q);
  if (next.status) params.set('status', next.status);
  if (next.sort) params.set('sort', next.sort);
  if (next.dir) params.set('dir', next.dir);
  if (next.page > 1) params.set('page', String(next.page));
  const text = params.toString();
  return text ? `/tenants?${text}` : '/tenants';
}

const COLUMNS: { key: string; label: string; numeric?: boolean }[] = [
  { key: 'slug', label: 'Slug' },
  { key: 'name', label: 'Name' },
  { key: 'status', label: 'Status' },
  { key: 'created', label: 'Created' },
  { key: 'size', label: 'Size (est.)', numeric: true },
  { key: 'activity', label: 'Rows touched', numeric: true },
  { key: 'version', label: 'Migration', numeric: true },
];

function tenantRow(t: TenantPageRow): Html {
  return html`<tr data-slug="${t.slug}"><td><a href="/tenants/${t.slug}">${t.slug}</a></td><td>${t.name}</td>
<td>${badge(t.status)}</td><td>${when(t.createdAt)}</td><td class="n">${t.schemaExists ? bytes(t.sizeBytes) : 'no schema'}</td>
<td class="n">${count(t.activity)}</td><td class="n">${t.migrationVersion ?? '—'}</td></tr>`;
}

/** The tenants page: search, status filter, sortable columns, pagination; a create form when writes are allowed. */
export function tenantsPage(page: TenantPage, query: TenantQuery, ctx: PageContext, statsAt?: Date): Html {
  const head = COLUMNS.map((c) => {
    const active = query.sort === c.key;
    const dir = active && query.dir !== 'desc' ? 'desc' : 'asc';
    return html`<th class="${c.numeric ? 'n' : ''}"><a href="${tenantsLink(query, { sort: c.key, dir, page: 1 })}">${c.label}${
      active ? (query.dir === 'desc' ? ' ▼' : ' ▲') : ''
    }</a></th>`;
  });
  const statuses = ['', 'active', 'suspended', 'onboarding'].map(
    (s) => html`<option value="${s}" ${s === query.status ? html`selected` : ''}>${s || 'any status'}</option>`,
  );
  return html`<form method="get" action="/tenants" class="pager">
<input name="q" value="${query.q}" placeholder="search slug or name" aria-label="search">
<select name="status" aria-label="status">${statuses}</select><button type="submit">Search</button></form>
<p class="muted" id="summary">${count(page.total)} tenant${page.total === 1 ? '' : 's'}${query.q ? ` matching "${query.q}"` : ''}
 · page ${page.page} of ${page.pages}${
   statsAt ? ` · sizes and activity as of ${when(statsAt)} UTC (sampled every minute)` : ''
 }</p>
<table id="tenants"><thead><tr>${head}</tr></thead><tbody>${page.tenants.map((t) => tenantRow(t))}</tbody></table>
<div class="pager">${
    page.page > 1 ? html`<a rel="prev" href="${tenantsLink(query, { page: page.page - 1 })}">← previous</a>` : ''
  }
${page.page < page.pages ? html`<a rel="next" href="${tenantsLink(query, { page: page.page + 1 })}">next →</a>` : ''}</div>
${ctx.allowWrites ? createForm(ctx) : ''}`;
}

function createForm(ctx: PageContext): Html {
  return html`<h2>Create a tenant</h2><form method="post" action="/actions/create">
<input type="hidden" name="csrf" value="${ctx.csrf}"><input name="slug" placeholder="slug" required aria-label="slug">
<input name="name" placeholder="display name" aria-label="name">
<label><input type="checkbox" name="confirm" value="yes" required> I confirm</label> <button type="submit">Create</button>
</form>`;
}

function actionForm(action: string, slug: string, label: string, ctx: PageContext): Html {
  return html`<form method="post" action="/actions/${action}" class="inline">
<input type="hidden" name="csrf" value="${ctx.csrf}"><input type="hidden" name="slug" value="${slug}">
<label><input type="checkbox" name="confirm" value="yes" required> confirm</label> <button type="submit">${label}</button>
</form> `;
}

/** One tenant: registry, role, tables, applied migrations, cache keys, its recorded actions. */
export function tenantPage(t: TenantDetail, cacheKeys: string, actions: OperatorAction[], ctx: PageContext): Html {
  const size = t.tables.reduce((sum, table) => sum + table.sizeBytes, 0);
  const settings = JSON.stringify(t.settings, null, 2);
  const controls = ctx.allowWrites
    ? html`<h2>Actions</h2>${
        t.status === 'suspended' ? actionForm('activate', t.slug, 'Activate', ctx) : actionForm('suspend', t.slug, 'Suspend', ctx)
      }
${actionForm('migrate', t.slug, 'Migrate', ctx)}`
    : html`<p class="hint">Read-only: start the console with --allow-writes to suspend, activate or migrate.</p>`;
  return html`<div class="cards"><div class="card">Status<b>${badge(t.status)}</b></div>
<div class="card">Schema<b>${t.schema}</b>${t.schemaExists ? '' : html`<span class="badge fail">missing</span>`}</div>
<div class="card">Size<b>${bytes(size)}</b></div><div class="card">Tables<b>${t.tables.length}</b></div>
<div class="card">Cache keys<b>${cacheKeys}</b></div></div>
<h2>Registry</h2><table><tbody><tr><th>Name</th><td>${t.name}</td></tr><tr><th>Created</th><td>${when(t.createdAt)}</td></tr>
<tr><th>Updated</th><td>${when(t.updatedAt)}</td></tr><tr><th>Shopify store</th><td>${t.shopifyStoreDomain ?? '—'}</td></tr>
<tr><th>Shopify access token</th><td>${t.hasShopifyAccessToken ? 'set (encrypted, not shown)' : 'not set'}</td></tr>
<tr><th>Stripe account</th><td>${t.stripeAccountId ?? '—'}</td></tr>
<tr><th>Isolation</th><td>${t.roleMode}${
    t.role ? html` · role <code>${t.role}</code> ${t.roleExists ? '' : html`<span class="badge fail">missing</span>`}` : ''
  }</td></tr>
<tr><th>Settings</th><td><pre>${settings}</pre></td></tr></tbody></table>
${controls}
<h2>Tables</h2><table id="tables"><thead><tr><th>Table</th><th class="n">Rows (estimate)</th>
<th class="n">Size</th></tr></thead><tbody>
${t.tables.map(
  (x) => html`<tr><td>${x.name}</td>
<td class="n">${x.rowEstimate < 0 ? 'not analysed' : count(x.rowEstimate)}</td><td class="n">${bytes(x.sizeBytes)}</td></tr>`,
)}
</tbody></table>
<h2>Applied migrations</h2><table id="migrations"><thead><tr><th>Set</th><th class="n">Version</th><th>Name</th>
<th>Checksum (SHA-256)</th><th>Applied</th><th class="n">ms</th></tr></thead><tbody>
${t.migrations.map(
  (m) => html`<tr><td>${m.set}</td><td class="n">${m.version}</td><td>${m.name}</td>
<td><code>${m.checksum.slice(0, 16)}…</code></td><td>${when(m.appliedAt)}</td><td class="n">${m.durationMs ?? ''}</td></tr>`,
)}
</tbody></table>${actionsTable(actions)}`;
}

/** Recorded operator actions, newest first. */
export function actionsTable(actions: OperatorAction[]): Html {
  if (actions.length === 0) return html``;
  return html`<h2>Recorded actions</h2><table id="actions"><thead><tr><th>When</th><th>Action</th><th>Tenant</th>
<th>By</th><th>Outcome</th><th>Detail</th></tr></thead><tbody>
${actions.map(
  (a) => html`<tr><td>${when(a.at)}</td><td>${a.action}</td><td>${a.tenant ?? ''}</td><td>${a.actor}</td>
<td>${badge(a.outcome === 'ok' ? 'ok' : 'fail')}</td><td>${a.detail ?? ''}</td></tr>`,
)}
</tbody></table>`;
}

/** Fleet migrations: the public schema, the fleet's counts, the tenants not up to date, migration failures recorded. */
export function migrationsPage(status: MigrationStatusReport, failures: OperatorAction[]): Html {
  const fleet = status.tenants;
  const pub = status.public;
  return html`<div class="cards"><div class="card">Latest tenant migration<b>${fleet.latest}</b></div>
<div class="card">Tenants<b>${count(fleet.total)}</b></div><div class="card">Up to date<b>${count(fleet.upToDate)}</b></div>
<div class="card">Behind<b>${count(fleet.pending)}</b></div><div class="card">Changed<b>${count(fleet.changed)}</b></div>
<div class="card">Ahead<b>${count(fleet.ahead)}</b></div></div>
<h2>Public schema</h2><p>${pub.applied.length} applied, ${pub.pending.length} pending${pub.upToDate ? ' · up to date' : ''}</p>
${pub.pending.length ? html`<ul>${pub.pending.map((p) => html`<li>${p.filename}</li>`)}</ul>` : ''}
<h2>Tenants not up to date</h2>${
    fleet.tenants.length === 0
      ? html`<p class="muted">Every tenant is up to date.</p>`
      : html`<table id="behind"><thead><tr><th>Tenant</th><th class="n">Version</th><th>Reason</th>
<th>Pending files</th></tr></thead><tbody>
${fleet.tenants.slice(0, 500).map(
  (t) => html`<tr><td><a href="/tenants/${t.slug}">${t.slug}</a></td>
<td class="n">${t.version ?? '—'}</td>
<td>${badge(t.reason === 'behind' || t.reason === 'new' ? 'warn' : 'fail')} ${t.reason}</td>
<td>${t.pending.join(', ')}</td></tr>`,
)}
</tbody></table>`
  }
<h2>Failed migrations (recorded by the console)</h2>${
    failures.length ? actionsTable(failures) : html`<p class="muted">None recorded.</p>`
  }`;
}

/** Health: every check of `cgk doctor`. */
export function healthPage(report: DoctorReport): Html {
  return html`<p>${report.ok ? html`${badge('ok')} No check failed.` : html`${badge('fail')} At least one check failed.`}
<span class="muted">(${report.durationMs} ms)</span></p>
<table id="checks"><thead><tr><th>Check</th><th>Status</th><th>Detail</th><th>Hint</th></tr></thead><tbody>
${report.checks.map(
  (c) => html`<tr><td>${c.name}</td><td>${badge(c.status)}</td><td>${c.detail}</td>
<td>${c.hint ?? ''}</td></tr>`,
)}
</tbody></table>`;
}

/** Top tenants by size and by rows touched, as bar charts and tables. */
export function topPage(bySize: TenantPage, byActivity: TenantPage): Html {
  const sizeBars = bySize.tenants
    .filter((t) => t.sizeBytes > 0)
    .map((t) => ({ label: t.slug, value: t.sizeBytes, text: bytes(t.sizeBytes) }));
  const activityBars = byActivity.tenants
    .filter((t) => t.activity > 0)
    .map((t) => ({ label: t.slug, value: t.activity, text: count(t.activity) }));
  return html`<h2>Largest tenants</h2>${barChart(sizeBars, 'largest tenants')}
<h2>Busiest tenants (rows read and written since the statistics were reset)</h2>${barChart(activityBars, 'busiest tenants')}`;
}

/** The overview: counts by status, fleet migrations, the largest tenants, activity over the last hour. */
export function overviewPage(
  byStatus: Record<string, number>,
  status: MigrationStatusReport,
  largest: TenantPage,
  activity: { at: Date; value: number }[],
): Html {
  const fleet = status.tenants;
  const cards = Object.entries(byStatus).map(([s, n]) => html`<div class="card">${s}<b>${count(n)}</b></div>`);
  return html`<div class="cards">${cards}<div class="card">migrations behind<b>${count(fleet.pending)}</b></div>
<div class="card">changed or ahead<b>${count(fleet.changed + fleet.ahead)}</b></div></div>
<h2>Activity over the last hour (rows read and written per minute, every tenant)</h2>
${lineChart(activity, 'activity', 'rows/min')}
<h2>Largest tenants</h2>${barChart(
    largest.tenants.filter((t) => t.sizeBytes > 0).map((t) => ({ label: t.slug, value: t.sizeBytes, text: bytes(t.sizeBytes) })),
    'largest tenants',
  )}`;
}
