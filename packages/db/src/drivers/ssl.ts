/** The node-postgres settings a connection string's libpq SSL parameters turn into. */
export interface PgSslSettings {
  /** The connection string to hand to node-postgres. */
  connectionString: string;
  /** From libpq's `channel_binding`: use SCRAM-SHA-256-PLUS when the server offers it. */
  enableChannelBinding?: boolean;
}

const ALIASES_OF_VERIFY_FULL = new Set(['prefer', 'require', 'verify-ca']);

/**
 * Reads `sslmode` and `channel_binding` as node-postgres 8 does, without its warning. node-postgres treats
 * `sslmode=prefer|require|verify-ca` as `verify-full` (the server's certificate is checked) and prints a
 * 9-line SECURITY WARNING saying so on every process that parses such a URL; every Neon URL carries
 * `sslmode=require`. Writing `verify-full` keeps exactly that behaviour (the stricter one) and prints nothing.
 * `uselibpqcompat=true` (libpq's weaker reading, asked for explicitly) is left as it is. `channel_binding`
 * (libpq; Neon's URLs say `require`) becomes node-postgres' `enableChannelBinding`.
 */
export function pgSslSettings(connectionString: string): PgSslSettings {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return { connectionString };
  }
  const params = url.searchParams;
  const sslmode = params.get('sslmode');
  if (sslmode !== null && ALIASES_OF_VERIFY_FULL.has(sslmode) && params.get('uselibpqcompat') !== 'true') {
    params.set('sslmode', 'verify-full');
  }
  const binding = params.get('channel_binding');
  params.delete('channel_binding');
  const settings: PgSslSettings = { connectionString: url.toString() };
  if (binding !== null) settings.enableChannelBinding = binding !== 'disable';
  return settings;
}
