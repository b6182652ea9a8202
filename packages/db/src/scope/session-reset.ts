/**
 * What a tenant scope sends with its COMMIT (before it, in the same message: no extra round trip) and after
 * its ROLLBACK (same message as the ROLLBACK), so that nothing the scope did to its connection's session
 * reaches the next user of the pooled connection: another tenant's scope, code outside scopes, or, through
 * PgBouncer in transaction mode, another application process. Without it, a plain `SET search_path =
 * tenant_b` (not `SET LOCAL`) inside a scope committed with the transaction, and the next query outside any
 * scope read tenant b's tables. Sent inside the scope's own transaction (or right behind its ROLLBACK, in the
 * same Query message), the reset reaches the very server connection the scope used, also behind PgBouncer.
 *
 * - `RESET ALL`: every setting back to the connection's defaults (those of its connection string included).
 * - `SET SESSION AUTHORIZATION DEFAULT`: the session's user and role back to the login role (`RESET ALL`
 *   leaves `role` and `session_authorization` alone); any user may run it.
 * - `UNLISTEN *`, `CLOSE ALL`: channels and WITH HOLD cursors the scope opened.
 * - `DISCARD TEMP`: temporary tables. More than tidiness: `pg_temp` is searched first, so a temporary
 *   `organizations` made in a scope would shadow `public.organizations` for the connection's next user.
 * - `DISCARD SEQUENCES`: `currval()` / `lastval()` of the sequences the scope used (they outlive the
 *   transaction, even a rolled-back one).
 * - `DEALLOCATE ALL`: statements the scope `PREPARE`d by name (they outlive the transaction too). The library
 *   itself never names a prepared statement, so none of its own is lost.
 * - `SELECT pg_catalog.pg_advisory_unlock_all()`: session advisory locks the scope took (`pg_advisory_lock`,
 *   which neither COMMIT nor ROLLBACK releases): left on a pooled connection, one blocks whoever waits for it
 *   (a `cgk migrate` in another process) for as long as the connection lives. It releases session locks only:
 *   the transaction's own (`pg_advisory_xact_lock`) end with it as always. Schema-qualified, so no function the
 *   scope made can stand in for it.
 *
 * `DISCARD ALL` would do all of it, but cannot run in a transaction block nor in a multi-statement message,
 * and sent as a message of its own after COMMIT it would reach, behind PgBouncer, whichever server connection
 * PgBouncer picks, not necessarily the scope's. docs/BENCHMARKS.md ("Measurements behind choices in the code")
 * has what each statement costs: the utility commands a few microseconds together, the SELECT the most.
 *
 * Before COMMIT these run inside the transaction and commit with it; in a transaction that had failed they
 * are refused (25P02), the transaction is rolled back, and `RESET_AFTER_ROLLBACK` follows the ROLLBACK.
 */
export const RESET_BEFORE_COMMIT =
  'RESET ALL; SET SESSION AUTHORIZATION DEFAULT; UNLISTEN *; CLOSE ALL; DISCARD TEMP; DISCARD SEQUENCES; ' +
  'DEALLOCATE ALL; SELECT pg_catalog.pg_advisory_unlock_all()';

/**
 * Sent after a scope's ROLLBACK (in the same message): what a rollback does not undo. Settings, roles, LISTEN
 * and temporary tables made in the transaction are rolled back with it; WITH HOLD cursors, prepared
 * statements, sequence `currval`s and session advisory locks are not.
 */
export const RESET_AFTER_ROLLBACK = 'CLOSE ALL; DISCARD SEQUENCES; DEALLOCATE ALL; SELECT pg_catalog.pg_advisory_unlock_all()';
