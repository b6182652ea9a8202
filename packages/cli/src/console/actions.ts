import type { IncomingMessage } from 'node:http';
import { fromOwnPage } from './auth.js';
import { type Html, html } from './html.js';
import type { ConsoleOptions } from './types.js';

/** What a POST answers: a redirect to the page it changed, or a page saying why nothing was done. */
export type ActionOutcome = { status: 303; location: string } | { status: number; title: string; body: Html };

const ACTIONS = new Set(['create', 'suspend', 'activate', 'migrate']);

function refused(status: number, title: string, message: string): ActionOutcome {
  return { status, title, body: html`<p>${message}</p><p><a href="/tenants">Tenants</a></p>` };
}

/**
 * Runs one operator action (create, suspend, activate or migrate a tenant) after checking its CSRF token and
 * its confirmation, and records it, succeeded or failed, in public.operator_actions. Nothing is changed when
 * a check fails. The caller has already checked the access token and that writes are allowed.
 */
export async function performAction(
  path: string,
  form: URLSearchParams,
  request: IncomingMessage,
  options: ConsoleOptions,
): Promise<ActionOutcome> {
  const action = path.startsWith('/actions/') ? path.slice('/actions/'.length) : '';
  if (!ACTIONS.has(action)) return refused(404, 'Not found', `There is no action ${path}.`);
  if (!fromOwnPage(request, form, options.token)) {
    return refused(403, 'Forbidden', 'This form did not come from the console (missing or wrong CSRF token): nothing was done.');
  }
  if (form.get('confirm') !== 'yes') return refused(400, 'Not confirmed', 'Tick "confirm" to do this: nothing was done.');
  const slug = (form.get('slug') ?? '').trim();
  const { lib, db, actor } = options;
  try {
    lib.assertValidSlug(slug);
    const detail = await run(action, slug, form, options);
    await lib.recordOperatorAction({ action, tenant: slug, actor, outcome: 'ok', detail }, { db });
    return { status: 303, location: `/tenants/${encodeURIComponent(slug)}` };
  } catch (error) {
    const message = error instanceof lib.CgkError ? error.toLine() : 'unexpected error (see the terminal)';
    const valid = lib.isValidSlug(slug);
    await lib
      .recordOperatorAction({ action, ...(valid ? { tenant: slug } : {}), actor, outcome: 'failed', detail: message }, { db })
      .catch(() => undefined);
    return refused(error instanceof lib.CgkError && error.code !== 'CGK_QUERY' ? 400 : 500, `${action} failed`, message);
  }
}

async function run(action: string, slug: string, form: URLSearchParams, options: ConsoleOptions): Promise<string> {
  const { lib, db } = options;
  if (action === 'create') {
    const name = (form.get('name') ?? '').trim();
    const result = await lib.createTenant({ slug, ...(name ? { name } : {}) }, { db });
    return `created with ${result.migrationsApplied} migrations in ${Math.round(result.durationMs)} ms`;
  }
  if (action === 'suspend') return `status ${(await lib.suspendTenant(slug, { db })).status}`;
  if (action === 'activate') return `status ${(await lib.activateTenant(slug, { db })).status}`;
  const result = lib.throwIfFailed(await lib.migrateTenant(db, slug));
  const applied = result.results.filter((r) => r.status === 'Success').length;
  return `${applied} migration${applied === 1 ? '' : 's'} applied`;
}
