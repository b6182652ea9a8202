import { lib } from './lib.js';

const redactSecrets = (text: string) => lib().redactSecrets(text);
const asCgkError = (error: unknown) => (error instanceof lib().CgkError ? error : undefined);

/**
 * Everything the CLI prints goes through here, so the two contracts hold in one place:
 * - text mode: results on stdout, notes and errors on stderr, one line per error (a stack only with --verbose);
 * - `--json`: exactly one JSON document on stdout, `{ "ok": true, ... }` or `{ "ok": false, "error": {...} }`;
 *   notes, progress and the error line still go to stderr, for the human watching.
 */

/** Where the CLI writes; the process streams by default, replaceable in tests. */
export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** The exit codes: 0 success, 1 failure, 2 usage error (unknown command or option, missing argument). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class Output {
  #sentJson = false;

  constructor(
    readonly json: boolean,
    readonly verbose: boolean,
    readonly streams: Streams = { stdout: process.stdout, stderr: process.stderr },
  ) {}

  /** True when stderr is a terminal: progress may redraw one line instead of printing many. */
  get interactive(): boolean {
    return this.streams.stderr.isTTY === true;
  }

  /** A note for the human (stderr, prefixed `cgk: `), in both modes. */
  note(line: string): void {
    this.streams.stderr.write(`cgk: ${redactSecrets(line)}\n`);
  }

  /** Raw text on stderr (progress); nothing is added. */
  progress(text: string): void {
    this.streams.stderr.write(text);
  }

  /**
   * The command's result: in JSON mode `{ ok: true, ...doc }` on stdout, otherwise the lines `text()` gives.
   * Call once per command.
   */
  result(doc: Record<string, unknown>, text: () => string | string[]): void {
    if (this.json) {
      this.#writeJson({ ok: true, ...doc });
      return;
    }
    const lines = text();
    const body = (Array.isArray(lines) ? lines : [lines]).join('\n');
    if (body !== '') this.streams.stdout.write(`${redactSecrets(body)}\n`);
  }

  /** Lines on stdout in text mode only (e.g. a partial summary before an error); nothing in JSON mode. */
  text(lines: string[]): void {
    if (!this.json && lines.length > 0) this.streams.stdout.write(`${redactSecrets(lines.join('\n'))}\n`);
  }

  /**
   * Reports a failure and returns the exit code (1). A `CgkError` prints `error CODE: message (hint: ...)`;
   * anything else prints its message; `--verbose` adds the stack and causes. Passwords are redacted.
   * `details` (JSON mode only) carries partial results, e.g. the per-tenant report of a failed migrate.
   */
  error(error: unknown, details: Record<string, unknown> = {}): number {
    const err = error instanceof Error ? error : new Error(String(error));
    const cgk = asCgkError(error);
    const line = cgk
      ? `error ${cgk.code}: ${cgk.toLine()}`
      : `error: ${oneLine(err.message)}${this.verbose ? '' : ' (run with --verbose for the stack trace)'}`;
    this.streams.stderr.write(`${redactSecrets(oneLine(line))}\n`);
    if (this.verbose) this.streams.stderr.write(`${redactSecrets(stackOf(err))}\n`);
    if (this.json) {
      this.#writeJson({
        ok: false,
        ...details,
        error: errorJson(err),
      });
    }
    return EXIT_FAILURE;
  }

  /** A usage error (commander's message, e.g. "unknown option '--x'"): one line, exit code 2. */
  usage(message: string): number {
    const text = oneLine(message.replace(/^error:\s*/i, ''));
    this.streams.stderr.write(`cgk: usage error: ${redactSecrets(text)} (see: npx @cgk/cli --help)\n`);
    if (this.json) this.#writeJson({ ok: false, error: { code: 'CGK_USAGE', message: redactSecrets(text) } });
    return EXIT_USAGE;
  }

  /**
   * For a command that streams its one JSON document itself (results of thousands of tenants are not held
   * in memory): the document counts as sent, so a later `error()` prints only its stderr line.
   */
  claimJson(): void {
    this.#sentJson = true;
  }

  #writeJson(doc: Record<string, unknown>): void {
    if (this.#sentJson) return;
    this.#sentJson = true;
    // Redacted as a whole, as text mode is: a connection string anywhere in a result never shows its password.
    this.streams.stdout.write(`${redactSecrets(JSON.stringify(doc, null, 2))}\n`);
  }
}

/** Formats rows as aligned columns (two spaces apart), the header first. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format)];
}

/** `1 tenant`, `2 tenants`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** Milliseconds for humans: `850 ms`, `2.4 s`. */
export function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The JSON shape of an error: `{ code, message, hint? }` (code `CGK_UNEXPECTED` for non-platform errors). */
export function errorJson(error: Error): { code: string; message: string; hint?: string } {
  const cgk = asCgkError(error);
  return { code: cgk?.code ?? 'CGK_UNEXPECTED', message: redactSecrets(error.message), ...(cgk?.hint ? { hint: cgk.hint } : {}) };
}

/** Several lines as one, for one-line error output. */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' ');
}

function stackOf(error: Error): string {
  const parts = [error.stack ?? String(error)];
  let cause = (error as { cause?: unknown }).cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    parts.push(`Caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
    cause = cause instanceof Error ? (cause as { cause?: unknown }).cause : undefined;
  }
  return parts.join('\n');
}
