import { once } from 'node:events';
import type { FleetRunInfo, SqlTaskResult, TenantResult } from '@cgk/db';
import { lib } from '../lib.js';
import { type Output, duration, errorJson, oneLine, plural } from '../output.js';
import { ProgressBar } from '../progress.js';

/**
 * What `tenant:exec` prints, streamed as the tenants finish: nothing is held per tenant, so the output of a
 * run over 10,000 tenants costs the memory of one. `--json`: ONE document written piece by piece
 * (`{"run": ..., "tenants": [ ...one object per tenant... ], "succeeded", "failed", "durationMs", "ok", "error"?}`);
 * text: one line per tenant on stdout (a statement's rows under it, the first 10), a bar on a terminal.
 */

/** Rows shown per tenant in text mode. */
const ROWS_SHOWN = 10;

/** Writes to stdout, waiting when the pipe is full (a slow reader holds the run back, not memory). */
async function write(out: Output, text: string): Promise<void> {
  const stdout = out.streams.stdout as NodeJS.WritableStream & { writableNeedDrain?: boolean };
  if (!stdout.write(lib().redactSecrets(text)) && typeof (stdout as { once?: unknown }).once === 'function') {
    await once(stdout as NodeJS.EventEmitter, 'drain');
  }
}

/** A tenant's result as JSON: rows or rowCount, its duration, or its error's code, message and hint. */
function tenantJson(r: TenantResult<unknown>, sql: boolean): Record<string, unknown> {
  const base = { slug: r.slug, ok: r.ok, durationMs: Math.round(r.durationMs) };
  if (!r.ok) return { ...base, error: r.error ? errorJson(r.error) : { code: 'CGK_UNEXPECTED', message: 'unknown error' } };
  if (!sql) return { ...base, value: r.value ?? null };
  const v = r.value as SqlTaskResult;
  return { ...base, command: v.command, rowCount: v.rowCount, rows: v.rows, statements: v.statements };
}

/** A tenant's result for humans: `slug  ok  UPDATE 3  (4 ms)`, and a statement's rows indented below. */
function tenantLines(r: TenantResult<unknown>, sql: boolean): string[] {
  const took = `(${duration(r.durationMs)})`;
  if (!r.ok) return [`${r.slug}  FAILED  ${oneLine(r.error ? `${r.error.code}: ${r.error.message}` : 'unknown error')}  ${took}`];
  if (!sql) return [`${r.slug}  ok  ${JSON.stringify(r.value ?? null)?.slice(0, 200)}  ${took}`];
  const v = r.value as SqlTaskResult;
  const lines = [`${r.slug}  ok  ${v.command} ${v.rowCount}  ${took}`];
  for (const row of v.rows.slice(0, ROWS_SHOWN)) lines.push(`  ${JSON.stringify(row)}`);
  if (v.rows.length > ROWS_SHOWN) lines.push(`  ... and ${v.rows.length - ROWS_SHOWN} more rows (--json has them all)`);
  return lines;
}

/** The report of one run. */
export class ExecReport {
  readonly bar: ProgressBar;
  #done = 0;
  #first = true;
  #total = 0;
  succeeded = 0;
  failed: string[] = [];
  run: FleetRunInfo | undefined;

  constructor(
    private readonly out: Output,
    /** SQL results (rows, rowCount) rather than a module's values. */
    private readonly sql: boolean,
  ) {
    this.bar = new ProgressBar(out, 'tenant:exec');
  }

  /** The run started: its id on stderr (what to resume), and the JSON document's head. */
  async start(run: FleetRunInfo, requested: number): Promise<void> {
    this.run = run;
    this.#total = run.total;
    const { out } = this;
    if (run.concurrency < requested) {
      out.note(
        `--concurrency ${requested} is above what the connection pool allows: ${run.concurrency} tenants at a time ` +
          "(one connection per tenant, plus the run's lock and records; pool_max in DATABASE_URL sets it)",
      );
    }
    const what = `${run.resumed ? 'resuming run' : 'run'} ${run.id ?? '(not recorded)'}: ${plural(run.total, 'tenant')}`;
    out.note(`${what}, ${run.concurrency} at a time${run.id ? ` (to resume it: --resume ${run.id})` : ''}`);
    if (out.json) {
      out.claimJson();
      await write(out, `{\n"run": ${JSON.stringify(run)},\n"tenants": [`);
    }
  }

  /** One tenant finished. */
  async tenant(r: TenantResult<unknown>): Promise<void> {
    this.#done++;
    if (r.ok) this.succeeded++;
    else this.failed.push(r.slug);
    if (this.out.json) {
      await write(this.out, `${this.#first ? '\n' : ',\n'}${JSON.stringify(tenantJson(r, this.sql))}`);
      this.#first = false;
    } else {
      if (this.out.streams.stdout.isTTY) this.bar.clear();
      await write(this.out, `${tenantLines(r, this.sql).join('\n')}\n`);
    }
    this.bar.update(this.#done, this.#total, r.slug);
  }

  /** The run ended (`error`: the run's own failure, or the tenants that failed); resolves to the exit code. */
  async end(durationMs: number, error: unknown): Promise<number> {
    this.bar.clear();
    const { out } = this;
    const summary = { succeeded: this.succeeded, failed: this.failed.length, durationMs: Math.round(durationMs) };
    if (out.json) {
      const failure = error instanceof Error ? error : new Error(String(error));
      const tail = error === undefined ? ',\n"ok": true' : `,\n"ok": false,\n"error": ${JSON.stringify(errorJson(failure))}`;
      const counts = Object.entries(summary).map(([k, v]) => `"${k}": ${v}`);
      await write(out, `\n],\n${counts.join(',\n')}${tail}\n}\n`);
    } else {
      const id = this.run?.id;
      const tail = this.failed.length > 0 && id ? ` (rerun the others: add --resume ${id})` : '';
      await write(
        out,
        `${this.succeeded} succeeded, ${this.failed.length} failed, of ${plural(this.#done, 'tenant')} ` +
          `(${duration(durationMs)})${tail}\n`,
      );
    }
    return error === undefined ? 0 : out.error(error);
  }
}

/** Lines of a dry run written at once: one write per page of tenants, not one per tenant. */
const DRY_RUN_CHUNK = 500;

/** `--dry-run`: the tenants the run would cover, streamed (written a chunk of lines at a time). */
export class DryRunReport {
  #count = 0;
  #pending: string[] = [];

  constructor(private readonly out: Output) {}

  async start(): Promise<void> {
    if (!this.out.json) return;
    this.out.claimJson();
    await write(this.out, '{\n"dryRun": true,\n"tenants": [');
  }

  async tenant(t: { slug: string; schema: string; found: boolean }): Promise<void> {
    const first = this.#count++ === 0;
    if (this.out.json) this.#pending.push(`${first ? '\n' : ',\n'}${JSON.stringify(t)}`);
    else this.#pending.push(`${t.slug}${t.found ? '' : '  (not a tenant: would fail with CGK_TENANT_NOT_FOUND)'}\n`);
    if (this.#pending.length >= DRY_RUN_CHUNK) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    await write(this.out, text);
  }

  async end(): Promise<number> {
    await this.#flush();
    if (this.out.json) await write(this.out, `\n],\n"total": ${this.#count},\n"ok": true\n}\n`);
    else await write(this.out, `${plural(this.#count, 'tenant')} would run (dry run: nothing was sent to any tenant)\n`);
    return 0;
  }
}
