import { createHash, createHmac, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { ConfigError } from '../errors/index.js';

/**
 * Credentials of tenant roles in the `login` isolation mode (docs/ISOLATION.md), derived from one secret so
 * that nothing per tenant is stored anywhere in plain text:
 *   password(role) = base64url(HMAC-SHA256(secret, "cgk-tenant-role:" + role))
 * The server stores only a SCRAM-SHA-256 verifier of it, computed here (`scramVerifier`) and sent as
 * `PASSWORD 'SCRAM-SHA-256$...'`, so the password itself never travels in SQL nor reaches a server log.
 * The verifier's salt is derived from the secret too, so `tenant:repair` with an unchanged secret writes the
 * same verifier (idempotent), and a changed secret (rotation) writes a new one.
 */

const pbkdf2Async = promisify(pbkdf2);

/** Iterations of the verifier: PostgreSQL's own default (`scram_iterations`). */
export const SCRAM_ITERATIONS = 4096;

/** The shortest secret accepted: 32 characters (e.g. `openssl rand -base64 32` gives 44). */
export const MIN_SECRET_LENGTH = 32;

/** The environment variable that holds the secret. */
export const SECRET_ENV = 'CGK_TENANT_ROLE_SECRET';

const SECRET_HINT =
  `Set ${SECRET_ENV} (at least ${MIN_SECRET_LENGTH} characters, e.g. the output of: openssl rand -base64 32) to the same ` +
  'value in every process of the application and in the CLI, or pass tenantRoleSecret in code; then run ' +
  'npx @cgk/cli tenant:repair so every tenant role gets its password. Or use CGK_TENANT_ROLES=set-role.';

/**
 * The secret for login mode: `given` (code) or `CGK_TENANT_ROLE_SECRET`. Throws `ConfigError` when it is
 * missing or shorter than 32 characters: login mode never runs with a guessable or absent secret.
 */
export function requireTenantRoleSecret(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const secret = given ?? env[SECRET_ENV]?.trim();
  if (!secret) {
    throw new ConfigError(`Tenant roles are in login mode but no secret is set (${SECRET_ENV})`, SECRET_HINT);
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      `${SECRET_ENV} is ${secret.length} characters long; login mode needs at least ${MIN_SECRET_LENGTH}`,
      SECRET_HINT,
    );
  }
  return secret;
}

/** The environment variable of former secrets, during a rotation. */
export const FORMER_SECRETS_ENV = 'CGK_TENANT_ROLE_SECRETS_OLD';

/**
 * Former secrets, tried after the current one while a rotation is under way: `given` (code) or the
 * comma-separated `CGK_TENANT_ROLE_SECRETS_OLD`; empty when there are none.
 */
export function formerTenantRoleSecrets(given: string[] | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const list = given ?? (env[FORMER_SECRETS_ENV] ?? '').split(',');
  return list.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The password of tenant role `role` under `secret` (what a scope's connection logs in with). */
export function tenantRolePassword(secret: string, role: string): string {
  return createHmac('sha256', secret).update(`cgk-tenant-role:${role}`).digest('base64url');
}

/** The verifier's salt: 16 bytes derived from the secret and the role (stable for one secret). */
function verifierSalt(secret: string, role: string): Buffer {
  return createHmac('sha256', secret).update(`cgk-tenant-role-salt:${role}`).digest().subarray(0, 16);
}

/**
 * The SCRAM-SHA-256 verifier of `password` with `salt`, in the form PostgreSQL stores and accepts in
 * `CREATE/ALTER ROLE ... PASSWORD` (RFC 5802, 7677): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
 * The password must be ASCII without control characters (ours are base64url), so SASLprep leaves it as is.
 */
export async function scramVerifier(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): Promise<string> {
  const salted = await pbkdf2Async(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (buffer: Buffer) => buffer.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/** The verifier `tenant:repair` and `createTenant` give `role` under `secret`. */
export function tenantRoleVerifier(secret: string, role: string): Promise<string> {
  return scramVerifier(tenantRolePassword(secret, role), verifierSalt(secret, role));
}
