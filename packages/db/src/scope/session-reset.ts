/**
 * What a tenant scope sends with its COMMIT (before it, in the same message: no extra round trip) and after
 * its ROLLBACK, so that nothing the scope did to its connection's session reaches the next user of the
 * pooled connection. Without it, a plain `SET search_path = tenant_b` (not `SET LOCAL`) inside a scope
 * committed with the transaction, and the next query outside any scope read tenant b's tables.
 *
 * - `RESET ALL`: every setting back to the connection's defaults (those of its connection string included).
 * - `SET SESSION AUTHORIZATION DEFAULT`: the session's user and role back to the login role (`RESET ALL`
 *   leaves `role` and `session_authorization` alone); any user may run it.
 * - `UNLISTEN *`, `CLOSE ALL`: channels and WITH HOLD cursors the scope opened.
 * - `DISCARD TEMP`: temporary tables. More than tidiness: `pg_temp` is searched first, so a temporary
 *   `organizations` made in a scope would shadow `public.organizations` for the connection's next user.
 * These five are utility commands and cost little on the server (docs/BENCHMARKS.md, "Measurements behind
 * choices in the code"). Not undone after a COMMIT: session advisory locks (`select pg_advisory_unlock_all()`
 * is a SELECT, which costs more than the five together; it is sent after a ROLLBACK, the rare path), `PREPARE`d statements
 * (`DEALLOCATE ALL` would also drop the driver's own) and sequence `currval`s. `DISCARD ALL` would do all of
 * it but cannot run in a transaction block nor in a multi-statement message.
 *
 * Before COMMIT these run inside the transaction and commit with it; in a transaction that had failed they
 * are refused and the transaction rolls back, undoing whatever it set anyway. After a ROLLBACK only what is
 * not transactional can remain: session advisory locks and WITH HOLD cursors.
 */
export const RESET_BEFORE_COMMIT = 'RESET ALL; SET SESSION AUTHORIZATION DEFAULT; UNLISTEN *; CLOSE ALL; DISCARD TEMP';

/** Sent after a scope's ROLLBACK: what a rollback does not undo. */
export const RESET_AFTER_ROLLBACK = 'CLOSE ALL; SELECT pg_advisory_unlock_all()';
