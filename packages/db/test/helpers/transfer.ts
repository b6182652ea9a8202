import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/index.js';
import { DEFAULT_TENANT_DIR } from '../../src/migrations/runner.js';

/**
 * Fixtures of the export / import / move tests: the platform's tenant migrations plus one more file with the
 * column types the template does not use (bytea, numeric, interval, arrays of other types), and rows in every
 * table kind with NULLs, unicode, escapes, jsonb and arrays.
 */

export const KITCHEN_SINK_SQL = `-- Test only: the column types the template does not use.
CREATE TABLE kitchen_sink (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  blob      bytea,
  amount    numeric(20, 6),
  ratio     double precision,
  span      interval,
  counts    integer[],
  docs      jsonb[],
  addr      inet,
  day       date,
  clock     time,
  doubled   bigint GENERATED ALWAYS AS (id * 2) STORED,
  note      text
);
CREATE INDEX kitchen_sink_note_idx ON kitchen_sink (note);
COMMENT ON INDEX kitchen_sink_note_idx IS 'kept across an import';
`;

/** A directory with the built-in tenant migrations plus `014_kitchen_sink.sql`. */
export async function tenantDirWithKitchenSink(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cgk-transfer-'));
  await cp(DEFAULT_TENANT_DIR, dir, { recursive: true });
  const next = (await import('node:fs')).readdirSync(dir).filter((f) => f.endsWith('.sql')).length + 1;
  await writeFile(join(dir, `${String(next).padStart(3, '0')}_kitchen_sink.sql`), KITCHEN_SINK_SQL);
  return dir;
}

/** Rows in the tenant's tables: `n` customers, orders (two line items each), products, variants, creators, payouts, reviews, posts. */
export async function fillTenant(db: Database, slug: string, n: number, kitchenSink = true): Promise<void> {
  await db.withTenant(slug, async (sql) => {
    await sql.query(`insert into customers (email, first_name, last_name, phone, tags, default_address, accepts_marketing,
        orders_count, total_spent_cents, currency, note, first_order_at)
      select 'c' || g || '@example.com', case when g % 3 = 0 then null else 'Zoë ' || g || ' 日本 🚀' end,
        E'O''Brien\\\\tTab', null, array['t' || g, 'with,comma', 'quote"d', E'back\\\\slash', null, ''],
        case when g % 2 = 0 then jsonb_build_object('line', E'1 rue \\u00e9t\\u00e9\\n2nd', 'n', g, 'nested', jsonb_build_array(1, null, 'x'))
        end, g % 2 = 0, g, g * 100, 'EUR', E'multi\\nline\\r\\nnote \\\\N', now() - g * interval '1 day'
      from generate_series(1, ${n}) g`);
    await sql.query(`insert into orders (customer_id, email, currency, total_cents, subtotal_cents, discount_codes, tags,
        shipping_address, note, placed_at, status, financial_status)
      select c.id, c.email, 'EUR', 1000 + row_number() over (), 900, array['SPRING'], '{}', c.default_address, c.note,
        c.first_order_at, 'open', 'paid' from customers c`);
    await sql.query(`insert into products (handle, title, tags, status)
      select 'p-' || g, 'Product ' || g || ' ü', array['x'], 'active' from generate_series(1, ${Math.max(1, n / 5)}) g`);
    await sql.query(`insert into product_variants (product_id, title, price_cents, currency, selected_options, inventory_quantity)
      select id, 'Default', 500, 'EUR', '{"size": "M"}', null from products`);
    await sql.query(`insert into order_line_items (order_id, product_id, variant_id, title, quantity, unit_price_cents, total_cents, currency)
      select o.id, p.id, v.id, 'Line ' || k, k, 500, 500 * k, 'EUR'
      from orders o cross join generate_series(1, 2) k
      join lateral (select id from products order by handle limit 1) p on true
      join lateral (select id from product_variants where product_id = p.id limit 1) v on true`);
    await sql.query(`insert into creators (email, display_name, social_profiles, status)
      select 'cr' || g || '@example.com', 'Créatrice ' || g, '{"ig": "@x"}', 'active' from generate_series(1, 3) g`);
    await sql.query(`insert into payouts (creator_id, amount_cents, currency, method, period_start, period_end, status, paid_at)
      select id, 1234, 'EUR', 'paypal', date '2026-01-01', date '2026-01-31', 'paid', now() from creators`);
    await sql.query(`insert into reviews (product_id, rating, title, body, author_name, status)
      select id, 5, null, E'Great \\u2014 "really"', 'Ana', 'approved' from products`);
    await sql.query(`insert into blog_posts (slug, title, content, tags, status, published_at)
      values ('hello-world', 'Hello', E'Body with \\\\ and \\t', array['news'], 'published', now())`);
    if (kitchenSink) {
      await sql.query(`insert into kitchen_sink (blob, amount, ratio, span, counts, docs, addr, day, clock, note)
        select decode(md5(g::text) || '00ff5c0a', 'hex'), g * 1.000001, g / 3.0, g * interval '90 minutes',
          array[g, null, -g], array['{"a":1}'::jsonb, 'null'::jsonb], '10.0.0.1'::inet, date '2026-12-06', time '23:59:59.5',
          case when g % 2 = 0 then null else E'\\\\x00 not a byte' end
        from generate_series(1, ${n}) g`);
    }
  });
}

/** Per table of the tenant: its rows in a fixed order, as one md5 (independent of physical order). */
export async function contentDigest(db: Database, slug: string): Promise<Record<string, string>> {
  const { rows } = await db.sql<{ name: string }>`select relname::text as name from pg_class
    where relnamespace = to_regnamespace(${`tenant_${slug}`}) and relkind = 'r' and relname <> 'schema_migrations'
    order by relname`;
  const out: Record<string, string> = {};
  for (const { name } of rows) {
    const { rows: d } = await db.sql.query<{ md5: string; n: number }>(
      `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5, count(*)::int as n from tenant_${slug}.${name} t`,
    );
    out[name] = `${d[0]!.n}:${d[0]!.md5}`;
  }
  return out;
}
